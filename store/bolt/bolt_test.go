package bolt_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/store"
	"github.com/orbit-sidecar/orbit/store/bolt"
	"github.com/orbit-sidecar/orbit/store/bolt/bolttest"
	"github.com/orbit-sidecar/orbit/store/storetest"
)

// TestConformance runs the shared suite against a real file, fsync on.
func TestConformance(t *testing.T) { storetest.Run(t, openStore) }

// TestDamagedRecord runs the shared damaged-record checks on a real file
// with one record's bytes changed on disk.
func TestDamagedRecord(t *testing.T) {
	storetest.RunDamaged(t, openStore, func(t *testing.T, path, id string) { bolttest.DamageRecord(t, path, id) })
}

func openStore(t *testing.T, path string) store.Store {
	db, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func open(t testing.TB, path string) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(path, bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func running(id string) *store.Instance {
	return &store.Instance{Public: store.Public{ID: id, Workflow: "wf", Status: store.Running, StartedAt: time.Now()}}
}

func TestSecondOpenSaysInUse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "orbit.db")
	open(t, path)
	_, err := bolt.Open(path, bolt.Options{})
	if err == nil || !strings.Contains(err.Error(), "data file "+path+" is in use by another process") {
		t.Fatalf("second open: %v", err)
	}
}

// TestBadBatchFailsAlone commits invalid batches among valid ones: each
// invalid one fails whole, and no valid one fails with it.
func TestBadBatchFailsAlone(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "orbit.db"))
	bad := []func(id string) *store.Batch{
		func(id string) *store.Batch {
			in := running(id)
			in.Input = json.RawMessage(`{not json`)
			return &store.Batch{Instances: []*store.Instance{in}}
		},
		func(id string) *store.Batch {
			return &store.Batch{Instances: []*store.Instance{running(id)}, Events: []store.Event{{Instance: id, Type: "NoSeq"}}}
		},
		func(id string) *store.Batch {
			return &store.Batch{Instances: []*store.Instance{running(id)}, Events: []store.Event{{Seq: 1, Type: "NoInstance"}}}
		},
		func(id string) *store.Batch {
			return &store.Batch{Instances: []*store.Instance{running(id)}, SetTimers: []store.Timer{{Instance: "x\x00y"}}}
		},
		func(id string) *store.Batch {
			return &store.Batch{Instances: []*store.Instance{running(id), nil}}
		},
		func(id string) *store.Batch {
			return &store.Batch{Instances: []*store.Instance{running(id)}, AddPending: []store.PendingEvent{{Instance: id}}}
		},
	}
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			id := fmt.Sprintf("i%03d", i)
			if i%4 == 0 {
				if err := db.Commit(context.Background(), bad[i/4%len(bad)](id)); err == nil {
					t.Errorf("bad batch %s committed", id)
				}
				return
			}
			if err := db.Commit(context.Background(), &store.Batch{Instances: []*store.Instance{running(id)}}); err != nil {
				t.Errorf("good batch %s: %v", id, err)
			}
		})
	}
	wg.Wait()
	for i := range 200 {
		_, err := db.Instance(fmt.Sprintf("i%03d", i))
		if i%4 == 0 && !errors.Is(err, store.ErrNotFound) {
			t.Errorf("part of bad batch %d was written: %v", i, err)
		}
		if i%4 != 0 && err != nil {
			t.Errorf("good batch %d: %v", i, err)
		}
	}
}

func TestClosed(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "orbit.db"))
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
	b := &store.Batch{Instances: []*store.Instance{running("a")}}
	if err := db.Commit(context.Background(), b); !errors.Is(err, bolt.ErrClosed) {
		t.Errorf("commit after close: %v", err)
	}
	if err := db.KVPut("ns", "k", []byte("v")); !errors.Is(err, bolt.ErrClosed) {
		t.Errorf("kv put after close: %v", err)
	}
}

func TestCommitCancelled(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "orbit.db"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := db.Commit(ctx, &store.Batch{Instances: []*store.Instance{running("a")}}); !errors.Is(err, context.Canceled) {
		t.Errorf("commit with a cancelled context: %v", err)
	}
}

// TestPendingChosenSeq mixes caller-chosen and store-chosen seqs: arrival
// order still holds.
func TestPendingChosenSeq(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "orbit.db"))
	add := func(seq uint64, payload string) {
		t.Helper()
		b := &store.Batch{AddPending: []store.PendingEvent{{Instance: "i", Name: "e", Seq: seq, Payload: []byte(payload)}}}
		if err := db.Commit(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
	add(40, "1")
	add(0, "2")
	for _, want := range []string{"1", "2"} {
		p, err := db.Pending("i", "e")
		if err != nil || string(p.Payload) != want {
			t.Fatalf("pending = %+v, %v; want payload %s", p, err, want)
		}
		if want == "1" && p.Seq != 40 {
			t.Errorf("chosen seq became %d", p.Seq)
		}
		if err := db.Commit(context.Background(), &store.Batch{DelPending: []store.PendingEvent{*p}}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDamagedBundle changes the kept sources of one bundle on disk: it
// reads as damaged, and the list of kept bundles leaves it out instead of
// failing whole.
func TestDamagedBundle(t *testing.T) {
	path := filepath.Join(t.TempDir(), "orbit.db")
	db := open(t, path)
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	b := &store.Batch{Bundles: []store.BundleSources{
		{Hash: "h1", Files: map[string][]byte{"a.lua": []byte("-- 1")}, AddedAt: at},
		{Hash: "h2", Files: map[string][]byte{"a.lua": []byte("-- 2")}, AddedAt: at.Add(time.Second)},
	}}
	if err := db.Commit(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	db.Close()
	bolttest.DamageBundle(t, path, "h1")
	db = open(t, path)
	if _, err := db.Bundle("h1"); !errors.Is(err, store.ErrDamaged) || !strings.Contains(err.Error(), "bundle h1") {
		t.Errorf("damaged bundle: %v", err)
	}
	all, err := db.Bundles()
	if err != nil || len(all) != 1 || all[0].Hash != "h2" {
		t.Errorf("bundles = %v, %v; want h2 alone", all, err)
	}
}

// TestOnCommitToldOfEveryGroupCommit commits from several goroutines: the
// hook hears of every group commit and of every checkpoint they carried,
// as Stats counts them.
func TestOnCommitToldOfEveryGroupCommit(t *testing.T) {
	var mu sync.Mutex
	calls, checkpoints := 0, 0
	db, err := bolt.Open(filepath.Join(t.TempDir(), "orbit.db"), bolt.Options{NoSync: true,
		OnCommit: func(n int, took time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			calls++
			checkpoints += n
			if took < 0 {
				t.Errorf("commit took %v", took)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const n = 50
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if err := db.Commit(context.Background(), &store.Batch{Instances: []*store.Instance{running(fmt.Sprint("i", i))}}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	st := db.Stats()
	mu.Lock()
	defer mu.Unlock()
	if checkpoints != n || uint64(calls) != st.Commits || calls == 0 {
		t.Errorf("hook heard of %d commits carrying %d checkpoints; stats %+v, want %d checkpoints", calls, checkpoints, st, n)
	}
}
