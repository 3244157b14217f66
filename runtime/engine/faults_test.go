package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/internal/orbittest"
	"github.com/orbit-sidecar/orbit/runtime/engine"
	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/store"
	"github.com/orbit-sidecar/orbit/store/storetest"
)

// diskFull is what a write to a full disk returns.
var diskFull = fmt.Errorf("write orbit.db: %w", syscall.ENOSPC)

// A full disk stops no instance for good. While the store cannot write,
// new work is refused with the cause and Ready says so; checkpoints that
// failed are written again once it can, so a timer that fired and an
// event kept during the fault are applied without a restart, each once.
func TestStoreFaultsAreRetriedAndEverythingResumes(t *testing.T) {
	nap := workflow("nap", "Sleep", &flow.State{Name: "Sleep", Kind: flow.Wait, WaitFor: time.Minute})
	gate := workflow("gate", "Gate", &flow.State{Name: "Gate", Kind: flow.Await, Event: "go", Result: path("$.ev")})
	h := newHarness(t, bundle(nap, gate))
	ctx := context.Background()
	a := h.start("nap", `{}`)
	h.waitingFor(a, "timer")
	b := h.start("gate", `{}`)
	h.waitingFor(b, "event")

	// The disk fills up: the small write that keeps an event still lands,
	// the checkpoint that would take it does not.
	h.faults.FailWritesIf(storetest.Checkpoints, diskFull)
	if err := h.engine.Send(ctx, b, "go", json.RawMessage(`{"n":1}`)); err != nil {
		t.Fatalf("the event was kept, its send must succeed: %v", err)
	}
	orbittest.For(t, orbittest.Timeout, func() error {
		if h.engine.Ready() == nil {
			return errors.New("the failed checkpoint left the engine ready")
		}
		return nil
	})
	// Now nothing writes, and the timer fires: its checkpoint is tried,
	// and fails.
	var timerTried atomic.Bool
	h.faults.FailWritesIf(func(b *store.Batch) bool {
		for _, ev := range batchEvents(b) {
			if ev.Instance == a && ev.Type == store.EventTimerFired {
				timerTried.Store(true)
			}
		}
		return true
	}, diskFull)
	h.clock.Advance(time.Minute)
	orbittest.For(t, orbittest.Timeout, func() error {
		if !timerTried.Load() {
			return errors.New("the fired timer's checkpoint was not tried")
		}
		return nil
	})
	if err := h.engine.Ready(); !errors.Is(err, engine.ErrUnavailable) || !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("Ready: %v", err)
	}
	if _, _, err := h.engine.Start(ctx, "gate", engine.StartOptions{}); !errors.Is(err, engine.ErrUnavailable) ||
		!strings.Contains(err.Error(), "no space left") {
		t.Fatalf("start while the store cannot write: %v", err)
	}
	if err := h.engine.Send(ctx, b, "other", nil); !errors.Is(err, engine.ErrUnavailable) {
		t.Fatalf("send while the store cannot write: %v", err)
	}
	if err := h.engine.Cancel(a); !errors.Is(err, engine.ErrUnavailable) {
		t.Fatalf("cancel while the store cannot write: %v", err)
	}
	for _, id := range []string{a, b} {
		if in, _ := h.engine.Get(id); in.Status != store.Waiting {
			t.Fatalf("%s is %s in the store during the fault", id, in.Status)
		}
	}

	// Space returns: everything carries on by itself, on the engine's clock.
	h.faults.Heal()
	orbittest.For(t, orbittest.Timeout, func() error {
		h.clock.Advance(time.Second)
		for _, id := range []string{a, b} {
			if in, err := h.engine.Get(id); err != nil || !in.Status.Terminal() {
				return fmt.Errorf("%s has not ended: %+v %v", id, in, err)
			}
		}
		return nil
	})
	if err := h.engine.Ready(); err != nil {
		t.Fatalf("Ready after the fault: %v", err)
	}
	if got := js(output(t, h.end(b))); got != `{"ev":{"n":1}}` {
		t.Fatalf("b output %s", got)
	}
	output(t, h.end(a))
	if n := count(types(h.history(a)), "TimerFired"); n != 1 {
		t.Fatalf("TimerFired %d times: %v", n, types(h.history(a)))
	}
	if n := count(types(h.history(b)), "EventReceived"); n != 1 {
		t.Fatalf("EventReceived %d times: %v", n, types(h.history(b)))
	}
	h.waitingFor(h.start("gate", `{}`), "event")
}

func batchEvents(b *store.Batch) []store.Event {
	if b == nil {
		return nil
	}
	return b.Events
}

// A change whose checkpoint cannot be written before the engine closes is
// answered with the store's error, not a bare "checkpoint failed", and is
// not applied.
func TestUnwrittenChangeNamesTheCause(t *testing.T) {
	nap := workflow("nap", "Sleep", &flow.State{Name: "Sleep", Kind: flow.Wait, WaitFor: time.Hour})
	h := newHarness(t, bundle(nap))
	a := h.start("nap", `{}`)
	h.waitingFor(a, "timer")
	h.faults.FailWrites(diskFull)
	paused := make(chan error, 1)
	go func() { paused <- h.engine.Pause(a) }()
	orbittest.For(t, orbittest.Timeout, func() error {
		if h.engine.Ready() == nil {
			return errors.New("the pause has not tried to checkpoint")
		}
		return nil
	})
	h.close()
	err := <-paused
	if !errors.Is(err, engine.ErrUnavailable) || !strings.Contains(err.Error(), "no space left") || !strings.Contains(err.Error(), a) {
		t.Fatalf("pause answered %v", err)
	}
	h.open()
	if in := h.waitingFor(a, "timer"); in.Status != store.Waiting {
		t.Fatalf("the unwritten pause was applied: %s", in.Status)
	}
}
