package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

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
