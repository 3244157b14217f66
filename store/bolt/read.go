package bolt

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/orbit-sidecar/orbit/store"
	bbolt "go.etcd.io/bbolt"
)

// Instance reads one instance.
func (db *DB) Instance(id string) (*store.Instance, error) {
	if in, err, ok := db.ov.instance(id); ok {
		return in, err
	}
	var in *store.Instance
	err := db.view(func(tx *bbolt.Tx) error {
		var err error
		in, err = loadInstance(bucket(tx, bInstances), id)
		return err
	})
	return in, err
}

// Has reports whether the store holds instance id, without decoding its
// record.
func (db *DB) Has(id string) (bool, error) {
	if held, ok := db.ov.has(id); ok {
		return held, nil
	}
	held := false
	err := db.view(func(tx *bbolt.Tx) error {
		held = bucket(tx, bInstances).Get([]byte(id)) != nil
		return nil
	})
	return held, err
}

// loadInstance decodes a record; it copies, so the result outlives the
// transaction. A record that does not decode is a *store.DamagedError.
func loadInstance(b *bbolt.Bucket, id string) (*store.Instance, error) {
	v := b.Get([]byte(id))
	if v == nil {
		return nil, store.ErrNotFound
	}
	return decodeInstance(id, v)
}

// decodeInstance decodes a stored record (header and JSON) of instance id.
func decodeInstance(id string, v []byte) (*store.Instance, error) {
	if len(v) < headerLen {
		return nil, &store.DamagedError{Instance: id, Record: "instance",
			Err: fmt.Errorf("%d bytes, shorter than its %d-byte header", len(v), headerLen)}
	}
	in := new(store.Instance)
	if err := json.Unmarshal(v[headerLen:], in); err != nil {
		return nil, &store.DamagedError{Instance: id, Record: "instance", Err: err}
	}
	if in.ID != id {
		// Bytes that still decode but belong to no one are as damaged as
		// bytes that do not decode.
		return nil, &store.DamagedError{Instance: id, Record: "instance", Err: fmt.Errorf("it names instance %q", in.ID)}
	}
	return in, nil
}

// History returns an instance's events with seq > after, at most limit
// (0: all).
func (db *DB) History(id string, after uint64, limit int) ([]store.Event, error) {
	var events []store.Event
	if after == math.MaxUint64 {
		return nil, nil // nothing can follow, and after+1 would wrap to the start
	}
	db.caughtUp()
	err := db.view(func(tx *bbolt.Tx) error {
		prefix := appendPrefix(nil, id)
		r := chunkReader{id: id, prefix: len(prefix)}
		c := bucket(tx, bHistory).Cursor()
		for k, v := seekChunk(c, prefix, after+1, nil); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			err := r.chunk(k, v, after, func(ev *store.Event) error {
				if limit > 0 && len(events) == limit {
					return errEnough
				}
				events = append(events, *ev)
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, errEnough) {
		err = nil
	}
	return events, err
}

// Pending returns the oldest kept event of that name for the instance.
func (db *DB) Pending(instance, name string) (*store.PendingEvent, error) {
	db.caughtUp()
	var p *store.PendingEvent
	err := db.view(func(tx *bbolt.Tx) error {
		prefix := appendPendingPrefix(nil, instance, name)
		k, v := bucket(tx, bPending).Cursor().Seek(prefix)
		if k == nil || !bytes.HasPrefix(k, prefix) || len(k) != len(prefix)+8 {
			return store.ErrNotFound
		}
		p = &store.PendingEvent{
			Instance: instance,
			Name:     name,
			Seq:      binary.BigEndian.Uint64(k[len(prefix):]),
		}
		if len(v) > 0 {
			p.Payload = bytes.Clone(v)
		}
		return nil
	})
	return p, err
}

// PendingSize counts the kept events of an instance and their payload
// bytes, walking the instance's range of the pending bucket.
func (db *DB) PendingSize(instance string) (events int, size int64, err error) {
	db.caughtUp()
	err = db.view(func(tx *bbolt.Tx) error {
		prefix := appendPrefix(nil, instance)
		c := bucket(tx, bPending).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			events++
			size += int64(len(v))
		}
		return nil
	})
	return events, size, err
}

// Bundle reads kept bundle sources.
func (db *DB) Bundle(hash string) (*store.BundleSources, error) {
	if bs, err, ok := db.ov.bundle(hash); ok {
		return bs, err
	}
	var bs *store.BundleSources
	err := db.view(func(tx *bbolt.Tx) error {
		v := bucket(tx, bBundles).Get([]byte(hash))
		if v == nil {
			return store.ErrNotFound
		}
		var err error
		bs, err = decodeBundle(hash, v)
		return err
	})
	return bs, err
}

func decodeBundle(hash string, v []byte) (*store.BundleSources, error) {
	bs := new(store.BundleSources)
	if err := json.Unmarshal(v, bs); err != nil {
		return nil, &store.DamagedError{Record: "bundle " + hash, Err: err}
	}
	return bs, nil
}

// Bundles lists kept bundles, oldest first. There are few of them, so they
// are sorted here rather than indexed. A damaged one is left out and
// logged, so that it hides no other.
func (db *DB) Bundles() ([]store.BundleSources, error) {
	db.caughtUp()
	var all []store.BundleSources
	err := db.view(func(tx *bbolt.Tx) error {
		return bucket(tx, bBundles).ForEach(func(k, v []byte) error {
			var bs store.BundleSources
			if err := json.Unmarshal(v, &bs); err != nil {
				db.log.Warn("kept bundle is damaged; left out", "err", &store.DamagedError{Record: fmt.Sprintf("bundle %s", k), Err: err})
				return nil
			}
			all = append(all, bs)
			return nil
		})
	})
	slices.SortStableFunc(all, func(a, b store.BundleSources) int {
		return cmp.Or(a.AddedAt.Compare(b.AddedAt), cmp.Compare(a.Hash, b.Hash))
	})
	return all, err
}
