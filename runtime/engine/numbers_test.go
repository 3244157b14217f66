package engine_test

import (
	"context"
	"strings"
	"testing"

	"github.com/orbit-sidecar/orbit/runtime/flow"
)

// bigNumbers are numbers a float64 would change: an integer past 2^53, one
// past a float64's range, and spellings a float64 would rewrite.
const bigNumbers = `{"entity_id":9007199254740993,"huge":1e99999,"neg":-0,"price":1.10,"tiny":5e-400}` // keys in the order Orbit writes them

// Numbers that Orbit only passes along — through paths, routines, catches,
// children and the history — come out exactly as they came in (issue:
// 9007199254740993 became 9007199254740992 from the first task on).
func TestNumbersPassThroughExactly(t *testing.T) {
	echo := fn(func(in any, _ *flow.Context) (any, error) { return in, nil })
	boom := fn(func(any, *flow.Context) (any, error) { return nil, flow.Errorf("Boom", "on purpose") })
	wf := workflow("pass", "Copy",
		&flow.State{Name: "Copy", Kind: flow.Task, Routine: echo, Input: path("$.order"), Result: path("$.copy"), Next: "Fail"},
		&flow.State{Name: "Fail", Kind: flow.Task, Routine: boom, Next: "Each",
			Catch: []flow.Catcher{{Errors: []string{"Boom"}, Next: "Each", Result: path("$.caught")}}},
		&flow.State{Name: "Each", Kind: flow.Map, Items: path("$.list"), Result: path("$.mapped"), Iterator: sub("Item",
			&flow.State{Name: "Item", Kind: flow.Task, Routine: echo})})
	h := newHarness(t, bundle(wf))
	id := h.start("pass", `{"order":`+bigNumbers+`,"list":[9007199254740993,1.10]}`)
	in := h.end(id)
	got := string(in.Output)
	for _, want := range []string{`"copy":` + bigNumbers, `"order":` + bigNumbers, `"mapped":[9007199254740993,1.10]`, `"caught":{`} {
		if !strings.Contains(got, want) {
			t.Errorf("output %s lacks %s", got, want)
		}
	}
	var scheduled string
	for _, ev := range h.history(id) {
		if ev.Type == "TaskScheduled" && ev.State == "Copy" {
			scheduled = string(ev.Input)
		}
	}
	if scheduled != bigNumbers {
		t.Errorf("history has the task's input as %s, want %s", scheduled, bigNumbers)
	}
	// An event's payload keeps its numbers too.
	await := workflow("await", "Gate", &flow.State{Name: "Gate", Kind: flow.Await, Event: "go", Result: path("$.ev")})
	h2 := newHarness(t, bundle(await))
	id = h2.start("await", `{}`)
	h2.waitingFor(id, "event")
	if err := h2.engine.Send(context.Background(), id, "go", []byte(bigNumbers)); err != nil {
		t.Fatal(err)
	}
	if got := string(h2.end(id).Output); got != `{"ev":`+bigNumbers+`}` {
		t.Errorf("output %s", got)
	}
}
