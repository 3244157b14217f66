package bolt

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/store"
	bbolt "go.etcd.io/bbolt"
)

// FuzzDecodeEvent puts arbitrary bytes where a history event lives in a
// real data file and reads the history through the store. A value it
// cannot read is a damaged record; an event it reads is the one its key
// names, and written back it reads the same.
func FuzzDecodeEvent(f *testing.F) {
	at := time.Date(2026, 11, 26, 9, 30, 0, 123456789, time.UTC)
	good, _ := appendEvent(nil, &store.Event{Seq: 1, Type: store.EventType("TaskSucceeded"), Time: at, State: "A",
		Output: json.RawMessage(`{"n":1}`), Attempt: 2})
	f.Add(uint64(1), good)
	f.Add(uint64(7), good)
	f.Add(uint64(1), []byte(`{"seq":1,"type":"ExecutionStarted","time":"2026-11-26T09:30:00+01:00","input":[1, 2]}`))
	db, err := Open(filepath.Join(f.TempDir(), "orbit.db"), Options{NoSync: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	put := func(t *testing.T, id string, seq uint64, v []byte) {
		if err := db.bolt.Update(func(tx *bbolt.Tx) error {
			return bucket(tx, bHistory).Put(appendHistoryKey(nil, id, seq), v)
		}); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	f.Fuzz(func(t *testing.T, seq uint64, v []byte) {
		if seq == 0 {
			seq = 1 // histories count from 1
		}
		n++
		id := "i" + strconv.Itoa(n)
		put(t, id, seq, v)
		evs, err := db.History(id, 0, 0)
		if err != nil {
			if !errors.Is(err, store.ErrDamaged) {
				t.Fatalf("reading %q: %v, not a damaged record", v, err)
			}
			return
		}
		if len(evs) != 1 || evs[0].Seq != seq || evs[0].Instance != id {
			t.Fatalf("%q under seq %d of %s read as %+v", v, seq, id, evs)
		}
		enc, err := appendEvent(nil, &evs[0])
		if err != nil {
			// Only what encoding/json cannot write either may stop it.
			if _, stdErr := json.Marshal(&evs[0]); stdErr == nil {
				t.Fatalf("an event the store read (%q) cannot be written back: %v", v, err)
			}
			return
		}
		put(t, id, seq, enc)
		again, err := db.History(id, 0, 0)
		if err != nil {
			t.Fatalf("an event written back does not read: %v\n%s", err, enc)
		}
		if len(again) != 1 || !sameEvent(evs[0], again[0]) {
			t.Fatalf("read\n%+v\nwritten back and read again\n%+v", evs[0], again)
		}
	})
}

// sameEvent compares two events by meaning: the same instant at the same
// offset (a time read back may come in another *time.Location of that
// offset, the machine's own zone), payloads compacted, as the encoder
// copies them as given.
func sameEvent(a, b store.Event) bool {
	_, offA := a.Time.Zone()
	_, offB := b.Time.Zone()
	if !a.Time.Equal(b.Time) || offA != offB {
		return false
	}
	a.Time, b.Time = time.Time{}, time.Time{}
	a.Input, a.Output = compact(a.Input), compact(a.Output)
	b.Input, b.Output = compact(b.Input), compact(b.Output)
	return reflect.DeepEqual(a, b)
}
