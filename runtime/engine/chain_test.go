package engine_test

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/store"
	"github.com/orbit-sidecar/orbit/store/bolt"
)

// TestHistoryIsChained runs instances through retries, a parallel state
// (children whose first events the parent writes), an await whose event
// arrives as indented JSON, a restart in the middle and express mode; then
// every history must be hashed from event 1, chained, and end at the head
// its record keeps, and the closed file must pass bolt.Verify.
func TestHistoryIsChained(t *testing.T) {
	var failures atomic.Int32
	flaky := fn(func(in any, _ *flow.Context) (any, error) {
		if failures.Add(1) < 2 {
			return nil, &flow.Error{Name: "Http.503", Cause: "busy"}
		}
		return in, nil
	})
	durable := workflow("chain", "Try",
		&flow.State{Name: "Try", Kind: flow.Task, Routine: flaky, Next: "Both",
			Retry: []flow.Retrier{{Errors: []string{"Http.503"}, MaxAttempts: 3, Interval: time.Second, Backoff: 1}}},
		&flow.State{Name: "Both", Kind: flow.Parallel, Result: path("$.both"), Next: "Gate", Branches: []*flow.Machine{
			sub("A", &flow.State{Name: "A", Kind: flow.Task, Routine: fn(func(in any, _ *flow.Context) (any, error) { return in, nil })}),
			sub("B", &flow.State{Name: "B", Kind: flow.Pass}),
		}},
		&flow.State{Name: "Gate", Kind: flow.Await, Event: "paid", Result: path("$.paid")})
	express := workflow("quick", "A", &flow.State{Name: "A", Kind: flow.Task, Routine: add(1), Next: "B"},
		&flow.State{Name: "B", Kind: flow.Pass})
	express.Mode = flow.Express
	h := newHarness(t, bundle(durable, express))

	id := h.start("chain", `{"x":1}`)
	h.waitingFor(id, "retry")
	h.restart() // the chain goes on from the head the record keeps
	h.advance(time.Second)
	h.waitingFor(id, "event")
	if err := h.engine.Send(context.Background(), id, "paid", json.RawMessage("{\n  \"amount\": 42\n}")); err != nil {
		t.Fatal(err)
	}
	h.end(id)
	quick := h.start("quick", `{"x":1}`)
	h.end(quick)

	ids := []string{id, quick, id + ":Both:1.1:0", id + ":Both:1.1:1"}
	for _, id := range ids {
		in, err := h.engine.Get(id)
		if err != nil {
			t.Fatal(err)
		}
		evs := h.history(id)
		c := store.NewChainChecker(id)
		for i := range evs {
			if evs[i].Hash.IsZero() {
				t.Fatalf("%s: event %d (%s) has no hash", id, evs[i].Seq, evs[i].Type)
			}
			if err := c.Add(&evs[i]); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.Finish(in); err != nil {
			t.Fatal(err)
		}
		if head := in.Head(); head == nil || head.Seq != uint64(len(evs)) || head.Hash != evs[len(evs)-1].Hash {
			t.Fatalf("%s: head %+v, history of %d events", id, head, len(evs))
		}
		for _, ev := range evs {
			if ev.Type == store.EventEventReceived && string(ev.Output) != `{"amount":42}` {
				t.Fatalf("the event's payload is kept as %s, not compact as the API serves it", ev.Output)
			}
		}
	}
	h.close()
	rep, err := bolt.Verify(h.path)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Chains != 4 || rep.Hashed != rep.Events {
		t.Fatalf("verify: %d chains, %d of %d events hashed", rep.Chains, rep.Hashed, rep.Events)
	}
}
