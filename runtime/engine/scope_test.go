package engine_test

import (
	"reflect"
	"testing"

	"github.com/orbit-sidecar/orbit/runtime/flow"
)

// finisher adapts a function to flow.Finisher.
type finisher func(input, result any, c *flow.Context) (any, map[string]any, error)

func (f finisher) Finish(input, result any, c *flow.Context) (any, map[string]any, error) {
	return f(input, result, c)
}

// TestFinishAssignsVariablesSeenLaterAndByChildren: variables a state
// assigns are in force for the states after it, inherited by map items
// (which also read the top-level execution), survive a restart, and what
// an item assigns stays in the item.
func TestFinishAssignsVariablesSeenLaterAndByChildren(t *testing.T) {
	seen := map[string]any{}
	var execs []flow.Execution
	record := fn(func(in any, c *flow.Context) (any, error) {
		x, err := c.Execution()
		if err != nil {
			return nil, err
		}
		execs = append(execs, x)
		return map[string]any{"item": in, "vars": c.Vars, "entered": float64(c.Entered)}, nil
	})
	wf := workflow("vars", "Set",
		&flow.State{Name: "Set", Kind: flow.Pass, Next: "Wait",
			Finish: finisher(func(input, result any, c *flow.Context) (any, map[string]any, error) {
				return map[string]any{"kept": input}, map[string]any{"a": 1.0, "b": "two"}, nil
			})},
		&flow.State{Name: "Wait", Kind: flow.Wait, WaitFor: 1e9, Next: "Each"},
		&flow.State{Name: "Each", Kind: flow.Map, Items: flow.Const{Value: []any{"x"}}, MaxConcurrency: 1,
			Iterator: sub("Inner",
				&flow.State{Name: "Inner", Kind: flow.Pass, Next: "Call",
					Finish: finisher(func(input, result any, c *flow.Context) (any, map[string]any, error) {
						return input, map[string]any{"b": "inner"}, nil
					})},
				&flow.State{Name: "Call", Kind: flow.Task, Routine: record}),
			Next: "Last"},
		&flow.State{Name: "Last", Kind: flow.Pass,
			Finish: finisher(func(input, result any, c *flow.Context) (any, map[string]any, error) {
				seen["vars"] = c.Vars
				seen["entered"] = c.Entered
				return input, nil, nil
			})})
	h := newHarness(t, bundle(wf))
	id := h.start("vars", `{"in":1}`)
	h.waitingFor(id, "timer")
	h.restart()
	h.advance(1e9)
	out := output(t, h.end(id))
	items := out.([]any)
	got := items[0].(map[string]any)
	if !reflect.DeepEqual(got["vars"], map[string]any{"a": 1.0, "b": "inner"}) || got["item"] != "x" || got["entered"] != 4.0 {
		t.Errorf("item saw %v", got)
	}
	if len(execs) != 1 || execs[0].ID != id || string(execs[0].Input) != `{"in":1}` || execs[0].Workflow != "vars" {
		t.Errorf("item's execution %+v", execs)
	}
	if js(seen["vars"]) != `{"a":1,"b":"two"}` { // read back from the record after the restart
		t.Errorf("after the map the variables are %v; the item's assignment must not leak out", seen["vars"])
	}
	// ExecutionStarted 1, Set 2-3, Wait 4-7 (entered, timer started, fired, exited), Each 8.. Last entered after.
	evs := h.history(id)
	var lastEntered uint64
	for _, ev := range evs {
		if ev.Type == "StateEntered" && ev.State == "Last" {
			lastEntered = ev.Seq
		}
	}
	if seen["entered"] != lastEntered || lastEntered == 0 {
		t.Errorf("ctx.Entered %v, want the seq of Last's StateEntered %d", seen["entered"], lastEntered)
	}
}

// TestTerminalErrorsAreNotCaught: a terminal error skips retriers and
// catchers, even one naming it; a catcher's Finish shapes the caught
// output.
func TestTerminalErrorsAreNotCaught(t *testing.T) {
	raise := func(terminal bool) flow.Routine {
		return fn(func(any, *flow.Context) (any, error) {
			return nil, &flow.Error{Name: flow.ErrRuntime, Cause: "bad path", Terminal: terminal}
		})
	}
	catch := []flow.Catcher{{Errors: []string{flow.ErrRuntime}, Next: "Caught",
		Finish: finisher(func(input, result any, c *flow.Context) (any, map[string]any, error) {
			return map[string]any{"in": input, "err": result}, map[string]any{"caught": true}, nil
		})}}
	retry := []flow.Retrier{{Errors: []string{flow.ErrAll}, MaxAttempts: 2, Interval: 1, Backoff: 1}}
	caught := &flow.State{Name: "Caught", Kind: flow.Pass,
		Finish: finisher(func(input, result any, c *flow.Context) (any, map[string]any, error) {
			return map[string]any{"out": input, "vars": c.Vars}, nil, nil
		})}
	h := newHarness(t, bundle(
		workflow("terminal", "T", &flow.State{Name: "T", Kind: flow.Task, Routine: raise(true), Retry: retry, Catch: catch, Next: "Caught"}, caught),
		workflow("plain", "T", &flow.State{Name: "T", Kind: flow.Task, Routine: raise(false), Catch: catch, Next: "Caught"}, caught)))
	in := h.end(h.start("terminal", `{}`))
	if in.Error != flow.ErrRuntime || in.Cause != "bad path" {
		t.Errorf("terminal: %s %s: %s", in.Status, in.Error, in.Cause)
	}
	for _, ev := range h.history(in.ID) {
		if ev.Type == "TaskRetryScheduled" || ev.Type == "ErrorCaught" {
			t.Errorf("a terminal error was handled: %s", ev.Type)
		}
	}
	out := output(t, h.end(h.start("plain", `{"x":1}`)))
	want := map[string]any{"out": map[string]any{"in": map[string]any{"x": 1.0},
		"err": map[string]any{"error": flow.ErrRuntime, "cause": "bad path"}}, "vars": map[string]any{"caught": true}}
	if !reflect.DeepEqual(out, want) {
		t.Errorf("caught output %v, want %v", js(out), js(want))
	}
}
