package engine_test

import (
	"fmt"
	"slices"
	"sync"
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

// log records what ran, in order, with the input each call got.
type runLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *runLog) add(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *runLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lines)
}

// A before observer sees the state's input and has returned before the
// state runs; an after observer sees the state's output.
func TestBeforeObserverRunsAheadOfTheState(t *testing.T) {
	var log runLog
	wf := workflow("o", "Save",
		&flow.State{Name: "Save", Kind: flow.Task, Result: path("$.saved"), Routine: fn(func(in any, _ *flow.Context) (any, error) {
			log.add("task %s", js(in))
			return "yes", nil
		})})
	b := bundle(wf)
	watch := func(name string) flow.Routine {
		return fn(func(in any, c *flow.Context) (any, error) {
			log.add("%s %s %s", name, js(in), c.State)
			return nil, nil
		})
	}
	b.Observers = []*flow.Observer{
		{Workflow: "o", On: "StateExited", State: "Save", RoutineName: "after", Routine: watch("after"), Input: path("$.saved")},
		{Workflow: "o", On: "StateEntered", State: "Save", Before: true, RoutineName: "before", Routine: watch("before"), Input: path("$.order")},
	}
	h := newHarness(t, b)
	id := h.start("o", `{"order":{"id":7}}`)
	if in := h.end(id); in.Status != store.Succeeded {
		t.Fatalf("instance is %s", in.Status)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(log.get()) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("ran %v", log.get())
		}
		time.Sleep(time.Millisecond)
	}
	want := []string{`before {"id":7} Save`, `task {"order":{"id":7}}`, `after "yes" Save`}
	if got := log.get(); !slices.Equal(got, want) {
		t.Fatalf("ran %v, want %v", got, want)
	}
}

// A failing before observer does not hold the state up or fail the
// instance: its retries run as observer jobs about the StateEntered event,
// and one without retries left is recorded as ObserverFailed.
func TestBeforeObserverFailures(t *testing.T) {
	var retried, dropped calls
	wf := workflow("o", "A", &flow.State{Name: "A", Kind: flow.Pass})
	b := bundle(wf)
	b.Observers = []*flow.Observer{
		{Workflow: "o", On: "StateEntered", State: "A", Before: true, RoutineName: "retried",
			Routine: fn(func(_ any, c *flow.Context) (any, error) {
				if retried.add(c) == 1 {
					return nil, &flow.Error{Name: "Flaky", Cause: "not yet"}
				}
				return nil, nil
			}),
			Retry: []flow.Retrier{{Errors: []string{flow.ErrAll}, MaxAttempts: 1, Interval: time.Second, Backoff: 2}}},
		{Workflow: "*", On: "StateEntered", State: "A", Before: true, RoutineName: "dropped",
			Routine: fn(func(_ any, c *flow.Context) (any, error) {
				dropped.add(c)
				return nil, &flow.Error{Name: "Down", Cause: "mail server down"}
			})},
	}
	h := newHarness(t, b)
	id := h.start("o", `{}`)
	if in := h.end(id); in.Status != store.Succeeded {
		t.Fatalf("instance is %s", in.Status)
	}
	if retried.n() != 1 || dropped.n() != 1 {
		t.Fatalf("first calls: retried %d, dropped %d; both should have run in the step", retried.n(), dropped.n())
	}
	h.advance(time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for retried.n() < 2 || timers(t, h) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("retried observer ran %d times; %d timers left", retried.n(), timers(t, h))
		}
		time.Sleep(time.Millisecond)
	}
	if c := retried.ctxs; c[1].Attempt != 2 || c[1].IdempotencyKey != c[0].IdempotencyKey {
		t.Errorf("retry: attempt %d, key %q; first key %q", c[1].Attempt, c[1].IdempotencyKey, c[0].IdempotencyKey)
	}
	var failed []store.Event
	for _, ev := range h.history(id) {
		if ev.Type == "ObserverFailed" {
			failed = append(failed, ev)
		}
	}
	if len(failed) != 1 || failed[0].Error != "Down" || failed[0].State != "A" || failed[0].Cause != "dropped: mail server down" {
		t.Fatalf("ObserverFailed events %+v, want one for the dropped observer", failed)
	}
	if dropped.n() != 1 {
		t.Errorf("an observer without retries ran %d times", dropped.n())
	}
}

// TestObserverJobsFiringWhileClosing: timers fire observer jobs while the
// engine closes; the queue's stop must not race a job's start (the race
// detector caught WaitGroup.Add during Wait).
func TestObserverJobsFiringWhileClosing(t *testing.T) {
	wf := workflow("o", "A", &flow.State{Name: "A", Kind: flow.Pass})
	b := bundle(wf)
	b.Observers = []*flow.Observer{{Workflow: "o", On: "StateEntered", RoutineName: "noop",
		Routine: fn(func(any, *flow.Context) (any, error) { return nil, nil })}}
	for range 20 {
		h := newHarness(t, b)
		for range 20 {
			h.start("o", `{}`)
		}
		h.restart() // closes while the jobs owed by those starts fire
	}
}
