package bolt

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
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
		Output: json.RawMessage(`{"n":1}`), Attempt: 2}, nil)
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
		enc, err := appendEvent(nil, &evs[0], nil)
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

// FuzzDecodeChunk puts arbitrary bytes where a chunk of history events
// lives (the events first to first+extra, extra below 16) in a real data
// file and reads the history through the store. A chunk it cannot read
// is a damaged record; a chunk it reads holds exactly the events its key
// names, and written back as the applier writes chunks it reads the same.
func FuzzDecodeChunk(f *testing.F) {
	at := time.Date(2026, 11, 26, 9, 30, 0, 123456789, time.UTC)
	var good []byte
	for seq := uint64(3); seq <= 5; seq++ {
		good, _ = appendEvent(good, &store.Event{Seq: seq, Type: store.EventType("TaskSucceeded"), Time: at, State: "A",
			Output: json.RawMessage(`{"s":"}{\"}"}`), Attempt: 2}, nil)
	}
	f.Add(uint64(3), uint8(2), good)
	f.Add(uint64(3), uint8(1), good)
	f.Add(uint64(3), uint8(3), good)
	f.Add(uint64(1), uint8(1), []byte(` {"seq":1,"type":"ExecutionStarted","time":"2026-11-26T09:30:00Z"}`+"\n"+
		`{"seq":2,"type":"StateEntered","time":"2026-11-26T09:30:00Z","input":[1, {"a":[]}]} `))
	db, err := Open(filepath.Join(f.TempDir(), "orbit.db"), Options{NoSync: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	put := func(t *testing.T, k, v []byte) {
		if err := db.bolt.Update(func(tx *bbolt.Tx) error { return bucket(tx, bHistory).Put(k, v) }); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	f.Fuzz(func(t *testing.T, first uint64, extra uint8, v []byte) {
		first = max(first%(1<<62), 1)
		last := first + uint64(extra%16)
		n++
		id := "c" + strconv.Itoa(n)
		put(t, appendChunkKey(nil, id, first, last), v)
		evs, err := db.History(id, 0, 0)
		if err != nil {
			if !errors.Is(err, store.ErrDamaged) {
				t.Fatalf("reading %q: %v, not a damaged record", v, err)
			}
			return
		}
		if uint64(len(evs)) != last-first+1 {
			t.Fatalf("%q under events %d to %d read as %d events", v, first, last, len(evs))
		}
		var enc []byte
		for i := range evs {
			if evs[i].Seq != first+uint64(i) || evs[i].Instance != id {
				t.Fatalf("%q under events %d to %d read as %+v", v, first, last, evs)
			}
			if enc, err = appendEvent(enc, &evs[i], nil); err != nil {
				if _, stdErr := json.Marshal(&evs[i]); stdErr == nil {
					t.Fatalf("an event the store read (%q) cannot be written back: %v", v, err)
				}
				return
			}
		}
		put(t, appendChunkKey(nil, id, first, last), enc)
		for _, after := range []uint64{0, first, last} {
			again, err := db.History(id, after, 0)
			if err != nil {
				t.Fatalf("a chunk written back does not read: %v\n%s", err, enc)
			}
			want := evs[min(after-min(after, first-1), uint64(len(evs))):]
			if len(again) != len(want) {
				t.Fatalf("after %d: %d events read back, want %d", after, len(again), len(want))
			}
			for i := range want {
				if !sameEvent(want[i], again[i]) {
					t.Fatalf("read\n%+v\nwritten back and read again\n%+v", want[i], again[i])
				}
			}
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

// FuzzIndexKeys builds the keys of the store's indexes from arbitrary
// names and times and parses them back, and parses arbitrary bytes as
// keys. What is built parses to what it was built from; the two timer
// indexes turn into each other; no key, however damaged, stops a parser.
func FuzzIndexKeys(f *testing.F) {
	f.Add("order-1", "wake", uint64(1795685400123456789), []byte("RUNNING\x00place_order\x00v1"), []byte{})
	f.Add("a", "", uint64(0), []byte("SUCCEEDED\x00wf"), []byte("\x00\x00\x00\x00\x00\x00\x00\x01a\x00"))
	f.Add("x/y", "retry\x00", uint64(1<<63), []byte{}, []byte("short"))
	db := &DB{log: slog.New(slog.DiscardHandler)}
	f.Fuzz(func(t *testing.T, id, kind string, at uint64, entry, raw []byte) {
		// Damaged keys and values: an answer, never a crash.
		parseTimerKey(raw)
		parseHeader(raw)
		if e, ok := db.listEntry(raw, entry); ok && !bytes.Equal(e.id, raw[8:]) {
			t.Fatalf("listing key %x read as id %q", raw, e.id)
		}
		appendTimerKeyFromInstanceKey(nil, raw, len(raw)/2)

		if checkName("id", id) != nil {
			return
		}
		tm := store.Timer{At: store.FromUnixNanos(at), Instance: id, Kind: kind}
		tk := appendTimerKey(nil, at, id, kind)
		if checkTimer(tm) == nil {
			got, ok := parseTimerKey(tk)
			if !ok || !got.At.Equal(tm.At) || got.Instance != id || got.Kind != kind {
				t.Fatalf("timer key %x of %+v parsed as %+v, %v", tk, tm, got, ok)
			}
		}
		ik := appendInstanceTimerKey(nil, id, at, kind)
		if back := appendTimerKeyFromInstanceKey(nil, ik, len(appendPrefix(nil, id))); !bytes.Equal(back, tk) {
			t.Fatalf("instance timer key %x turned into %x, not %x", ik, back, tk)
		}
		start, end, ok := parseHeader(appendHeader(nil, at, ^at))
		if !ok || start != at || end != ^at {
			t.Fatalf("header of %d, %d read as %d, %d, %v", at, ^at, start, end, ok)
		}
		e, ok := db.listEntry(appendListKey(nil, at, id), entry)
		if !ok || string(e.id) != id {
			t.Fatalf("listing key of %q read as %q, %v", id, e.id, ok)
		}
		if _, _, cut := bytes.Cut(entry, sepBytes); cut {
			back := append(append(bytes.Clone(e.status), sep), e.workflow...)
			if e.hasVersion {
				back = append(append(back, sep), e.version...)
			}
			if !bytes.Equal(back, entry) {
				t.Fatalf("listing value %q read as status %q workflow %q version %q", entry, e.status, e.workflow, e.version)
			}
		}
	})
}
