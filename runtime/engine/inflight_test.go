package engine_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/internal/orbittest"
	"github.com/orbit-sidecar/orbit/runtime/engine"
	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/store"
)

// settled waits until the engine holds no timer and none is in flight (each
// timer that fired was removed, or given up on, by the work it started),
// and the store keeps only the timers left.
func settled(t *testing.T, h *harness, what string, left ...store.Timer) {
	t.Helper()
	orbittest.For(t, orbittest.Timeout, func() error {
		stored := storedTimers(t, h)
		held, inFlight := engine.HeldTimers(h.engine), engine.InFlightTimers(h.engine)
		if held+inFlight > 0 || !slices.Equal(stored, left) {
			return fmt.Errorf("%s: %d timers held, %d in flight, %v stored, want none, none, %v", what, held, inFlight, stored, left)
		}
		return nil
	})
}

// Every timer that fires leaves the engine's in-flight set once its work is
// done: a wait's timer with the checkpoint that ends the wait, an observer
// job with its removal, its retry or the ObserverFailed event that gives it
// up, and a paused instance's timer when the resumed instance ends the
// wait.
func TestFiredTimersLeaveNothingInFlight(t *testing.T) {
	var flaky calls
	wf := workflow("w", "Sleep", &flow.State{Name: "Sleep", Kind: flow.Wait, WaitFor: time.Hour})
	b := bundle(wf)
	b.Observers = []*flow.Observer{
		{Workflow: "w", On: "ExecutionSucceeded", RoutineName: "flaky",
			Routine: fn(func(_ any, c *flow.Context) (any, error) {
				if flaky.add(c)%2 == 1 { // the first call for each instance
					return nil, &flow.Error{Name: "Flaky", Cause: "not yet"}
				}
				return nil, nil
			}),
			Retry: []flow.Retrier{{Errors: []string{flow.ErrAll}, MaxAttempts: 1, Interval: time.Second}}},
		{Workflow: "w", On: "ExecutionSucceeded", RoutineName: "broken",
			Routine: fn(func(any, *flow.Context) (any, error) { return nil, &flow.Error{Name: "Broken", Cause: "always"} })},
	}
	h := newHarness(t, b)
	done, paused := h.start("w", `{}`), h.start("w", `{}`)
	h.waitingFor(done, store.WaitTimer)
	h.waitingFor(paused, store.WaitTimer)
	if err := h.engine.Pause(paused); err != nil {
		t.Fatal(err)
	}
	h.advance(time.Hour)
	h.end(done)
	h.advance(time.Second) // the flaky observer's retry
	orbittest.For(t, orbittest.Timeout, func() error {
		if flaky.n() < 2 {
			return fmt.Errorf("the flaky observer ran %d times, want 2", flaky.n())
		}
		return nil
	})
	orbittest.For(t, orbittest.Timeout, func() error {
		// The paused instance's timer fired, and stays until the instance
		// is resumed and ends its wait.
		if n := engine.InFlightTimers(h.engine); n != 1 || engine.HeldTimers(h.engine) != 0 {
			return fmt.Errorf("%d timers in flight and %d held, want the paused instance's 1 and none", n, engine.HeldTimers(h.engine))
		}
		return nil
	})
	if err := h.engine.Resume(paused); err != nil {
		t.Fatal(err)
	}
	h.end(paused)
	h.advance(time.Second) // the paused instance's flaky observer retries as well
	settled(t, h, "after both instances ended")
	if flaky.n() != 4 {
		t.Errorf("the flaky observer ran %d times, want 2 for each instance", flaky.n())
	}
}

// A timer whose instance is gone, as a store written before such timers
// were dropped holds (one written after its instance's removal), is
// deleted when the engine opens, and is not held, so it never fires: a
// wake-up's and an observer job's alike. Before, its work found no
// instance and the store kept it, to fire again at every open.
func TestOrphanTimersAreDeletedAtOpen(t *testing.T) {
	wf := workflow("w", "Sleep", &flow.State{Name: "Sleep", Kind: flow.Wait, WaitFor: time.Hour})
	h := newHarness(t, bundle(wf))
	parked := h.start("w", `{}`)
	h.waitingFor(parked, store.WaitTimer)
	want := storedTimers(t, h) // the parked instance's
	ghosts := []store.Timer{
		{At: epoch.Add(time.Minute), Instance: "gone", Kind: "wake"},
		{At: epoch.Add(time.Minute), Instance: "gone", Kind: "observe:3:0:2"},
	}
	if err := h.store.Commit(context.Background(), &store.Batch{SetTimers: ghosts}); err != nil {
		t.Fatal(err)
	}
	h.restart()
	if got := storedTimers(t, h); !slices.Equal(got, want) {
		t.Fatalf("stored timers after the open: %v, want only %v", got, want)
	}
	if n := engine.HeldTimers(h.engine); n != len(want) {
		t.Fatalf("the engine holds %d timers, want %d", n, len(want))
	}
	h.advance(time.Hour)
	h.end(parked)
	settled(t, h, "after the parked instance ended")
}

// A timer written after its instance was removed (a write that raced the
// removal) is deleted when it fires and its work finds no instance.
func TestOrphanTimerIsDeletedWhenItFires(t *testing.T) {
	wf := workflow("w", "Sleep", &flow.State{Name: "Sleep", Kind: flow.Wait, WaitFor: time.Hour})
	h := newHarness(t, bundle(wf))
	id := h.start("w", `{}`)
	h.waitingFor(id, store.WaitTimer)
	late := storedTimers(t, h)
	ctx := context.Background()
	if err := h.store.Commit(ctx, &store.Batch{Purge: []string{id}}); err != nil {
		t.Fatal(err)
	}
	if err := h.store.Commit(ctx, &store.Batch{SetTimers: late}); err != nil {
		t.Fatal(err)
	}
	h.advance(time.Hour)
	settled(t, h, "after the orphan fired")
}

// An ended instance that the sweep purges takes the timers it still has
// with it, in the same write: here an observer job's retry, owed an hour
// after the instance ended. The job's timer, which the engine still
// holds, finds no instance when it fires, and the observer is not called.
func TestSweepRemovesThePurgedInstancesTimers(t *testing.T) {
	var observed calls
	b := bundle(workflow("w", "A", &flow.State{Name: "A", Kind: flow.Pass}))
	b.Observers = []*flow.Observer{{Workflow: "w", On: "ExecutionSucceeded", RoutineName: "down",
		Routine: fn(func(_ any, c *flow.Context) (any, error) {
			observed.add(c)
			return nil, &flow.Error{Name: "Down", Cause: "try later"}
		}),
		Retry: []flow.Retrier{{Errors: []string{flow.ErrAll}, MaxAttempts: 3, Interval: time.Hour}}}}
	h := newHarness(t, b)
	id := h.start("w", `{}`)
	h.end(id)
	orbittest.For(t, orbittest.Timeout, func() error {
		if tms := storedTimers(t, h); observed.n() != 1 || len(tms) != 1 || !strings.HasSuffix(tms[0].Kind, ":2") {
			return fmt.Errorf("observer called %d times, timers stored %v; want once, and its retry", observed.n(), tms)
		}
		return nil
	})
	h.clock.Advance(time.Minute)
	idle(t, h.engine, id)
	if purged, _, err := h.engine.Sweep(context.Background(), time.Second); err != nil || purged != 1 {
		t.Fatalf("purged %d, %v", purged, err)
	}
	if tms := storedTimers(t, h); len(tms) != 0 {
		t.Fatalf("timers of the purged instance left: %v", tms)
	}
	h.advance(time.Hour)
	settled(t, h, "after the purged instance's job came due")
	if n := observed.n(); n != 1 {
		t.Errorf("the observer was called %d times, want once: its instance is gone", n)
	}
}
