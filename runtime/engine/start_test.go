package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/internal/orbittest"
	"github.com/orbit-sidecar/orbit/runtime/engine"
	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/store"
)

// A waited-for start is stored with its first step: one checkpoint fewer,
// and Wait hands over the final instance.
func TestWaitedStartRidesOnTheFirstStep(t *testing.T) {
	wf := workflow("w", "A", &flow.State{Name: "A", Kind: flow.Task, Routine: add(1)})
	h := newHarness(t, bundle(wf))
	checkpoints := func(wait bool) uint64 {
		before := h.store.Stats().Checkpoints
		in, _, err := h.engine.Start(context.Background(), "w", engine.StartOptions{Input: json.RawMessage(`{"x":1}`), Wait: wait})
		if err != nil {
			t.Fatal(err)
		}
		if got := output(t, h.end(in.ID)); got != 2.0 {
			t.Fatalf("output %v", got)
		}
		if n := len(h.history(in.ID)); n != 6 {
			t.Fatalf("history has %d events: %v", n, types(h.history(in.ID)))
		}
		return h.store.Stats().Checkpoints - before
	}
	if plain, waited := checkpoints(false), checkpoints(true); waited != plain-1 {
		t.Fatalf("waited start took %d checkpoints, a plain one %d", waited, plain)
	}
}

// When the wait gives up while the first step still runs, the start is
// stored before Wait returns, so the instance the caller learns of is
// durable; the step's own commit later moves it on.
func TestWaitThatGivesUpStoresTheStart(t *testing.T) {
	block := make(chan struct{})
	wf := workflow("w", "A", &flow.State{Name: "A", Kind: flow.Task, Routine: flow.RoutineFunc(
		func(ctx context.Context, _ any, _ *flow.Context) (any, error) {
			<-block
			return "done", nil
		})})
	h := newHarness(t, bundle(wf))
	in, _, err := h.engine.Start(context.Background(), "w", engine.StartOptions{Wait: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.engine.Get(in.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("before the first step the start is not stored yet; got %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	got, err := h.engine.Wait(ctx, in.ID)
	if err != nil || got.Status != store.Running || got.State != "A" {
		t.Fatalf("wait gave %+v, %v", got, err)
	}
	close(block)
	if out := output(t, h.end(in.ID)); out != "done" {
		t.Fatalf("output %v", out)
	}
	if got := types(h.history(in.ID)); len(got) != 6 || got[0] != "ExecutionStarted" || got[5] != "ExecutionSucceeded" {
		t.Fatalf("history %v", got)
	}
}

// startAsync starts an instance in the background and hands over the
// outcome.
type started struct {
	inst     *store.Instance
	existing bool
	err      error
}

func (h *harness) startAsync(wf, id, input string) chan started {
	out := make(chan started, 1)
	go func() {
		in, existing, err := h.engine.Start(context.Background(), wf, engine.StartOptions{ID: id, Input: json.RawMessage(input)})
		out <- started{in, existing, err}
	}()
	return out
}

// outcome waits for a background start.
func (h *harness) outcome(ch chan started) started {
	h.t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(orbittest.Timeout):
		h.t.Fatal("a start never returned")
		return started{}
	}
}

// A start repeated with the same id and input while the first one is still
// committing answers the instance (SPEC 3: 200), not a conflict; one with
// another input conflicts.
func TestRepeatedStartWhileTheFirstCommits(t *testing.T) {
	wf := workflow("w", "Gate", &flow.State{Name: "Gate", Kind: flow.Await, Event: "go"})
	h := newHarness(t, bundle(wf))
	release := h.faults.Hold()
	defer release()
	first := h.startAsync("w", "o-1", `{"a":1}`)
	orbittest.For(t, orbittest.Timeout, func() error {
		if h.faults.Waiting() == 0 {
			return errors.New("the first start is not committing")
		}
		return nil
	})
	same := h.startAsync("w", "o-1", `{"a": 1}`)
	other := h.startAsync("w", "o-1", `{"a":2}`)
	orbittest.For(t, orbittest.Timeout, func() error {
		if n := engine.ClaimWaits(h.engine); n != 2 {
			return fmt.Errorf("%d repeated starts wait for the first, want 2", n)
		}
		return nil
	})
	release()
	a, b, c := h.outcome(first), h.outcome(same), h.outcome(other)
	if a.err != nil || a.existing {
		t.Fatalf("first start: %+v", a)
	}
	if b.err != nil || !b.existing || b.inst.ID != "o-1" || string(b.inst.Input) != `{"a":1}` {
		t.Fatalf("repeated start: %+v", b)
	}
	if !errors.Is(c.err, engine.ErrConflict) {
		t.Fatalf("start with another input: %+v", c)
	}
	h.waitingFor("o-1", "event")
}

// An express instance is stored only when it ends; a start repeated while
// it runs answers it all the same.
func TestRepeatedStartOfARunningExpressInstance(t *testing.T) {
	block := make(chan struct{})
	wf := workflow("x", "A", &flow.State{Name: "A", Kind: flow.Task, Routine: flow.RoutineFunc(
		func(ctx context.Context, in any, _ *flow.Context) (any, error) {
			<-block
			return in, nil
		})})
	wf.Mode = flow.Express
	h := newHarness(t, bundle(wf))
	first := h.outcome(h.startAsync("x", "x-1", `{"n":1}`))
	if first.err != nil {
		t.Fatal(first.err)
	}
	again := h.outcome(h.startAsync("x", "x-1", `{"n":1}`))
	if again.err != nil || !again.existing || again.inst.ID != "x-1" || again.inst.Status != store.Running {
		t.Fatalf("repeated start of a running express instance: %+v", again)
	}
	if other := h.outcome(h.startAsync("x", "x-1", `{"n":2}`)); !errors.Is(other.err, engine.ErrConflict) {
		t.Fatalf("another input: %+v", other)
	}
	close(block)
	if out := output(t, h.end("x-1")); js(out) != `{"n":1}` {
		t.Fatalf("output %s", js(out))
	}
	// Stored now: the store answers.
	if after := h.outcome(h.startAsync("x", "x-1", `{"n":1}`)); !after.existing || after.inst.Status != store.Succeeded {
		t.Fatalf("start after the end: %+v", after)
	}
}

// Start reads the store without holding the engine's lock: a slow read for
// one start holds up neither other starts nor messages to instances.
func TestSlowReadOfOneStartHoldsUpNoOther(t *testing.T) {
	wf := workflow("w", "Gate", &flow.State{Name: "Gate", Kind: flow.Await, Event: "go"})
	h := newHarness(t, bundle(wf))
	parked := h.start("w", `{}`)
	h.waitingFor(parked, "event")
	release := h.faults.HoldReads()
	defer release()
	slow := h.startAsync("w", "slow", `{}`)
	orbittest.For(t, orbittest.Timeout, func() error {
		if h.faults.WaitingReads() == 0 {
			return errors.New("the start has not read the store yet")
		}
		return nil
	})
	// A start with a fresh id reads nothing; it needs the engine's lock.
	if fresh := h.outcome(h.startAsync("w", "", `{}`)); fresh.err != nil {
		t.Fatal(fresh.err)
	}
	release()
	if s := h.outcome(slow); s.err != nil || s.existing {
		t.Fatalf("slow start: %+v", s)
	}
}

// A start's traceparent goes out with every call the instance makes. Any
// text a client sent as one was kept and passed on; one that is not a W3C
// traceparent now starts a new trace, as W3C asks.
func TestStartKeepsOnlyAValidTraceParent(t *testing.T) {
	wf := workflow("w", "Gate", &flow.State{Name: "Gate", Kind: flow.Await, Event: "go"})
	h := newHarness(t, bundle(wf))
	const valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	for _, tp := range []string{valid, "00-4bf92f3577b34da6a3ce929d0e0e4736-" + strings.Repeat("x", 3000), "evil", ""} {
		in, _, err := h.engine.Start(context.Background(), "w", engine.StartOptions{TraceParent: tp})
		if err != nil {
			t.Fatal(err)
		}
		got := in.TraceParent
		if !flow.ValidTraceParent(got) || (got == valid) != (tp == valid) {
			t.Errorf("a start with traceparent %.60q keeps %.60q", tp, got)
		}
	}
}
