package bolt_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/store"
	"github.com/orbit-sidecar/orbit/store/bolt"
	"github.com/orbit-sidecar/orbit/store/bolt/bolttest"
)

// chained makes an instance with events history events, hashed as the
// engine hashes them, except the first legacy ones (written before the
// chain existed); status is what it ends with.
func chained(id string, events, legacy int, status store.Status) (*store.Instance, []store.Event) {
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	in := &store.Instance{Public: store.Public{ID: id, Workflow: "order", Version: "v1", Status: status,
		Input: json.RawMessage(`{"order":"` + id + `"}`), StartedAt: t0, UpdatedAt: t0}, Bundle: "b1"}
	if status.Terminal() {
		in.EndedAt = &t0
	}
	var evs []store.Event
	for i := range events {
		in.Seq++
		ev := store.Event{Instance: id, Seq: in.Seq, Type: store.EventTaskSucceeded, Time: t0.Add(time.Duration(i) * time.Millisecond),
			State: fmt.Sprintf("Step%d", i), Output: json.RawMessage(fmt.Sprintf(`{"charged":%d,"order":%q}`, 40+i, id))}
		if i >= legacy {
			ev.Hash = store.ChainHash(in.Chain, &ev)
			in.Chain = ev.Hash
		}
		evs = append(evs, ev)
	}
	return in, evs
}

// verifiable writes a closed store of chained instances (one of them
// partly legacy, one ended), a kept event, a timer and a bundle.
func verifiable(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "orbit.db")
	db, err := bolt.Open(path, bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	var b store.Batch
	for i, spec := range []struct {
		legacy int
		status store.Status
	}{{0, store.Waiting}, {3, store.Waiting}, {0, store.Succeeded}, {5, store.Running}} {
		in, evs := chained(fmt.Sprintf("order-%d", i), 5, spec.legacy, spec.status)
		b.Instances = append(b.Instances, in)
		b.Events = append(b.Events, evs...)
	}
	b.AddPending = []store.PendingEvent{{Instance: "order-0", Name: "paid", Payload: json.RawMessage(`{"amount":42}`)}}
	b.SetTimers = []store.Timer{{At: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), Instance: "order-1", Kind: "wake"}}
	b.Bundles = []store.BundleSources{{Hash: "b1", Files: map[string][]byte{"order.lua": []byte("-- order")}}}
	if err := db.Commit(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestVerifySoundFile(t *testing.T) {
	path := verifiable(t)
	before := bolttest.Sum(t, path)
	rep, err := bolt.Verify(path)
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(rep.Instances, rep.Events, rep.Hashed, rep.Chains, rep.Pending, rep.Timers, rep.Bundles)
	if want := fmt.Sprint(4, 20, 12, 3, 1, 1, 1); got != want {
		t.Errorf("instances events hashed chains pending timers bundles = %s, want %s", got, want)
	}
	if bolttest.Sum(t, path) != before {
		t.Error("Verify wrote to the file")
	}
	// An older file with no chain at all, as every store was before it.
	if _, err := bolt.Verify(seedFile(t, 50)); err != nil {
		t.Errorf("a store written before the chain existed: %v", err)
	}
}

// editInFile replaces the only occurrence of old in the file's bytes with
// new, of the same length, in place.
func editInFile(t *testing.T, path, old, new string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(old) != len(new) || bytes.Count(raw, []byte(old)) != 1 {
		t.Fatalf("%q is not in %s exactly once, or %q differs in length", old, path, new)
	}
	off := bytes.Index(raw, []byte(old))
	bolttest.Change(t, path, int64(off), len(new), func(b []byte) { copy(b, new) })
}

func TestVerifyFindsDamage(t *testing.T) {
	cases := []struct {
		name   string
		damage func(t *testing.T, path string)
		is     error
		want   string
	}{
		{"edited history event", func(t *testing.T, path string) {
			// The edit leaves valid JSON of the same length: only the
			// chain can tell.
			editInFile(t, path, `{"charged":42,"order":"order-0"}`, `{"charged":99,"order":"order-0"}`)
		}, store.ErrBrokenChain, ""},
		{"flipped byte in an event", func(t *testing.T, path string) {
			raw, _ := os.ReadFile(path)
			off := bytes.Index(raw, []byte(`"state":"Step3","output":{"charged":43,"order":"order-2"}`))
			bolttest.Flip(t, path, int64(off+len(`"state":"Step`)), 0x02) // Step3 becomes Step1
		}, store.ErrBrokenChain, ""},
		{"flipped byte in an instance record", func(t *testing.T, path string) {
			raw, _ := os.ReadFile(path)
			off := bytes.Index(raw, []byte(`{"id":"order-2"`))
			bolttest.Flip(t, path, int64(off+1), 0x40) // the quote of "id" becomes a 'b'
		}, store.ErrDamaged, `stored record of instance "order-2" is damaged`},
		{"edited head", func(t *testing.T, path string) {
			raw, _ := os.ReadFile(path)
			rec := bytes.Index(raw, []byte(`{"id":"order-0"`))
			off := rec + bytes.Index(raw[rec:], []byte(`"chain":"`)) + len(`"chain":"`)
			bolttest.Change(t, path, int64(off), 1, func(b []byte) {
				if b[0] = '0'; raw[off] == '0' {
					b[0] = '1'
				}
			})
		}, store.ErrBrokenChain, `instance "order-0": history chain: the instance record's head`},
		{"truncated file", func(t *testing.T, path string) {
			rep, err := bolt.CheckFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(path, int64(rep.Pages-1)*int64(rep.PageSize)); err != nil {
				t.Fatal(err)
			}
		}, bolt.ErrDamagedFile, "it was cut short"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := verifiable(t)
			c.damage(t, path)
			_, err := bolt.Verify(path)
			t.Log(err)
			if !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Verify: %v, want %v saying %q", err, c.is, c.want)
			}
			if c.is == store.ErrBrokenChain && !strings.Contains(err.Error(), "history event 3") &&
				!strings.Contains(err.Error(), "history event 4") && c.want == "" {
				t.Fatalf("Verify: %v, want the event edited named", err)
			}
		})
	}
}

func TestVerifyRefusesAFileInUse(t *testing.T) {
	path := verifiable(t)
	open(t, path)
	if _, err := bolt.Verify(path); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("Verify of a store in use: %v", err)
	}
}

// TestSnapshotWhileCommitting backs up a store through Snapshot while a
// writer keeps committing: every commit starts an instance and extends the
// chain of one long-lived instance, so a copy that split a commit would
// fail verify. The copy must verify and hold every commit acknowledged
// before the snapshot was asked for.
func TestSnapshotWhileCommitting(t *testing.T) {
	path := verifiable(t)
	db := open(t, path)
	ctx := context.Background()
	var acked atomic.Int64
	stop, done := make(chan struct{}), make(chan error, 1)
	go func() {
		ledger, _ := chained("ledger", 0, 0, store.Running)
		for i := 1; ; i++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			in, evs := chained(fmt.Sprintf("later-%d", i), 3, 0, store.Running)
			l := *ledger // the store may keep what it was given
			l.Seq++
			ev := store.Event{Instance: l.ID, Seq: l.Seq, Type: store.EventTaskSucceeded, Time: l.StartedAt,
				State: "Count", Output: json.RawMessage(fmt.Sprint(i))}
			ev.Hash = store.ChainHash(l.Chain, &ev)
			l.Chain = ev.Hash
			if err := db.Commit(ctx, &store.Batch{Instances: []*store.Instance{in, &l}, Events: append(evs, ev)}); err != nil {
				done <- err
				return
			}
			ledger = &l
			acked.Store(int64(i))
		}
	}()
	defer func() {
		close(stop)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}()
	for deadline := time.Now().Add(30 * time.Second); acked.Load() < 20; {
		if time.Now().After(deadline) {
			t.Fatalf("only %d commits in 30s", acked.Load())
		}
		time.Sleep(time.Millisecond)
	}
	before := acked.Load()
	snap, err := db.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "backup.db")
	rep, err := bolt.WriteFile(out, false, func(w io.Writer) error {
		_, err := snap.WriteTo(w)
		return err
	})
	snap.Close()
	if err != nil {
		t.Fatalf("the copy taken while committing: %v", err)
	}
	after := acked.Load()
	if after == before {
		t.Log("no commit was acknowledged while the copy was written")
	}
	copied := open(t, out)
	ledger, err := copied.Instance("ledger")
	if err != nil {
		t.Fatal(err)
	}
	// The copy holds the writer's first n commits, whole, for some n from
	// before up to the last acknowledged (one more may have been on its way).
	n := int64(ledger.Seq)
	if n < before || n > after+1 {
		t.Fatalf("the copy holds %d commits; %d were acknowledged before it was taken, %d after", n, before, after)
	}
	if want := 4 + 1 + int(n); rep.Instances != want || rep.Chains != 3+1+int(n) {
		t.Fatalf("the copy holds %d instances in %d chains; want %d of them, the ledger's %d commits", rep.Instances, rep.Chains, want, n)
	}
	for i := int64(1); i <= n; i++ {
		if evs, err := copied.History(fmt.Sprintf("later-%d", i), 0, 0); err != nil || len(evs) != 3 {
			t.Fatalf("later-%d in the copy: %d events, %v", i, len(evs), err)
		}
	}
}

// TestWriteFileIsAllOrNothing fails a write midway, as a crash would stop
// it: the file in place is untouched and nothing is left beside it.
func TestWriteFileIsAllOrNothing(t *testing.T) {
	path := verifiable(t)
	before := bolttest.Sum(t, path)
	_, err := bolt.WriteFile(path, true, func(w io.Writer) error {
		w.Write([]byte("half a file"))
		return errors.New("disk full")
	})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("WriteFile: %v", err)
	}
	if bolttest.Sum(t, path) != before {
		t.Fatal("a failed write changed the file in place")
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("left beside the file: %v", entries)
	}
	if _, err := bolt.WriteFile(path, false, func(io.Writer) error { return nil }); !errors.Is(err, bolt.ErrExists) {
		t.Fatalf("WriteFile over an existing file without replace: %v", err)
	}
}

// TestCompactKeepsEverything compacts a store whose purged instances left
// free pages: it shrinks, verifies, and reads back what it held.
func TestCompactKeepsEverything(t *testing.T) {
	path := verifiable(t)
	db := open(t, path)
	ctx := context.Background()
	var purge []string
	for i := range 40 {
		in, evs := chained(fmt.Sprintf("gone-%d", i), 4, 0, store.Succeeded)
		in.Input = json.RawMessage(`"` + strings.Repeat("x", 50_000) + `"`)
		if err := db.Commit(ctx, &store.Batch{Instances: []*store.Instance{in}, Events: evs}); err != nil {
			t.Fatal(err)
		}
		purge = append(purge, in.ID)
	}
	if err := db.Commit(ctx, &store.Batch{Purge: purge}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	before, after, err := bolt.Compact(path)
	if err != nil || after >= before {
		t.Fatalf("compact: %d to %d bytes, %v", before, after, err)
	}
	rep, err := bolt.Verify(path)
	if err != nil || rep.Instances != 4 || rep.Hashed != 12 {
		t.Fatalf("after compaction: %+v, %v", rep, err)
	}
	if rep.File.Size > 1<<20 {
		t.Fatalf("compacted to %d bytes, though only 4 small instances are left", rep.File.Size)
	}
	db = open(t, path)
	if evs, err := db.History("order-0", 0, 0); err != nil || len(evs) != 5 {
		t.Fatalf("history after compaction: %d events, %v", len(evs), err)
	}
}

// TestRestoreRefusesWhatVerifyRefuses restores a backup whose history was
// edited (its pages are sound; only the chain tells): refused, with the
// data file in place untouched; the sound backup is then restored.
func TestRestoreRefusesWhatVerifyRefuses(t *testing.T) {
	backup, data := verifiable(t), seedFile(t, 5)
	sound := filepath.Join(t.TempDir(), "sound.db")
	raw, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sound, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	editInFile(t, backup, `{"charged":42,"order":"order-0"}`, `{"charged":99,"order":"order-0"}`)
	before := bolttest.Sum(t, data)
	_, err = bolt.Restore(backup, data, true)
	if !errors.Is(err, store.ErrBrokenChain) || !strings.Contains(err.Error(), "fails verify, so it was not restored") {
		t.Fatalf("restore of an edited backup: %v", err)
	}
	if bolttest.Sum(t, data) != before {
		t.Fatal("a refused restore changed the data file")
	}
	if entries, _ := os.ReadDir(filepath.Dir(data)); len(entries) != 1 {
		t.Fatalf("a refused restore left beside the data file: %v", entries)
	}
	if _, err := bolt.Restore(sound, data, true); err != nil {
		t.Fatal(err)
	}
	if bolttest.Sum(t, data) != bolttest.Sum(t, sound) {
		t.Fatal("the restored data file is not the backup")
	}
}
