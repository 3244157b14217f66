package engine_test

import (
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

// A workflow that calls itself without end started children until an id
// was longer than a store's key may be: every checkpoint of the deepest
// one then failed, and the engine, taking that for a store that cannot
// write, refused all new work. The nesting now ends with States.Runtime at
// the level whose child's id would be too long, and every level fails.
func TestEndlessCallNestingFails(t *testing.T) {
	rec := workflow("rec", "Again", &flow.State{Name: "Again", Kind: flow.Call, Workflow: "rec"})
	ok := workflow("ok", "A", &flow.State{Name: "A", Kind: flow.Pass})
	h := newHarness(t, bundle(rec, ok))
	id := h.start("rec", `{}`)
	in := h.end(id)
	if in.Status != store.Failed || in.Error != flow.ErrRuntime || !strings.Contains(in.Cause, "nested too deep") {
		t.Fatalf("%s %s: %s", in.Status, in.Error, in.Cause)
	}
	if err := h.engine.Ready(); err != nil {
		t.Fatalf("the engine is not ready after the nesting failed: %v", err)
	}
	deepest, levels := id, 0
	for {
		next := deepest + ":Again:1.1:0"
		if _, err := h.engine.Get(next); err != nil {
			break
		}
		deepest, levels = next, levels+1
	}
	if len(deepest) > engine.MaxChildIDLen || len(deepest)+len(":Again:1.1:0") <= engine.MaxChildIDLen {
		t.Fatalf("the deepest child, %d levels down, has an id of %d bytes", levels, len(deepest))
	}
	if in := h.end(deepest); in.Status != store.Failed || !strings.Contains(in.Cause, "nested too deep") {
		t.Fatalf("deepest: %s %s", in.Status, in.Cause)
	}
	if in := h.end(h.start("ok", `{}`)); in.Status != store.Succeeded {
		t.Fatalf("a new instance after the nesting failed: %s %s", in.Status, in.Cause)
	}
}

// A parent that ends cancels its unfinished children once its own end is
// written, in checkpoints of theirs. When the sidecar stopped in between,
// the children were resumed as if nothing had happened: a branch awaited
// its event for ever under a cancelled parent. After a restart, a child
// whose parent has ended is cancelled.
func TestChildrenOfAnEndedParentAreCancelledAfterARestart(t *testing.T) {
	branch := func() *flow.Machine {
		return &flow.Machine{Start: "Gate", States: map[string]*flow.State{"Gate": {Name: "Gate", Kind: flow.Await, Event: "go"}}, Order: []string{"Gate"}}
	}
	wf := workflow("fan", "Both", &flow.State{Name: "Both", Kind: flow.Parallel, Branches: []*flow.Machine{branch(), branch()}})
	h := newHarness(t, bundle(wf))
	id := h.start("fan", `{}`)
	kids := []string{id + ":Both:1.1:0", id + ":Both:1.1:1"}
	h.waitingFor(id, "child")
	for _, kid := range kids {
		h.waitingFor(kid, "event")
	}
	if err := h.engine.Pause(kids[1]); err != nil { // a paused child is cancelled too
		t.Fatal(err)
	}
	// The parent's end is written; the sidecar stops before its children's.
	h.faults.FailWritesIf(func(b *store.Batch) bool {
		return b != nil && slices.ContainsFunc(b.Instances, func(in *store.Instance) bool { return in.Parent == id })
	}, diskFull)
	if err := h.engine.Cancel(id); err != nil {
		t.Fatal(err)
	}
	h.close()
	h.open()
	if in, _ := h.engine.Get(id); in.Status != store.Cancelled {
		t.Fatalf("parent %s", in.Status)
	}
	for _, kid := range kids {
		if in := h.end(kid); in.Status != store.Cancelled || !strings.Contains(in.Cause, "parent instance ended") {
			t.Errorf("child %s: %s %s", kid, in.Status, in.Cause)
		}
	}
}
