package bolt_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/store"
	"github.com/orbit-sidecar/orbit/store/bolt"
	"github.com/orbit-sidecar/orbit/store/bolt/bolttest"
	bbolt "go.etcd.io/bbolt"
)

// onekeyEvents are the events testdata/onekey/gen.go wrote for instance
// id, from..to, chained from head.
func onekeyEvents(id string, from, to uint64, head store.Hash) []store.Event {
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	var out []store.Event
	for seq := from; seq <= to; seq++ {
		ev := store.Event{Instance: id, Seq: seq, Type: store.EventTaskSucceeded,
			Time: t0.Add(time.Duration(seq) * time.Millisecond), State: fmt.Sprintf("Step%d", seq),
			Output: json.RawMessage(fmt.Sprintf(`{"charged":%d,"order":%q}`, 40+seq, id))}
		ev.Hash = store.ChainHash(head, &ev)
		head = ev.Hash
		out = append(out, ev)
	}
	return out
}

// historyKeys lists the history keys of a closed data file as "id first"
// or "id first-last".
func historyKeys(t *testing.T, path string) []string {
	t.Helper()
	b, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var keys []string
	err = b.View(func(tx *bbolt.Tx) error {
		return tx.Bucket([]byte("history")).ForEach(func(k, _ []byte) error {
			id, rest, _ := bytes.Cut(k, []byte{0})
			s := fmt.Sprintf("%s %d", id, binary.BigEndian.Uint64(rest))
			if len(rest) == 16 { // last, then first
				s = fmt.Sprintf("%s %d-%d", id, binary.BigEndian.Uint64(rest[8:]), binary.BigEndian.Uint64(rest))
			}
			keys = append(keys, s)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func sameHistory(t *testing.T, db *bolt.DB, id string, after uint64, limit int, want []store.Event) {
	t.Helper()
	got, err := db.History(id, after, limit)
	if err != nil {
		t.Fatalf("history of %s: %v", id, err)
	}
	gotJSON, _ := json.Marshal(got)
	wantJSON, _ := json.Marshal(want)
	if !bytes.Equal(gotJSON, wantJSON) || len(got) != len(want) {
		t.Fatalf("History(%s, %d, %d) =\n%s\nwant\n%s", id, after, limit, gotJSON, wantJSON)
	}
	for _, ev := range got {
		if ev.Instance != id {
			t.Fatalf("event %d of %s names instance %q", ev.Seq, id, ev.Instance)
		}
	}
}

// A data file written when every history event had its own key (the
// layout up to chunks; testdata/onekey) reads, verifies and grows
// without a migration: an event per key is a chunk of one. New events
// join it as chunks, and events written again (as an import run twice
// writes them) replace their keys.
func TestOneEventPerKeyStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "orbit.db")
	copyFile(t, filepath.Join("testdata", "onekey", "onekey.db"), path)
	before := historyKeys(t, path)
	if len(before) != 19 || slices.ContainsFunc(before, func(k string) bool { return strings.Contains(k[strings.IndexByte(k, ' '):], "-") }) {
		t.Fatalf("testdata/onekey holds history keys %q; the test needs 19 of one event each", before)
	}
	rep, err := bolt.Verify(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(rep.Instances, rep.Events, rep.Hashed, rep.Chains); got != "3 19 19 3" {
		t.Fatalf("instances events hashed chains = %s, want 3 19 19 3", got)
	}

	db := open(t, path)
	order1, order2 := onekeyEvents("order-1", 1, 14, store.Hash{}), onekeyEvents("order-2", 1, 3, store.Hash{})
	sameHistory(t, db, "order-1", 0, 0, order1)
	sameHistory(t, db, "order-1", 5, 3, order1[5:8])
	sameHistory(t, db, "order-10", 0, 0, onekeyEvents("order-10", 1, 2, store.Hash{}))
	sameHistory(t, db, "order-2", 2, 0, order2[2:])

	in, err := db.Instance("order-2")
	if err != nil {
		t.Fatal(err)
	}
	more := onekeyEvents("order-2", 4, 6, in.Chain)
	in.Seq, in.Chain = 6, more[2].Hash
	again := slices.Clone(order1[4:8])
	slices.Reverse(again)
	if err := db.Commit(context.Background(), &store.Batch{Instances: []*store.Instance{in}, Events: append(more, again...)}); err != nil {
		t.Fatal(err)
	}
	order2 = append(order2, more...)
	sameHistory(t, db, "order-2", 0, 0, order2)
	sameHistory(t, db, "order-2", 3, 2, order2[3:5])
	sameHistory(t, db, "order-1", 0, 0, order1)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	want := []string{"order-1 1", "order-1 2", "order-1 3", "order-1 4", "order-1 5-8", "order-1 9", "order-1 10",
		"order-1 11", "order-1 12", "order-1 13", "order-1 14", "order-10 1", "order-10 2",
		"order-2 1", "order-2 2", "order-2 3", "order-2 4-6"}
	if got := historyKeys(t, path); !slices.Equal(got, want) {
		t.Fatalf("history keys %q, want %q", got, want)
	}
	if rep, err = bolt.Verify(path); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(rep.Instances, rep.Events, rep.Hashed, rep.Chains); got != "3 22 22 3" {
		t.Fatalf("instances events hashed chains = %s, want 3 22 22 3", got)
	}
	db = open(t, path)
	sameHistory(t, db, "order-1", 0, 0, order1)
	sameHistory(t, db, "order-2", 0, 0, order2)
}

// putHistory sets a history entry of a closed data file.
func putHistory(t *testing.T, path string, key, value []byte) {
	t.Helper()
	b, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Update(func(tx *bbolt.Tx) error { return tx.Bucket([]byte("history")).Put(key, value) }); err != nil {
		t.Fatal(err)
	}
}

func historyKey(id string, seqs ...uint64) []byte {
	k := append([]byte(id), 0)
	for _, s := range seqs {
		k = binary.BigEndian.AppendUint64(k, s)
	}
	return k
}

// A damaged chunk is reported, by Verify and by History, with the event
// and the byte where it stops reading; nothing past it is skipped
// silently.
func TestVerifyFindsDamagedChunk(t *testing.T) {
	// verifiable writes order-0's five events in one batch: one chunk.
	output := func(raw []byte, i int) int {
		return bytes.Index(raw, []byte(fmt.Sprintf(`"output":{"charged":%d,"order":"order-0"}`, 40+i)))
	}
	event4 := onekeyEvents("order-0", 4, 4, store.Hash{})[0]
	event4JSON, _ := json.Marshal(event4)
	cases := []struct {
		name   string
		damage func(t *testing.T, path string)
		want   []string
	}{
		{"an event that does not close", func(t *testing.T, path string) {
			editInFile(t, path, `{"charged":42,"order":"order-0"}`, `{"charged":42,"order":"order-0"{`)
		}, []string{`event 3 of instance "order-0" is damaged: in the chunk of events 1 to 5: at byte`, "no whole JSON object"}},
		{"an event with a broken value", func(t *testing.T, path string) {
			editInFile(t, path, `{"charged":43,"order":"order-0"}`, `{"charged":4:,"order":"order-0"}`)
		}, []string{`event 4 of instance "order-0" is damaged: in the chunk of events 1 to 5: at byte`}},
		{"an event numbered as another", func(t *testing.T, path string) {
			raw, _ := os.ReadFile(path)
			seq := bytes.LastIndex(raw[:output(raw, 3)], []byte(`"seq":4,`))
			bolttest.Change(t, path, int64(seq+len(`"seq":`)), 1, func(b []byte) { b[0] = '7' })
		}, []string{`event 4 of instance "order-0" is damaged: in the chunk of events 1 to 5: it holds event 7`}},
		{"a chunk that overlaps another", func(t *testing.T, path string) {
			putHistory(t, path, historyKey("order-0", 7, 3), event4JSON) // events 3 to 7, after the chunk of 1 to 5
		}, []string{`event 3 of instance "order-0"`, "holds events up to 5: they overlap"}},
		{"a chunk with fewer events than its key says", func(t *testing.T, path string) {
			putHistory(t, path, historyKey("order-0", 7, 6), event4JSON)
		}, []string{`event 7 of instance "order-0" is damaged: in the chunk of events 6 to 7: at byte`, "no whole JSON object"}},
		{"a chunk with bytes after its events", func(t *testing.T, path string) {
			putHistory(t, path, historyKey("order-0", 6), append(bytes.Replace(event4JSON, []byte(`"seq":4`), []byte(`"seq":6`), 1), "{}"...))
		}, []string{`event 6 of instance "order-0"`, "2 bytes follow its last event"}},
		{"a malformed key", func(t *testing.T, path string) {
			putHistory(t, path, historyKey("order-0", 6, 7), event4JSON) // last before first
		}, []string{`history of instance "order-0"`, "malformed key"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := verifiable(t)
			c.damage(t, path)
			_, verr := bolt.Verify(path)
			t.Log(verr)
			db := open(t, path)
			evs, herr := db.History("order-0", 0, 0)
			for _, err := range []error{verr, herr} {
				var de *store.DamagedError
				if !errors.As(err, &de) || de.Instance != "order-0" {
					t.Fatalf("%v (history %d events), want order-0's history damaged", err, len(evs))
				}
				for _, w := range c.want {
					if !strings.Contains(err.Error(), w) {
						t.Fatalf("%v, want it to say %q", err, w)
					}
				}
			}
		})
	}
}
