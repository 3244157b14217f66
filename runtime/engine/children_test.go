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

// A called workflow keeps its own timeout: the child times out, and the
// parent can catch that like any error of the call.
func TestCalledWorkflowKeepsItsTimeout(t *testing.T) {
	child := workflow("slow", "Sleep", &flow.State{Name: "Sleep", Kind: flow.Wait, WaitFor: time.Hour})
	child.Timeout = time.Minute
	parent := workflow("parent", "Call",
		&flow.State{Name: "Call", Kind: flow.Call, Workflow: "slow",
			Catch: []flow.Catcher{{Errors: []string{flow.ErrTimeout}, Next: "Late", Result: path("$.err")}}},
		&flow.State{Name: "Late", Kind: flow.Succeed})
	h := newHarness(t, bundle(child, parent))
	id := h.start("parent", `{}`)
	kid := h.waitingFor(id, "child").Waiting.Instance
	if in := h.waitingFor(kid, "timer"); in.Deadline == nil || !in.Deadline.Equal(epoch.Add(time.Minute)) {
		t.Fatalf("child deadline %v", in.Deadline)
	}
	h.restart() // the deadline is durable
	h.advance(time.Minute)
	if in := h.end(kid); in.Status != store.TimedOut || in.Error != flow.ErrTimeout {
		t.Fatalf("child %s %s", in.Status, in.Error)
	}
	out := output(t, h.end(id)).(map[string]any)
	if e, _ := out["err"].(map[string]any); e["error"] != flow.ErrTimeout {
		t.Fatalf("parent output %v", out)
	}
}

// Observers see a child's first events, written by the parent's
// checkpoint, as they see every other event of the child.
func TestObserversSeeAChildsFirstEvents(t *testing.T) {
	var got calls
	child := workflow("child", "A", &flow.State{Name: "A", Kind: flow.Pass})
	parent := workflow("parent", "Call", &flow.State{Name: "Call", Kind: flow.Call, Workflow: "child"})
	b := bundle(child, parent)
	watch := fn(func(_ any, c *flow.Context) (any, error) { got.add(c); return nil, nil })
	b.Observers = []*flow.Observer{
		{Workflow: "child", On: store.EventExecutionStarted, RoutineName: "started", Routine: watch},
		{Workflow: "child", On: store.EventStateEntered, State: "A", RoutineName: "entered", Routine: watch},
	}
	h := newHarness(t, b)
	id := h.start("parent", `{}`)
	h.end(id)
	orbittest.For(t, orbittest.Timeout, func() error {
		if got.n() < 2 {
			return fmt.Errorf("observers ran %d times, want 2", got.n())
		}
		return nil
	})
	kid := id + ":Call:1.1:0"
	got.mu.Lock()
	defer got.mu.Unlock()
	for _, c := range got.ctxs {
		if c.Instance != kid || c.Workflow != "child" {
			t.Errorf("observer ran for %s of %s, want %s of child", c.Instance, c.Workflow, kid)
		}
	}
	if !slices.Contains(got.keys, kid+"/1/started") || !slices.Contains(got.keys, kid+"/2/entered") {
		t.Errorf("keys %v", got.keys)
	}
}
