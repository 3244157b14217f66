package bolt

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/orbit-sidecar/orbit/store"
	bbolt "go.etcd.io/bbolt"
)

var _ store.Dumper = (*DB)(nil)

// EachPending calls fn with every kept event, in key order: by instance,
// name, then seq. Like the other scans it calls fn outside any
// transaction.
func (db *DB) EachPending(fn func(store.PendingEvent) error) error {
	return db.scan(bPending, nil, func(k, v []byte) error {
		p, ok := parsePendingKey(k)
		if !ok {
			return fmt.Errorf("malformed pending event key %x", k)
		}
		p.Payload = bytes.Clone(v)
		return fn(p)
	})
}

// parsePendingKey reads a pending key, instance 0x00 name 0x00 seq, back
// into an event without its payload.
func parsePendingKey(k []byte) (store.PendingEvent, bool) {
	i := bytes.IndexByte(k, sep)
	if i <= 0 || len(k) < i+1+1+1+8 || k[len(k)-9] != sep {
		return store.PendingEvent{}, false
	}
	return store.PendingEvent{
		Instance: string(k[:i]),
		Name:     string(k[i+1 : len(k)-9]),
		Seq:      binary.BigEndian.Uint64(k[len(k)-8:]),
	}, true
}

// EachKV calls fn with every plugin value, by namespace, then key. The
// values of one namespace are copied out in one read transaction and fn
// runs outside it, so fn may write.
func (db *DB) EachKV(fn func(ns, key string, value []byte) error) error {
	var names []string
	if err := db.bolt.View(func(tx *bbolt.Tx) error {
		return bucket(tx, bKV).ForEachBucket(func(k []byte) error {
			names = append(names, string(k))
			return nil
		})
	}); err != nil {
		return err
	}
	for _, ns := range names {
		var keys []string
		var values [][]byte
		if err := db.bolt.View(func(tx *bbolt.Tx) error {
			b := bucket(tx, bKV).Bucket([]byte(ns))
			if b == nil {
				return nil // dropped meanwhile
			}
			return b.ForEach(func(k, v []byte) error {
				keys = append(keys, string(k))
				values = append(values, bytes.Clone(v))
				return nil
			})
		}); err != nil {
			return err
		}
		for i, key := range keys {
			if err := fn(ns, key, values[i]); err != nil {
				return err
			}
		}
	}
	return nil
}
