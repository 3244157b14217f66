package bolt

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/store"
	bbolt "go.etcd.io/bbolt"
)

// fuzzTime makes a time from fuzzed parts: any second, nanosecond and
// zone offset, including years encoding/json refuses to write.
func fuzzTime(sec int64, nsec uint32, offset int32) time.Time {
	return time.Unix(sec, int64(nsec%1e9)).In(time.FixedZone("z", int(offset%(18*3600))))
}

// decodeAny decodes JSON keeping numbers as written, so that two encodings
// compare by meaning rather than by bytes.
func decodeAny(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	err := d.Decode(&v)
	return v, err
}

// sameAsEncodingJSON checks the property every hand-written encoder here
// promises: it fails where encoding/json fails (so nothing unreadable is
// ever stored), and otherwise writes JSON that means what encoding/json's
// does and decodes to the same record.
func sameAsEncodingJSON[T any](t *testing.T, v *T, got []byte, err error) {
	t.Helper()
	std, stdErr := json.Marshal(v)
	if (err == nil) != (stdErr == nil) {
		t.Fatalf("hand encoder error %v, encoding/json error %v, for %+v", err, stdErr, v)
	}
	if err != nil {
		return
	}
	g, err := decodeAny(got)
	if err != nil {
		t.Fatalf("hand encoder wrote invalid JSON %s: %v", got, err)
	}
	w, _ := decodeAny(std)
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("hand encoder wrote\n%s\nencoding/json writes\n%s", got, std)
	}
	var back, viaStd T
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatalf("record %s does not decode: %v", got, err)
	}
	json.Unmarshal(std, &viaStd)
	if !reflect.DeepEqual(back, viaStd) {
		t.Fatalf("decoded\n%+v\nwant\n%+v", back, viaStd)
	}
}

// FuzzEventEncoding encodes history events with arbitrary fields.
func FuzzEventEncoding(f *testing.F) {
	f.Add(uint64(3), "TaskFailed", "S", tricky[5], tricky[6], "e", []byte(`[]`), []byte(`null`),
		int64(1795685400), uint32(123456789), int32(3600), 2, int64(1500))
	f.Fuzz(func(t *testing.T, seq uint64, typ, state, errName, cause, event string, input, output []byte,
		sec int64, nsec uint32, offset int32, attempt int, delay int64) {
		ev := &store.Event{Seq: seq, Type: store.EventType(typ), Time: fuzzTime(sec, nsec, offset), State: state,
			Input: raw(input), Output: raw(output), Error: errName, Cause: cause, Attempt: attempt,
			DelayMS: delay, Event: event, Child: state + event, From: typ, To: cause}
		got, err := appendEvent(nil, ev, nil)
		sameAsEncodingJSON(t, ev, got, err)
	})
}

// FuzzInstanceEncoding encodes instance records with arbitrary fields.
func FuzzInstanceEncoding(f *testing.F) {
	f.Add("id", "wf", tricky[2], tricky[3], tricky[7], []byte(`{"a":[1,2]}`), []byte(`"out"`), []byte(`{"x":null}`),
		int64(1795685400), uint32(123456789), int32(3600), int64(60), 3, uint64(42), -4)
	f.Fuzz(func(t *testing.T, id, workflow, state, cause, key string, input, output, data []byte,
		sec int64, nsec uint32, offset int32, later int64, attempt int, seq uint64, item int) {
		at := fuzzTime(sec, nsec, offset)
		end := at.Add(time.Duration(later) * time.Second)
		in := &store.Instance{
			Public: store.Public{ID: id, Workflow: workflow, Version: key, Status: store.Status(key), State: state,
				Input: raw(input), Output: raw(output), Error: key, Cause: cause, StartedAt: at, UpdatedAt: end,
				EndedAt: &end, Waiting: &store.WaitingFor{Kind: store.WaitingKind(key), Event: state, Until: &end, Attempt: attempt,
					Error: cause, Instance: id, Key: key},
				Parent: workflow},
			Bundle: key, Machine: state, Data: raw(data), Attempt: attempt,
			Visits: map[string]int{state: attempt, key: item}, Seq: seq, Index: item, MapItem: item%2 == 0,
			Children: []string{id, key}, TraceParent: cause, ConcKey: key, ConcSeq: int64(seq), Deadline: &at,
			Express: attempt%2 == 0, Items: item, NextItem: attempt, Failed: attempt,
			Collected:    map[int]json.RawMessage{item: raw(output), attempt: raw(data)},
			PausedStatus: store.Status(state), PausedWaiting: &store.WaitingFor{Kind: store.WaitingKind(state)},
		}
		got, err := appendInstance(nil, in, nil)
		sameAsEncodingJSON(t, in, got, err)
	})
}

// raw turns fuzzed bytes into a payload: empty stays absent.
func raw(b []byte) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	return json.RawMessage(b)
}

// FuzzDecodeRecord puts arbitrary bytes where an instance record lives in
// a real bbolt file and reads them back through the store. Whatever the
// store accepts as a record it must be able to write back, and writing it
// back must give a record that reads the same.
func FuzzDecodeRecord(f *testing.F) {
	at := time.Date(2026, 11, 26, 9, 30, 0, 123456789, time.UTC)
	good, _ := appendInstance(appendHeader(nil, store.UnixNanos(at), 0), &store.Instance{
		Public: store.Public{ID: "a", Workflow: "wf", Status: store.Running, StartedAt: at, UpdatedAt: at},
		Visits: map[string]int{"A": 1}, Collected: map[int]json.RawMessage{0: json.RawMessage(`1`)}}, nil)
	f.Add(good)
	f.Add([]byte("short"))
	b, err := bbolt.Open(filepath.Join(f.TempDir(), "fuzz.db"), 0o600, &bbolt.Options{NoSync: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { b.Close() })
	if err := b.Update(func(tx *bbolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketNames[bInstances])
		return err
	}); err != nil {
		f.Fatal(err)
	}
	read := func(id string, v []byte) (*store.Instance, error) {
		var in *store.Instance
		err := b.Update(func(tx *bbolt.Tx) error {
			bk := bucket(tx, bInstances)
			if err := bk.Put([]byte(id), v); err != nil {
				return err
			}
			var err error
			in, err = loadInstance(bk, id)
			return err
		})
		return in, err
	}
	n := 0
	f.Fuzz(func(t *testing.T, v []byte) {
		n++
		id := "i" + strconv.Itoa(n)
		in, err := read(id, v)
		if err != nil {
			return
		}
		enc, err := appendInstance(appendHeader(nil, store.UnixNanos(in.StartedAt), endNanos(in)), in, nil)
		if err != nil {
			// Only a time encoding/json cannot write may stop it: the
			// decoder read what it was given.
			if _, stdErr := json.Marshal(in); stdErr == nil {
				t.Fatalf("a record the store read (%q) cannot be written back: %v", v, err)
			}
			return
		}
		again, err := read(id, enc)
		if err != nil {
			t.Fatalf("a record written back does not read: %v\n%s", err, enc)
		}
		if !reflect.DeepEqual(normalize(in), normalize(again)) {
			t.Fatalf("read\n%+v\nwritten back and read again\n%+v", in, again)
		}
	})
}

// normalize compacts raw payloads, which the encoder copies as given, and
// forgets empty collections, which it leaves out as encoding/json does.
func normalize(in *store.Instance) *store.Instance {
	c := in.Clone()
	if len(c.Visits) == 0 {
		c.Visits = nil
	}
	if len(c.Children) == 0 {
		c.Children = nil
	}
	if len(c.Collected) == 0 {
		c.Collected = nil
	}
	for _, r := range []*json.RawMessage{&c.Input, &c.Output, &c.Data} {
		*r = compact(*r)
	}
	for k, v := range c.Collected {
		c.Collected[k] = compact(v)
	}
	return c
}

func compact(r json.RawMessage) json.RawMessage {
	if len(r) == 0 {
		return r
	}
	var b bytes.Buffer
	if json.Compact(&b, r) != nil {
		return r
	}
	return b.Bytes()
}
