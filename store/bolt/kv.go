package bolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/orbit-sidecar/orbit/store"
	bbolt "go.etcd.io/bbolt"
)

// KVGet reads a plugin's value.
func (db *DB) KVGet(ns, key string) ([]byte, error) {
	if v, err, ok := db.ov.kvValue(ns, key); ok {
		return v, err
	}
	var out []byte
	err := db.view(func(tx *bbolt.Tx) error {
		b := bucket(tx, bKV).Bucket([]byte(ns))
		if b == nil {
			return store.ErrNotFound
		}
		v := b.Get([]byte(key))
		if v == nil {
			return store.ErrNotFound
		}
		out = bytes.Clone(v)
		return nil
	})
	return out, err
}

// KVUsage sums the lengths of a namespace's keys and values.
func (db *DB) KVUsage(ns string) (int64, error) {
	db.caughtUp()
	var n int64
	err := db.view(func(tx *bbolt.Tx) error {
		b := bucket(tx, bKV).Bucket([]byte(ns))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			n += int64(len(k) + len(v))
			return nil
		})
	})
	return n, err
}

// KVPut writes a plugin's value; a nil value deletes the key. It goes
// through the committer, so it shares fsyncs with checkpoints.
func (db *DB) KVPut(ns, key string, value []byte) error {
	if ns == "" || key == "" {
		return errors.New("kv: namespace and key must not be empty")
	}
	if len(ns) > maxName || len(key) > maxName {
		return fmt.Errorf("kv: namespace of %d bytes or key of %d bytes: longer than %d", len(ns), len(key), maxName)
	}
	j := getJob()
	kv := encKV{ns: ns, key: key, del: value == nil}
	if !kv.del {
		kv.value = j.enc.raw(value)
	}
	j.enc.kv = append(j.enc.kv, kv)
	return db.submit(context.Background(), j)
}
