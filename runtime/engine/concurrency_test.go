package engine_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/store"
)

// serial is a workflow that lets one instance per order run at a time, and
// holds it until its "done" event.
func serial() *flow.Workflow {
	wf := workflow("serial", "Gate", &flow.State{Name: "Gate", Kind: flow.Await, Event: "done"})
	wf.Concurrency = &flow.Concurrency{Key: path("$.order"), Limit: 1}
	return wf
}

func (h *harness) queued(id string) *store.Instance {
	h.t.Helper()
	return h.until(id, "queued", func(in *store.Instance) bool { return in.Status == store.Queued })
}

func (h *harness) send(id, event string) {
	h.t.Helper()
	if err := h.engine.Send(context.Background(), id, event, nil); err != nil {
		h.t.Fatal(err)
	}
}

// Instances queued under a key that only an older bundle declares start
// in turn after a reload and a restart: the queues are rebuilt from the
// instances, whatever the current bundle declares.
func TestQueuedOnAnOlderBundleStartAfterReloadAndRestart(t *testing.T) {
	v1 := versioned("conc1", "v1", serial())
	v2 := versioned("conc2", "v2", workflow("other", "A", &flow.State{Name: "A", Kind: flow.Pass}))
	h := newHarness(t, v1)
	a := h.start("serial", `{"order":"o1"}`)
	h.waitingFor(a, "event")
	b := h.start("serial", `{"order":"o1"}`)
	h.queued(b)
	h.bundle = v2 // the reload: the restart loads v2, which declares no key
	h.restart()
	h.send(a, "done")
	h.end(a)
	h.waitingFor(b, "event")
}

// An instance paused while QUEUED keeps its place in the queue across a
// restart instead of counting as a holder, and runs once resumed and
// admitted.
func TestPausedWhileQueuedKeepsItsPlaceAcrossRestart(t *testing.T) {
	h := newHarness(t, bundle(serial()))
	a := h.start("serial", `{"order":"o1"}`)
	h.waitingFor(a, "event")
	b := h.start("serial", `{"order":"o1"}`)
	h.queued(b)
	if err := h.engine.Pause(b); err != nil {
		t.Fatal(err)
	}
	h.restart()
	c := h.start("serial", `{"order":"o1"}`)
	h.queued(c)
	h.send(a, "done")
	h.end(a)
	if err := h.engine.Resume(b); err != nil {
		t.Fatal(err)
	}
	h.waitingFor(b, "event")
	if in, _ := h.engine.Get(c); in.Status != store.Queued {
		t.Fatalf("c is %s while b holds the slot", in.Status)
	}
	h.send(b, "done")
	h.waitingFor(c, "event")
}

// A redriven instance takes a slot again, or waits for one: it gave its
// slot back when it failed.
func TestRedriveWaitsForAConcurrencySlot(t *testing.T) {
	var broken atomic.Bool
	broken.Store(true)
	wf := workflow("serial", "Check",
		&flow.State{Name: "Check", Kind: flow.Task, Next: "Gate", Routine: fn(func(in any, _ *flow.Context) (any, error) {
			if broken.Load() {
				return nil, &flow.Error{Name: "Down", Cause: "not yet"}
			}
			return in, nil
		})},
		&flow.State{Name: "Gate", Kind: flow.Await, Event: "done"})
	wf.Concurrency = &flow.Concurrency{Key: path("$.order"), Limit: 1}
	h := newHarness(t, bundle(wf))
	a := h.start("serial", `{"order":"o1"}`)
	if in := h.end(a); in.Status != store.Failed {
		t.Fatalf("a is %s", in.Status)
	}
	broken.Store(false)
	b := h.start("serial", `{"order":"o1"}`)
	h.waitingFor(b, "event")
	if err := h.engine.Redrive(a); err != nil {
		t.Fatal(err)
	}
	h.queued(a)
	h.send(b, "done")
	h.end(b)
	h.waitingFor(a, "event")
	c := h.start("serial", `{"order":"o1"}`)
	h.queued(c)
}
