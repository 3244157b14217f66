package bolt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/orbit-sidecar/orbit/store"
	bbolt "go.etcd.io/bbolt"
)

// scanChunk is how many entries one read transaction of scan copies out.
const scanChunk = 512

// entry is a copied key and value.
type entry struct{ k, v []byte }

// scan calls fn for each entry of a bucket in key order, until fn fails or
// stop says so; k and v are valid only during fn. It copies entries out in chunks and calls fn outside
// any transaction: callbacks (recovery, the retention sweeper) commit while
// they scan, and a bbolt writer that must grow the file waits for every open
// reader, so calling back inside a read transaction could deadlock.
func (db *DB) scan(id bucketID, stop func(k []byte) bool, fn func(k, v []byte) error) error {
	return db.scanFrom(id, nil, stop, fn)
}

// scanFrom is scan from the first key at or after from (nil: the first).
func (db *DB) scanFrom(id bucketID, from []byte, stop func(k []byte) bool, fn func(k, v []byte) error) error {
	db.caughtUp()
	seek := from
	chunk := make([]entry, 0, scanChunk)
	var arena []byte
	for {
		chunk, arena = chunk[:0], arena[:0]
		more := false
		err := db.viewReleasing(func(tx *bbolt.Tx) error {
			c := bucket(tx, id).Cursor()
			k, v := c.First()
			if len(seek) > 0 {
				k, v = c.Seek(seek)
			}
			for ; k != nil; k, v = c.Next() {
				if stop != nil && stop(k) {
					return nil
				}
				if len(chunk) == scanChunk {
					more = true
					return nil
				}
				// Earlier slices stay valid when arena grows: append copies
				// to a new array and never writes the old one.
				off := len(arena)
				arena = append(arena, k...)
				arena = append(arena, v...)
				chunk = append(chunk, entry{k: arena[off : off+len(k)], v: arena[off+len(k) : len(arena)]})
			}
			return nil
		})
		if err != nil {
			return err
		}
		if len(chunk) > 0 {
			seek = append(append(seek[:0], chunk[len(chunk)-1].k...), 0) // the first key after the chunk
		}
		for _, e := range chunk {
			if err := fn(e.k, e.v); err != nil {
				return err
			}
		}
		if !more {
			return nil
		}
	}
}

// Unfinished calls fn with the id and status of every instance that has not
// ended, without loading their records.
func (db *DB) Unfinished(fn func(id string, status store.Status) error) error {
	return db.scan(bUnfinished, nil, func(k, v []byte) error {
		return fn(string(k), store.Status(v))
	})
}

// Timers calls fn with every timer, earliest first.
func (db *DB) Timers(fn func(store.Timer) error) error {
	return db.scan(bTimers, nil, func(k, _ []byte) error {
		t, ok := parseTimerKey(k)
		if !ok {
			return fmt.Errorf("malformed timer key %x", k)
		}
		return fn(t)
	})
}

// errEnough ends a scan whose caller has what it wanted.
var errEnough = errors.New("enough")

// TimersAfter calls fn with the timers whose keys follow after's, earliest
// first, until fn returns false; it reads only as far as fn goes.
func (db *DB) TimersAfter(after store.Timer, fn func(store.Timer) bool) error {
	var from []byte
	if after != (store.Timer{}) {
		from = append(appendTimerKey(nil, store.UnixNanos(after.At), after.Instance, after.Kind), 0) // the first key after it
	}
	err := db.scanFrom(bTimers, from, nil, func(k, _ []byte) error {
		t, ok := parseTimerKey(k)
		if !ok {
			return fmt.Errorf("malformed timer key %x", k)
		}
		if !fn(t) {
			return errEnough
		}
		return nil
	})
	if errors.Is(err, errEnough) {
		return nil
	}
	return err
}

// Ended calls fn with ids of terminal instances that ended before t, oldest
// end first.
func (db *DB) Ended(before time.Time, fn func(id string) error) error {
	limit := store.UnixNanos(before)
	return db.scan(bEnded, func(k []byte) bool {
		return len(k) < 8 || binary.BigEndian.Uint64(k) >= limit
	}, func(k, _ []byte) error {
		return fn(string(k[8:]))
	})
}
