package engine_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/internal/orbittest"
	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/store"
)

func TestObserverSucceedsOnItsLastRetry(t *testing.T) {
	var got calls
	wf := workflow("o", "A", &flow.State{Name: "A", Kind: flow.Pass})
	b := bundle(wf)
	b.Observers = []*flow.Observer{{Workflow: "o", On: "ExecutionSucceeded", RoutineName: "flaky",
		Routine: fn(func(_ any, c *flow.Context) (any, error) {
			if got.add(c) <= 2 {
				return nil, &flow.Error{Name: "Flaky", Cause: "not yet"}
			}
			return nil, nil
		}),
		// Two retries, 1s then 2s apart: the third call is the last one allowed.
		Retry: []flow.Retrier{{Errors: []string{flow.ErrAll}, MaxAttempts: 2, Interval: time.Second, Backoff: 2}}}}
	h := newHarness(t, b)
	id := h.start("o", `{}`)
	if in := h.end(id); in.Status != store.Succeeded {
		t.Fatalf("instance is %s", in.Status)
	}
	h.advance(time.Second)
	h.advance(2 * time.Second)
	orbittest.For(t, orbittest.Timeout, func() error {
		if got.n() < 3 || timers(t, h) > 0 {
			return fmt.Errorf("observer ran %d times; %d timers left", got.n(), timers(t, h))
		}
		return nil
	})
	if got.n() != 3 {
		t.Fatalf("observer ran %d times, want 3", got.n())
	}
	for i, c := range got.ctxs {
		if c.Attempt != i+1 || c.IdempotencyKey != got.keys[0] {
			t.Errorf("call %d: attempt %d, key %q (first key %q)", i+1, c.Attempt, c.IdempotencyKey, got.keys[0])
		}
	}
	if evs := types(h.history(id)); slices.Contains(evs, "ObserverFailed") || evs[len(evs)-1] != "ExecutionSucceeded" {
		t.Fatalf("history %v", evs)
	}
	if in, _ := h.engine.Get(id); in.Status != store.Succeeded {
		t.Fatalf("the observer changed the instance: %s", in.Status)
	}
}
