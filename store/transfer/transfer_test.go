package transfer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/internal/devnats"
	"github.com/orbit-sidecar/orbit/internal/devnats/devnatstest"
	"github.com/orbit-sidecar/orbit/store"
	"github.com/orbit-sidecar/orbit/store/bolt"
	"github.com/orbit-sidecar/orbit/store/bolt/bolttest"
	natsstore "github.com/orbit-sidecar/orbit/store/nats"
	"github.com/orbit-sidecar/orbit/store/storetest"
	"github.com/orbit-sidecar/orbit/store/transfer"
)

var base = time.Date(2026, 11, 30, 8, 0, 0, 123456789, time.UTC)

func openNATS(t *testing.T, c devnats.Servers, stream string) *natsstore.Store {
	t.Helper()
	s, err := natsstore.Open(context.Background(), natsstore.Options{URL: c.URL(), Stream: stream, Replicas: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// seed fills st with some of everything a store holds: instances of every
// status with histories (one long enough to be written in several
// batches), timers, kept events (a payload with its spaces, one of no
// kept instance), bundles and plugin values (an empty and a binary one).
// It returns the ids of the unfinished instances.
func seed(t *testing.T, st store.Store) (unfinished []string) {
	t.Helper()
	ctx := context.Background()
	b := &store.Batch{Bundles: []store.BundleSources{
		{Hash: "b1", Files: map[string][]byte{"main.lua": []byte("workflow 'a'\n")}, AddedAt: base},
		{Hash: "b2", Files: map[string][]byte{"main.lua": []byte("workflow 'b'\n"), "lib/x.lua": {0xff, 0}}, AddedAt: base.Add(time.Minute)},
	}}
	for i, status := range store.Statuses {
		for j := range 3 {
			id := fmt.Sprintf("order.%d-%d", i, j)
			start := base.Add(time.Duration(i*3+j) * time.Second)
			in := &store.Instance{
				Public: store.Public{ID: id, Workflow: "place_order", Version: "v" + fmt.Sprint(j), Status: status, State: "Pay",
					Input: json.RawMessage(`{"order":{"id":"` + id + `"}}`), StartedAt: start, UpdatedAt: start.Add(time.Millisecond),
					IdempotencyKey: "key-" + id},
				Bundle: "b1", Visits: map[string]int{"Pay": j + 1}, Data: json.RawMessage(`{"n":1}`),
				Collected: map[int]json.RawMessage{1: json.RawMessage(`"x"`)}, ConcKey: "k", ConcSeq: int64(j),
			}
			if status.Terminal() {
				end := start.Add(time.Hour)
				in.EndedAt, in.Output = &end, json.RawMessage(`{"ok":true}`)
			} else {
				unfinished = append(unfinished, id)
			}
			events := 3
			if i == 2 && j == 0 {
				events = 1234 // more than one batch
			}
			for seq := uint64(1); seq <= uint64(events); seq++ {
				b.Events = append(b.Events, store.Event{Instance: id, Seq: seq, Type: store.EventStateEntered,
					Time: start.Add(time.Duration(seq) * time.Nanosecond), State: "Pay", Input: json.RawMessage(`{"seq":` + fmt.Sprint(seq) + `}`)})
			}
			in.Seq = uint64(events)
			b.Instances = append(b.Instances, in)
			if status == store.Waiting {
				b.SetTimers = append(b.SetTimers, store.Timer{At: base.Add(time.Hour + time.Duration(j)), Instance: id, Kind: "wait"})
				b.AddPending = append(b.AddPending,
					store.PendingEvent{Instance: id, Name: "paid", Seq: 7, Payload: json.RawMessage(`{ "amount" : 12 }`)},
					store.PendingEvent{Instance: id, Name: "paid.twice", Seq: 9, Payload: json.RawMessage(`2`)})
			}
		}
	}
	b.SetTimers = append(b.SetTimers, store.Timer{At: base, Instance: "gone", Kind: "retry"})
	b.AddPending = append(b.AddPending, store.PendingEvent{Instance: "gone", Name: "late", Seq: 3, Payload: json.RawMessage(`null`)})
	if err := st.Commit(ctx, b); err != nil {
		t.Fatal(err)
	}
	for _, kv := range []struct{ ns, key, value string }{{"loyalty", "points:7", "120"}, {"loyalty", "empty", ""}, {"a.b", "bin", "\x00\xff"}} {
		if err := st.KVPut(kv.ns, kv.key, []byte(kv.value)); err != nil {
			t.Fatal(err)
		}
	}
	return unfinished
}

// contents is everything a store holds, read through the Store interface
// and store.Dumper, not through the transfer package.
type contents struct {
	Instances []*store.Instance
	History   map[string][]store.Event
	Timers    []store.Timer
	Pending   []store.PendingEvent
	Bundles   []store.BundleSources
	KV        []string
}

func read(t *testing.T, st store.Store) contents {
	t.Helper()
	var c contents
	c.History = map[string][]store.Event{}
	q := store.Query{Limit: 7}
	for {
		page, next, err := st.List(q)
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range page {
			c.Instances = append(c.Instances, in)
			h, err := st.History(in.ID, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			c.History[in.ID] = h
		}
		if q.Cursor = next; next == "" {
			break
		}
	}
	if err := st.Timers(func(tm store.Timer) error { c.Timers = append(c.Timers, tm); return nil }); err != nil {
		t.Fatal(err)
	}
	d := st.(store.Dumper)
	if err := d.EachPending(func(p store.PendingEvent) error {
		p.Payload = []byte(string(p.Payload)) // compared as bytes, not as JSON
		c.Pending = append(c.Pending, p)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var err error
	if c.Bundles, err = st.Bundles(); err != nil {
		t.Fatal(err)
	}
	if err := d.EachKV(func(ns, key string, v []byte) error {
		c.KV = append(c.KV, fmt.Sprintf("%s/%s=%q", ns, key, v))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return c
}

// same compares contents exactly: records, events and payloads byte for
// byte, times to the nanosecond.
func same(t *testing.T, what string, got, want contents) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if !bytes.Equal(g, w) {
		t.Fatalf("%s differs from the source:\n got %.3000s\nwant %.3000s", what, g, w)
	}
}

func export(t *testing.T, st store.Store) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := transfer.Export(st, &buf, transfer.ExportOptions{Source: "test", Now: func() time.Time { return base }}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func importInto(t *testing.T, stream []byte, st store.Store, opt transfer.ImportOptions) transfer.Imported {
	t.Helper()
	got, err := transfer.Import(context.Background(), bytes.NewReader(stream), st, opt)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestRoundTripBoltNATSBolt moves a bbolt store into NATS and back into a
// new bbolt file: each store holds exactly what the first did, the
// unfinished instances are woken on NATS, and the three exports are the
// same bytes.
func TestRoundTripBoltNATSBolt(t *testing.T) {
	src := bolttest.Open(t)
	unfinished := seed(t, src)
	want := read(t, src)
	if len(want.Instances) != 24 || len(want.History["order.2-0"]) != 1234 || len(want.Timers) != 4 ||
		len(want.Pending) != 7 || len(want.Bundles) != 2 || len(want.KV) != 3 {
		t.Fatalf("the seeded store holds %d instances, %d events of order.2-0, %d timers, %d kept events, %d bundles, %d values",
			len(want.Instances), len(want.History["order.2-0"]), len(want.Timers), len(want.Pending), len(want.Bundles), len(want.KV))
	}
	first := export(t, src)

	c := devnatstest.Start(t, 1)
	mid := openNATS(t, c, "MOVE")
	if what, err := transfer.Empty(mid); what != "" || err != nil {
		t.Fatalf("a new stream holds %q (%v)", what, err)
	}
	got := importInto(t, first, mid, transfer.ImportOptions{})
	wantCounts := transfer.Counts{Instances: 24, Unfinished: len(unfinished), Events: 23*3 + 1234, Timers: 4, Pending: 7, Bundles: 2, KV: 3}
	if got.Counts != wantCounts || got.Bytes != int64(len(first)) {
		t.Errorf("import read %+v, %d bytes; want %+v, %d", got.Counts, got.Bytes, wantCounts, len(first))
	}
	same(t, "the NATS store", read(t, mid), want)
	if what, err := transfer.Empty(mid); what != "24 instances" || err != nil {
		t.Errorf("Empty after the import = %q, %v", what, err)
	}

	// Every unfinished instance is work for some sidecar, once.
	woken := map[string]int{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for len(woken) < len(unfinished) {
		w, err := mid.Work(ctx)
		if err != nil {
			t.Fatalf("work after %v: %v", woken, err)
		}
		if w.Timer == nil {
			woken[w.Instance]++
		}
		w.Ack.Done()
	}
	if !slices.Equal(slices.Sorted(mapsKeys(woken)), slices.Sorted(slices.Values(unfinished))) {
		t.Errorf("woken %v, want %v", woken, unfinished)
	}

	second := export(t, mid)
	back := bolttest.Open(t)
	importInto(t, second, back, transfer.ImportOptions{})
	same(t, "the bbolt store it came back to", read(t, back), want)
	third := export(t, back)
	if !bytes.Equal(first, second) || !bytes.Equal(first, third) {
		t.Errorf("the exports of the three stores differ:\n%.600s\n%.600s\n%.600s", first, second, third)
	}
}

func mapsKeys(m map[string]int) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// TestImportResumes interrupts an import with failing writes, then runs
// it again with Merge: the target ends up holding exactly the source, the
// instances that had arrived whole are skipped, and nothing is doubled.
func TestImportResumes(t *testing.T) {
	src := bolttest.Open(t)
	seed(t, src)
	want := read(t, src)
	stream := export(t, src)

	db := bolttest.Open(t)
	dst := storetest.NewFaulty(db)
	var groups atomic.Int64
	// The first group of instances is written; then the disk is full.
	dst.FailWritesIf(func(b *store.Batch) bool { return b != nil && len(b.Instances) > 0 && groups.Add(1) > 1 }, errors.New("disk full"))
	_, err := transfer.Import(context.Background(), bytes.NewReader(stream), dst, transfer.ImportOptions{Workers: 1})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("import on a failing disk: %v", err)
	}
	dst.Heal()
	what, err := transfer.Empty(db)
	if what == "" || err != nil {
		t.Fatalf("the interrupted import left %q (%v)", what, err)
	}
	got := importInto(t, stream, dst, transfer.ImportOptions{Merge: true})
	if got.Skipped == 0 || got.Skipped >= 24 || len(got.Conflicts) != 0 {
		t.Errorf("the second import skipped %d and met conflicts %v; want some of 24 skipped and none", got.Skipped, got.Conflicts)
	}
	same(t, "the resumed store", read(t, db), want)

	// A third run changes nothing and skips everything.
	if got := importInto(t, stream, dst, transfer.ImportOptions{Merge: true}); got.Skipped != 24 {
		t.Errorf("a repeated import skipped %d of 24", got.Skipped)
	}
	same(t, "the store imported into three times", read(t, db), want)
}

// TestImportLeavesConflicts: an instance the target holds with other
// contents is left as it is, named, and the rest is written.
func TestImportLeavesConflicts(t *testing.T) {
	src := bolttest.Open(t)
	seed(t, src)
	stream := export(t, src)
	dst := bolttest.Open(t)
	moved := &store.Instance{Public: store.Public{ID: "order.0-1", Workflow: "other", Status: store.Running, StartedAt: base}, Seq: 40}
	if err := dst.Commit(context.Background(), &store.Batch{Instances: []*store.Instance{moved}}); err != nil {
		t.Fatal(err)
	}
	got, err := transfer.Import(context.Background(), bytes.NewReader(stream), dst, transfer.ImportOptions{Merge: true})
	if !errors.Is(err, transfer.ErrConflict) || !slices.Equal(got.Conflicts, []string{"order.0-1"}) {
		t.Fatalf("import over a different order.0-1: %v, conflicts %v", err, got.Conflicts)
	}
	in, err := dst.Instance("order.0-1")
	if err != nil || in.Workflow != "other" || in.Seq != 40 {
		t.Errorf("the conflicting instance became %+v (%v)", in, err)
	}
	if _, err := dst.Instance("order.0-2"); err != nil {
		t.Errorf("the others were not written: %v", err)
	}
}

// TestBadStreams: a stream cut short, altered, or not an export is
// refused by Check, naming the line, and Import of one cut short says so.
func TestBadStreams(t *testing.T) {
	src := bolttest.Open(t)
	seed(t, src)
	stream := export(t, src)
	if counts, n, err := transfer.Check(bytes.NewReader(stream)); err != nil || counts.Instances != 24 || n != int64(len(stream)) {
		t.Fatalf("check of a sound stream: %+v, %d, %v", counts, n, err)
	}
	lines := bytes.SplitAfter(stream, []byte("\n"))
	lastFull := bytes.Join(lines[:len(lines)-2], nil) // without the end line
	for _, tc := range []struct {
		name   string
		stream []byte
		want   string
	}{
		{"empty", nil, "the stream is empty"},
		{"not an export", []byte(`{"kind":"instance"}` + "\n"), `line 1: not an Orbit export`},
		{"not JSON", []byte("hello\n"), "line 1: not a line of an Orbit export"},
		{"newer", []byte(`{"kind":"orbit-export","format":2}` + "\n"), "export format 2 is newer"},
		{"without its end", lastFull, fmt.Sprintf("ends after line %d without its end line", len(lines)-2)},
		{"cut inside a line", stream[:len(stream)-5], "ends inside a line"},
		{"altered", bytes.Replace(stream, []byte(`"points:7"`), []byte(`"points:8"`), 1), "SHA-256"},
		{"trailing data", append(slices.Clone(stream), []byte(`{"kind":"kv"}`+"\n")...), "more data follows the end line"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := transfer.Check(bytes.NewReader(tc.stream))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("check: %v, want %q", err, tc.want)
			}
		})
	}
	_, err := transfer.Import(context.Background(), bytes.NewReader(lastFull), bolttest.Open(t), transfer.ImportOptions{})
	if err == nil || !strings.Contains(err.Error(), "cut short") {
		t.Errorf("import of a stream cut short: %v", err)
	}
}

// TestEmpty names the first thing a store holds.
func TestEmpty(t *testing.T) {
	st := bolttest.Open(t)
	if what, err := transfer.Empty(st); what != "" || err != nil {
		t.Fatalf("a new store: %q, %v", what, err)
	}
	if err := st.KVPut("p", "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if what, err := transfer.Empty(st); what != "plugin values" || err != nil {
		t.Errorf("a store with a plugin value: %q, %v", what, err)
	}
}

// TestExportLeavesDamagedOut: an instance whose record or history cannot
// be read is left out with its timers and kept events and named; the
// rest is exported whole, and the stream is sound.
func TestExportLeavesDamagedOut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "orbit.db")
	db, err := bolt.Open(path, bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	seed(t, db)
	db.Close()
	bolttest.DamageRecord(t, path, "order.2-1")
	bolttest.DamageValue(t, path, `{"seq":1000,`) // an event of order.2-0 alone
	if db, err = bolt.Open(path, bolt.Options{NoSync: true}); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var buf bytes.Buffer
	got, err := transfer.Export(db, &buf, transfer.ExportOptions{})
	if !errors.Is(err, transfer.ErrDamaged) || len(got.Damaged) != 2 ||
		!strings.Contains(got.Damaged[0], `record of instance "order.2-1"`) || !strings.Contains(got.Damaged[1], `event 1000 of instance "order.2-0"`) {
		t.Fatalf("export of a store with damaged records: %v, damaged %q", err, got.Damaged)
	}
	if got.Instances != 22 || got.Events != 22*3 {
		t.Errorf("exported %s; want the 22 sound instances", got.Counts)
	}
	if counts, _, err := transfer.Check(&buf); err != nil || counts != got.Counts {
		t.Errorf("check of the stream: %s, %v", counts, err)
	}
}

// TestImportIntoNATSKeepsConcurrencySlots imports instances of one
// concurrency key into NATS: the one that held the key's slot still holds
// it, so a new instance of the key queues behind the queued ones, and the
// queued ones get the slot in the order they arrived, not in id order.
func TestImportIntoNATSKeepsConcurrencySlots(t *testing.T) {
	src := bolttest.Open(t)
	keyed := func(id string, status store.Status, seq int64) *store.Instance {
		return &store.Instance{Public: store.Public{ID: id, Workflow: "serial", Version: "v1", Status: status, State: "In",
			Input: json.RawMessage(`{}`), StartedAt: base, UpdatedAt: base}, Bundle: "b1", ConcKey: "o1", ConcSeq: seq}
	}
	ended := keyed("a-ended", store.Succeeded, 1)
	end := base.Add(time.Second)
	ended.EndedAt = &end
	b := &store.Batch{Instances: []*store.Instance{ended, keyed("b-holder", store.Waiting, 2),
		keyed("c-second", store.Queued, 4), keyed("d-first", store.Queued, 3)}}
	if err := src.Commit(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	c := devnatstest.Start(t, 1)
	dst := openNATS(t, c, "SLOTS")
	importInto(t, export(t, src), dst, transfer.ImportOptions{})

	ctx := context.Background()
	k := store.SlotKey{Workflow: "serial", Key: "o1"}
	acquire := func(id string) bool {
		t.Helper()
		held, err := dst.AcquireSlot(ctx, k, 1, id)
		if err != nil {
			t.Fatal(err)
		}
		return held
	}
	if acquire("e-new") {
		t.Fatal("a new instance got the slot that the imported b-holder holds")
	}
	if acquire("d-first") || acquire("c-second") {
		t.Fatal("a queued instance got the slot that the imported b-holder holds")
	}
	if err := dst.ReleaseSlot(ctx, k, "b-holder"); err != nil {
		t.Fatal(err)
	}
	if !acquire("d-first") || acquire("c-second") || acquire("e-new") {
		t.Error("the slot given back did not go to d-first, the first to arrive")
	}
	// An import completed again (Merge) leaves every place as it is.
	if got := importInto(t, export(t, src), dst, transfer.ImportOptions{Merge: true}); got.Skipped != 4 {
		t.Errorf("the repeated import skipped %d of 4", got.Skipped)
	}
	if !acquire("d-first") || acquire("c-second") {
		t.Error("the repeated import moved the slot")
	}
}
