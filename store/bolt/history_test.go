package bolt

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/store"
	bbolt "go.etcd.io/bbolt"
)

// openHistory opens a store in a temporary directory for the history
// tests.
func openHistory(t testing.TB) *DB {
	t.Helper()
	db, err := Open(filepath.Join(t.TempDir(), "orbit.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// applyWindow writes batches into bbolt in one transaction, as the
// applier does with what one window logged, so that a test decides which
// events share a transaction.
func applyWindow(t testing.TB, db *DB, batches ...*store.Batch) {
	t.Helper()
	applyEncoded(t, db, new(writer), encodeWindow(t, batches...))
}

func encodeWindow(t testing.TB, batches ...*store.Batch) []encoded {
	t.Helper()
	encs := make([]encoded, len(batches))
	for i, b := range batches {
		encs[i].json = json.NewEncoder(&encs[i])
		if err := encs[i].encode(b); err != nil {
			t.Fatal(err)
		}
	}
	return encs
}

// applyEncoded applies encoded batches in one transaction with w, which
// the applier keeps from one window to the next.
func applyEncoded(t testing.TB, db *DB, w *writer, encs []encoded) {
	t.Helper()
	db.Flush()
	db.amu.Lock()
	applied := db.appliedLSN
	db.amu.Unlock()
	err := db.applyTx(w, applied, func(w *writer) error {
		for i := range encs {
			w.coalesce(&encs[i])
		}
		for i := range encs {
			if err := w.apply(&encs[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// ev is event seq of instance id; tag tells versions of it apart.
func ev(id string, seq uint64, tag string) store.Event {
	return store.Event{Instance: id, Seq: seq, Type: store.EventTaskSucceeded, State: tag,
		Time: time.Date(2026, 3, 1, 10, 0, 0, int(seq), time.UTC), Output: json.RawMessage(`{"n":` + fmt.Sprint(seq) + `}`)}
}

func evs(id string, from, to uint64, tag string) []store.Event {
	var out []store.Event
	for s := from; s <= to; s++ {
		out = append(out, ev(id, s, tag))
	}
	return out
}

// chunkKeys lists the history keys of the store as "id first-last" (or
// "id seq" for a chunk of one).
func chunkKeys(t testing.TB, db *DB) []string {
	t.Helper()
	db.Flush()
	var keys []string
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		return bucket(tx, bHistory).ForEach(func(k, _ []byte) error {
			i := strings.IndexByte(string(k), sep)
			rest := k[i+1:]
			s := fmt.Sprintf("%s %d", k[:i], binary.BigEndian.Uint64(rest))
			if len(rest) == 16 { // last, then first
				s = fmt.Sprintf("%s %d-%d", k[:i], binary.BigEndian.Uint64(rest[8:]), binary.BigEndian.Uint64(rest))
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

// described is how History's events compare in these tests: seq and tag.
func described(events []store.Event) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = fmt.Sprintf("%s%d%s", e.Instance, e.Seq, e.State)
	}
	return out
}

func wantHistory(t *testing.T, db *DB, id string, after uint64, limit int, want []store.Event) {
	t.Helper()
	got, err := db.History(id, after, limit)
	if err != nil {
		t.Fatalf("History(%s, %d, %d): %v", id, after, limit, err)
	}
	if !slices.Equal(described(got), described(want)) {
		t.Fatalf("History(%s, %d, %d) = %v, want %v", id, after, limit, described(got), described(want))
	}
}

func wantKeys(t *testing.T, db *DB, want ...string) {
	t.Helper()
	if got := chunkKeys(t, db); !slices.Equal(got, want) {
		t.Fatalf("history keys %q, want %q", got, want)
	}
}

// The events of one instance that a window applies are one entry, however
// many batches brought them, and paging reads across and inside entries.
func TestHistoryChunkPerInstanceAndWindow(t *testing.T) {
	db := openHistory(t)
	a := evs("a", 1, 10, "")
	applyWindow(t, db,
		&store.Batch{Events: append(evs("ab", 1, 1, ""), a[0:3]...)},
		&store.Batch{Events: a[3:7]},
		&store.Batch{Events: append(a[7:9:9], evs("ab", 2, 2, "")...)})
	applyWindow(t, db, &store.Batch{Events: a[9:10]})
	wantKeys(t, db, "a 1-9", "a 10", "ab 1-2")
	for _, c := range []struct {
		after uint64
		limit int
	}{{0, 0}, {0, 4}, {5, 3}, {8, 0}, {9, 0}, {9, 1}, {10, 0}, {3, 100}, {1 << 40, 0}} {
		want := a[min(c.after, 10):]
		if c.limit > 0 && len(want) > c.limit {
			want = want[:c.limit]
		}
		wantHistory(t, db, "a", c.after, c.limit, want)
	}
	wantHistory(t, db, "ab", 0, 0, evs("ab", 1, 2, ""))
	wantHistory(t, db, "b", 0, 0, nil)
}

// A window's events land by seq whatever their order; of two with one
// seq the later wins, as when each event had its own key; a gap splits
// the run; an event written again replaces the stored one inside its
// chunk, whose other events stay under new keys.
func TestHistoryChunkOrderAndRewrites(t *testing.T) {
	db := openHistory(t)
	applyWindow(t, db,
		&store.Batch{Events: []store.Event{ev("a", 3, ""), ev("a", 1, ""), ev("a", 2, "old")}},
		&store.Batch{Events: []store.Event{ev("a", 2, ""), ev("a", 6, ""), ev("a", 5, "")}})
	wantKeys(t, db, "a 1-3", "a 5-6")
	wantHistory(t, db, "a", 0, 0, []store.Event{ev("a", 1, ""), ev("a", 2, ""), ev("a", 3, ""), ev("a", 5, ""), ev("a", 6, "")})
	wantHistory(t, db, "a", 3, 0, []store.Event{ev("a", 5, ""), ev("a", 6, "")})

	applyWindow(t, db, &store.Batch{Events: evs("a", 7, 12, "")})
	applyWindow(t, db, &store.Batch{Events: evs("a", 9, 10, "x")}) // inside one chunk
	wantKeys(t, db, "a 1-3", "a 5-6", "a 7-8", "a 9-10", "a 11-12")
	applyWindow(t, db, &store.Batch{Events: evs("a", 2, 5, "y")}) // across two chunks and a gap
	wantKeys(t, db, "a 1", "a 2-5", "a 6", "a 7-8", "a 9-10", "a 11-12")
	want := slices.Concat(evs("a", 1, 1, ""), evs("a", 2, 5, "y"), evs("a", 6, 8, ""), evs("a", 9, 10, "x"), evs("a", 11, 12, ""))
	wantHistory(t, db, "a", 0, 0, want)
	wantHistory(t, db, "a", 4, 3, want[4:7])
	applyWindow(t, db, &store.Batch{Events: evs("a", 1, 8, "z")}) // over five chunks
	wantKeys(t, db, "a 1-8", "a 9-10", "a 11-12")
	wantHistory(t, db, "a", 0, 0, slices.Concat(evs("a", 1, 8, "z"), evs("a", 9, 10, "x"), evs("a", 11, 12, "")))
}

// A purge removes what the same window wrote before it, not what it wrote
// after it.
func TestHistoryChunkPurgeInWindow(t *testing.T) {
	db := openHistory(t)
	applyWindow(t, db, &store.Batch{Events: evs("a", 1, 3, "")}, &store.Batch{Events: evs("b", 1, 2, "")})
	applyWindow(t, db,
		&store.Batch{Events: evs("a", 4, 5, "")},
		&store.Batch{Purge: []string{"a", "b"}},
		&store.Batch{Events: evs("a", 1, 2, "new")})
	wantKeys(t, db, "a 1-2")
	wantHistory(t, db, "a", 0, 0, evs("a", 1, 2, "new"))
	wantHistory(t, db, "b", 0, 0, nil)
}

// FuzzHistoryWrites applies windows of arbitrary writes of events, some
// written again, some purged, and compares what History reads, whole and
// paged, with what one key per event would hold.
func FuzzHistoryWrites(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, int64(1))
	f.Add([]byte{200, 3, 77, 14, 250, 1, 9, 0, 33, 3, 8, 129, 4, 5}, int64(2))
	f.Add([]byte("a history written twice and purged"), int64(3))
	db := openHistory(f)
	n := 0
	f.Fuzz(func(t *testing.T, ops []byte, seed int64) {
		n++
		ids := []string{fmt.Sprintf("f%d-", n), fmt.Sprintf("f%d-0", n)} // one a prefix of the other
		model := map[string]map[uint64]string{ids[0]: {}, ids[1]: {}}
		rng := rand.New(rand.NewPCG(uint64(seed), uint64(n)))
		for len(ops) > 0 {
			var window []*store.Batch
			for w := int(ops[0]%4) + 1; w > 0 && len(ops) > 0; w-- {
				op := ops[0]
				ops = ops[1:]
				id := ids[op&1]
				if op >= 240 {
					window = append(window, &store.Batch{Purge: []string{id}})
					clear(model[id])
					continue
				}
				first := uint64(op>>1)%24 + 1
				tag := fmt.Sprintf("v%d", rng.IntN(1000))
				b := &store.Batch{}
				for s := first; s < first+uint64(rng.IntN(6)); s++ {
					b.Events = append(b.Events, ev(id, s, tag))
					model[id][s] = tag
				}
				rng.Shuffle(len(b.Events), func(i, j int) { b.Events[i], b.Events[j] = b.Events[j], b.Events[i] })
				window = append(window, b)
			}
			applyWindow(t, db, window...)
		}
		for _, id := range ids {
			var want []store.Event
			for _, s := range slices.Sorted(maps.Keys(model[id])) {
				want = append(want, ev(id, s, model[id][s]))
			}
			wantHistory(t, db, id, 0, 0, want)
			for range 4 {
				after, limit := uint64(rng.IntN(30)), rng.IntN(5)
				w := want[:0:0]
				for _, e := range want {
					if e.Seq > after && (limit == 0 || len(w) < limit) {
						w = append(w, e)
					}
				}
				wantHistory(t, db, id, after, limit, w)
			}
		}
	})
}

// A long history written in one window (an import) is cut into chunks of
// at most maxChunk bytes, each read on its own when paging.
func TestHistoryChunkBounded(t *testing.T) {
	db := openHistory(t)
	long := evs("a", 1, 3000, "")
	applyWindow(t, db, &store.Batch{Events: long})
	keys := chunkKeys(t, db)
	if len(keys) < 3 {
		t.Fatalf("3000 events in %d chunks: %q", len(keys), keys)
	}
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		return bucket(tx, bHistory).ForEach(func(k, v []byte) error {
			if len(v) > maxChunk {
				t.Errorf("chunk %x holds %d bytes", k, len(v))
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	wantHistory(t, db, "a", 0, 0, long)
	wantHistory(t, db, "a", 1500, 700, long[1500:2200])
}

// Chunks fill the history's pages: a history of ten events of 260 bytes
// in one chunk left half of each page empty (bbolt puts at least two
// entries on a page, and two such chunks do not fit one), and the data
// file grew by 42% over one key per event; in chunks of at most maxChunk
// bytes the file is as large as with one key per event (78% full pages
// here).
func TestHistoryChunksFillPages(t *testing.T) {
	const instances, events = 1000, 10
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	db := openHistory(t)
	var b store.Batch
	for i := range instances {
		var head store.Hash
		for seq := uint64(1); seq <= events; seq++ {
			ev := store.Event{Instance: fmt.Sprintf("order-%05d", i), Seq: seq, Type: store.EventTaskSucceeded,
				Time: t0.Add(time.Duration(seq) * time.Millisecond), State: fmt.Sprintf("Step%d", seq),
				Output: json.RawMessage(fmt.Sprintf(`{"charged":%d,"order":"order-%05d"}`, 40+seq, i))}
			ev.Hash = store.ChainHash(head, &ev)
			head = ev.Hash
			b.Events = append(b.Events, ev)
		}
	}
	applyWindow(t, db, &b)
	var st bbolt.BucketStats
	if err := db.bolt.View(func(tx *bbolt.Tx) error { st = bucket(tx, bHistory).Stats(); return nil }); err != nil {
		t.Fatal(err)
	}
	fill := float64(st.LeafInuse) / float64(st.LeafAlloc)
	t.Logf("%d events in %d chunks on %d leaf pages (%d overflow), %.0f%% full", st.KeyN, len(chunkKeys(t, db)), st.LeafPageN, st.LeafOverflowN, 100*fill)
	if fill < 0.75 {
		t.Errorf("the history's leaf pages are %.0f%% full", 100*fill)
	}
}

// A window that purges every history and then writes one: bbolt leaves
// the emptied pages in the transaction until it commits, where a cursor
// stepping back (Last, Prev) loops or misses keys; the writer only seeks
// forward. Found by TestBackupCompactRestore (cmd/orbit), whose retention
// sweep purged everything while new instances started.
func TestHistoryChunkAfterPurgingEverything(t *testing.T) {
	db := openHistory(t)
	var fill store.Batch
	var ids []string
	for i := range 300 {
		id := fmt.Sprintf("m%03d", i)
		ids = append(ids, id)
		fill.Events = append(fill.Events, evs(id, 1, 3, "")...)
	}
	applyWindow(t, db, &fill)
	done := make(chan struct{})
	go func() {
		defer close(done)
		applyWindow(t, db, &store.Batch{Purge: ids}, &store.Batch{Events: evs("z", 1, 2, "")},
			&store.Batch{Events: evs("a", 1, 2, "")})
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("the window did not finish in a minute")
	}
	wantKeys(t, db, "a 1-2", "z 1-2")
	wantHistory(t, db, "z", 0, 0, evs("z", 1, 2, ""))
}
