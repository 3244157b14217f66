package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/store"
	"github.com/orbit-sidecar/orbit/store/bolt/bolttest"
)

// TestDamagedRecordAtRestart damages the stored record of one waiting
// instance of a workflow with a concurrency key: the restart used to fail
// whole while rebuilding the queues. Now the others resume and the queue
// behind them moves on.
func TestDamagedRecordAtRestart(t *testing.T) {
	wf := workflow("serial", "Gate", &flow.State{Name: "Gate", Kind: flow.Await, Event: "done"})
	wf.Concurrency = &flow.Concurrency{Key: path("$.order"), Limit: 1}
	h := newHarness(t, bundle(wf))
	ctx := context.Background()
	a := h.start("serial", `{"order":"o1"}`)
	h.waitingFor(a, "event")
	queued := h.start("serial", `{"order":"o1"}`)
	h.until(queued, "queued", func(in *store.Instance) bool { return in.Status == store.Queued })
	bad := h.start("serial", `{"order":"o2"}`)
	h.waitingFor(bad, "event")

	h.close()
	bolttest.DamageRecord(t, h.path, bad)
	h.open()
	if _, err := h.engine.Get(bad); !errors.Is(err, store.ErrDamaged) {
		t.Fatalf("damaged instance: %v", err)
	}
	if err := h.engine.Send(ctx, a, "done", nil); err != nil {
		t.Fatal(err)
	}
	h.end(a)
	h.waitingFor(queued, "event")
}

// TestSweepKeepsBundlesForDamagedRecords: an unfinished instance whose
// record cannot be read may need any kept bundle, so none is dropped.
func TestSweepKeepsBundlesForDamagedRecords(t *testing.T) {
	old := versioned("old-d", "v1", workflow("w", "Gate", &flow.State{Name: "Gate", Kind: flow.Await, Event: "go"}))
	h := newHarness(t, old)
	ctx := context.Background()
	bad := h.start("w", `{}`)
	h.waitingFor(bad, "event")
	h.close()
	bolttest.DamageRecord(t, h.path, bad)
	h.bundle = versioned("current-d", "v2", workflow("w", "A", &flow.State{Name: "A", Kind: flow.Pass}))
	h.open()

	_, dropped, err := h.engine.Sweep(ctx, time.Hour)
	if err == nil || !strings.Contains(err.Error(), bad) || dropped != 0 {
		t.Fatalf("sweep: dropped %d, %v; want none dropped and an error naming %s", dropped, err, bad)
	}
	if _, err := h.store.Bundle("old-d"); err != nil {
		t.Fatalf("bundle the damaged instance may need was dropped: %v", err)
	}
}

// TestLoadRestoresDamagedBundle: the loaded bundle's kept sources were
// damaged on disk; its hash names them, so Load stores them again instead
// of failing the start.
func TestLoadRestoresDamagedBundle(t *testing.T) {
	b := versioned("kept-d", "v1", workflow("w", "A", &flow.State{Name: "A", Kind: flow.Pass}))
	h := newHarness(t, b)
	h.close()
	bolttest.DamageBundle(t, h.path, "kept-d")
	h.open()
	if kept, err := h.store.Bundle("kept-d"); err != nil || string(kept.Files["bundle"]) != "kept-d" {
		t.Fatalf("kept sources after the load: %+v, %v", kept, err)
	}
	output(t, h.end(h.start("w", `{}`)))
}
