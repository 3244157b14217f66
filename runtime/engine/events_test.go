package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/runtime/engine"
	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/store"
)

// deliver sends an event and checks what became of it.
func (h *harness) deliver(id, event, payload string, want engine.Delivery) {
	h.t.Helper()
	got, err := h.engine.Deliver(context.Background(), id, event, json.RawMessage(payload))
	if err != nil {
		h.t.Fatalf("deliver %s to %s: %v", event, id, err)
	}
	if got != want {
		h.t.Fatalf("deliver %s to %s: %s, want %s", event, id, got, want)
	}
}

// An event sent to an instance reaches an await in its parallel branch,
// whether the branch waits already or gets there later.
func TestEventReachesAParallelBranch(t *testing.T) {
	wf := workflow("par", "Both",
		&flow.State{Name: "Both", Kind: flow.Parallel, Result: path("$.both"), Branches: []*flow.Machine{
			sub("Ask", &flow.State{Name: "Ask", Kind: flow.Await, Event: "answer"}),
			sub("Nap", &flow.State{Name: "Nap", Kind: flow.Wait, WaitFor: time.Second, Next: "Confirm"},
				&flow.State{Name: "Confirm", Kind: flow.Await, Event: "confirm"}),
		}})
	h := newHarness(t, bundle(wf))
	id := h.start("par", `{}`)
	h.waitingFor(id+":Both:1.1:0", store.WaitEvent)
	h.deliver(id, "answer", `"yes"`, engine.Consumed)
	// The second branch sleeps: its event is kept until it awaits it.
	h.waitingFor(id+":Both:1.1:1", store.WaitTimer)
	h.deliver(id, "confirm", `"ok"`, engine.Kept)
	h.advance(time.Second)
	if got := js(output(t, h.end(id))); got != `{"both":["yes","ok"]}` {
		t.Fatalf("output %s", got)
	}
	if n, _, err := h.store.PendingSize(id); err != nil || n != 0 {
		t.Fatalf("the parent still keeps %d events (%v)", n, err)
	}
}

// Map items that await the same event name each take one event: one
// event is never taken twice.
func TestEventsReachMapItemsOnceEach(t *testing.T) {
	wf := workflow("m", "Each",
		&flow.State{Name: "Each", Kind: flow.Map, Items: path("$.items"), Iterator: sub("Ask",
			&flow.State{Name: "Ask", Kind: flow.Await, Event: "answer"})})
	h := newHarness(t, bundle(wf))
	id := h.start("m", `{"items":[1,2,3]}`)
	for i := range 3 {
		h.waitingFor(id+":Each:1.1:"+js(i), store.WaitEvent)
	}
	for i := range 3 {
		h.deliver(id, "answer", js(i), engine.Consumed)
	}
	got, ok := output(t, h.end(id)).([]any)
	if !ok || len(got) != 3 {
		t.Fatalf("output %v", got)
	}
	seen := map[float64]bool{}
	for _, v := range got {
		seen[v.(float64)] = true
	}
	if len(seen) != 3 {
		t.Fatalf("items took %v: an event was taken twice", got)
	}
}

// A called workflow's awaits count for its caller: an event sent to the
// caller reaches the child.
func TestEventReachesACalledWorkflow(t *testing.T) {
	child := workflow("review", "Ask", &flow.State{Name: "Ask", Kind: flow.Await, Event: "answer"})
	parent := workflow("order", "Call", &flow.State{Name: "Call", Kind: flow.Call, Workflow: "review", Result: path("$.review")})
	h := newHarness(t, bundle(child, parent))
	id := h.start("order", `{}`)
	h.waitingFor(id+":Call:1.1:0", store.WaitEvent)
	h.deliver(id, "answer", `{"ok":true}`, engine.Consumed)
	if got := js(output(t, h.end(id))); got != `{"review":{"ok":true}}` {
		t.Fatalf("output %s", got)
	}
}

// An event that nothing in the instance's workflow version can await is
// refused with the names it can await, and nothing is kept.
func TestEventNeverAwaitedIsRefused(t *testing.T) {
	wf := workflow("r", "Ask", &flow.State{Name: "Ask", Kind: flow.Await, Event: "answer", Next: "Par"},
		&flow.State{Name: "Par", Kind: flow.Parallel, Branches: []*flow.Machine{
			sub("Check", &flow.State{Name: "Check", Kind: flow.Await, Event: "checked"})}})
	h := newHarness(t, bundle(wf))
	id := h.start("r", `{}`)
	h.waitingFor(id, store.WaitEvent)
	_, err := h.engine.Deliver(context.Background(), id, "anwser", nil)
	if !errors.Is(err, engine.ErrNotAwaitable) || !strings.Contains(err.Error(), `it can await "answer", "checked"`) {
		t.Fatalf("misspelt event: %v", err)
	}
	if n, _, err := h.store.PendingSize(id); err != nil || n != 0 {
		t.Fatalf("kept %d events (%v), want none", n, err)
	}
	h.deliver(id, "checked", `1`, engine.Kept) // a branch awaits it later
	h.deliver(id, "answer", `2`, engine.Consumed)
	h.end(id)
}
