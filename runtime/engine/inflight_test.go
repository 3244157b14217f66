package engine_test

import (
	"context"
	"fmt"
	"slices"
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
// up, a paused instance's timer when the resumed instance ends the wait,
// and the timer of an instance that is gone when its driver finds no
// instance to load (the store keeps that timer: nothing removes it).
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
	ghost := store.Timer{At: epoch.Add(time.Hour), Instance: "gone", Kind: "wake"}
	if err := h.store.Commit(context.Background(), &store.Batch{SetTimers: []store.Timer{ghost}}); err != nil {
		t.Fatal(err)
	}
	h.restart() // the engine reads the ghost's timer from the store
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
	settled(t, h, "after both instances ended", ghost)
	if flaky.n() != 4 {
		t.Errorf("the flaky observer ran %d times, want 2 for each instance", flaky.n())
	}
}
