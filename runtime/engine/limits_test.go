package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/store"
)

// failBad is an iterator whose items named "bad" fail.
func failBad() *flow.Machine {
	return sub("Do", &flow.State{Name: "Do", Kind: flow.Task, Routine: fn(func(in any, _ *flow.Context) (any, error) {
		if in == "bad" {
			return nil, &flow.Error{Name: "Item.Bad", Cause: "a bad item"}
		}
		return in, nil
	})})
}

// A map with a tolerance lets items fail: a tolerated item leaves null at
// its place; one failure too many fails the map with
// States.ExceedToleratedFailureThreshold, which a catcher may take.
func TestMapToleratesFailedItems(t *testing.T) {
	each := &flow.State{Name: "Each", Kind: flow.Map, Items: path("$"), MaxConcurrency: 1, Iterator: failBad(),
		Tolerance: &flow.Tolerance{Count: 1, HasCount: true},
		Catch:     []flow.Catcher{{Errors: []string{flow.ErrToleranceExceeded}, Next: "Over"}}}
	wf := workflow("m", "Each", each, &flow.State{Name: "Over", Kind: flow.Succeed})
	h := newHarness(t, bundle(wf))
	if got := js(output(t, h.end(h.start("m", `["a","bad","c"]`)))); got != `["a",null,"c"]` {
		t.Fatalf("one failure within the tolerance: output %s", got)
	}
	want := `{"cause":"The specified tolerated failure threshold was exceeded","error":"States.ExceedToleratedFailureThreshold"}`
	if got := js(output(t, h.end(h.start("m", `["bad","b","bad","d"]`)))); got != want {
		t.Fatalf("two failures over a count of 1: output %s", got)
	}

	// A percentage counts failed items against all of them: 1 of 4 is
	// 25%, within 30; 2 of 4 is not.
	each.Tolerance = &flow.Tolerance{Percent: 30, HasPercent: true}
	each.Catch = nil
	if got := js(output(t, h.end(h.start("m", `["bad","b","c","d"]`)))); got != `[null,"b","c","d"]` {
		t.Fatalf("25%% failed within 30%%: output %s", got)
	}
	if in := h.end(h.start("m", `["bad","b","bad","d"]`)); in.Status != store.Failed || in.Error != flow.ErrToleranceExceeded {
		t.Fatalf("50%% failed over 30%%: %s %s", in.Status, in.Error)
	}

	// Without a tolerance the first failure fails the map with its own
	// error.
	each.Tolerance = nil
	if in := h.end(h.start("m", `["a","bad"]`)); in.Status != store.Failed || in.Error != "Item.Bad" {
		t.Fatalf("no tolerance: %s %s", in.Status, in.Error)
	}
}

// limitsFromInput reads a map's limits from its input, as ASL's
// MaxConcurrencyPath and ToleratedFailureCountPath do.
type limitsFromInput struct{}

func (limitsFromInput) Limits(input any, _ *flow.Context) (flow.MapLimits, error) {
	m, _ := input.(map[string]any)
	n, _ := flow.Number(m["at_once"])
	lim := flow.MapLimits{MaxConcurrency: int(n)}
	if f, ok := flow.Number(m["may_fail"]); ok {
		lim.Tolerance = &flow.Tolerance{Count: int(f), HasCount: true}
	}
	return lim, nil
}

// A map's Limits decide at run time how many items run at once and how
// many may fail.
func TestMapLimitsFromInput(t *testing.T) {
	var running, peak atomic.Int32
	wf := workflow("m", "Each", &flow.State{Name: "Each", Kind: flow.Map, Items: path("$.items"), Limits: limitsFromInput{},
		Iterator: sub("Do", &flow.State{Name: "Do", Kind: flow.Task, Routine: fn(func(in any, _ *flow.Context) (any, error) {
			n := running.Add(1)
			defer running.Add(-1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			time.Sleep(time.Millisecond) // let a sibling start if the engine allows it
			if in == "bad" {
				return nil, &flow.Error{Name: "Item.Bad"}
			}
			return in, nil
		})})})
	h := newHarness(t, bundle(wf))
	got := js(output(t, h.end(h.start("m", `{"items":["a","b","bad","d","e"],"at_once":2,"may_fail":1}`))))
	if got != `["a","b",null,"d","e"]` {
		t.Fatalf("output %s", got)
	}
	if peak.Load() > 2 {
		t.Fatalf("%d items ran at once; the input allows 2", peak.Load())
	}
	if in := h.end(h.start("m", `{"items":["bad","bad"],"at_once":1,"may_fail":1}`)); in.Error != flow.ErrToleranceExceeded {
		t.Fatalf("two failures over 1: %s %s", in.Status, in.Error)
	}
}

// blocked is a routine that runs until its context ends.
var blocked = flow.RoutineFunc(func(ctx context.Context, _ any, _ *flow.Context) (any, error) {
	<-ctx.Done()
	return nil, ctx.Err()
})

// A task's timeout may come from its data; the attempt's deadline follows
// the engine's clock, so a fake clock's minute stops the call at once.
func TestTaskTimeoutFromDataFollowsTheEngineClock(t *testing.T) {
	wf := workflow("t", "A", &flow.State{Name: "A", Kind: flow.Task, Routine: blocked,
		TimeoutFrom: flow.MustPath("$.limit")})
	h := newHarness(t, bundle(wf))
	id := h.start("t", `{"limit":60}`)
	h.advance(time.Minute)
	in := h.end(id)
	if in.Status != store.Failed || in.Error != flow.ErrTimeout || in.Cause != "state A timed out after 1m0s" {
		t.Fatalf("got %s %s: %s", in.Status, in.Error, in.Cause)
	}
	if in := h.end(h.start("t", `{"limit":"soon"}`)); in.Error != flow.ErrRuntime {
		t.Fatalf("a timeout that is no number: %s %s", in.Error, in.Cause)
	}
}

// A routine sends no heartbeats, so a heartbeat shorter than the timeout
// stops the call with States.HeartbeatTimeout.
func TestHeartbeatBoundsTheCall(t *testing.T) {
	wf := workflow("t", "A", &flow.State{Name: "A", Kind: flow.Task, Routine: blocked,
		Timeout: time.Hour, HeartbeatFrom: flow.MustPath("$.beat")})
	h := newHarness(t, bundle(wf))
	id := h.start("t", `{"beat":30}`)
	h.advance(30 * time.Second)
	if in := h.end(id); in.Status != store.Failed || in.Error != flow.ErrHeartbeat {
		t.Fatalf("got %s %s: %s", in.Status, in.Error, in.Cause)
	}
}

// testDialect names the engine's errors as a format of its own would.
type testDialect struct{}

func (testDialect) PayloadTooLarge(st *flow.State, what string, size, limit int) *flow.Error {
	return flow.Errorf("Test.TooBig", "%s of %s: %d over %d", what, st.Name, size, limit)
}
func (testDialect) UnnamedFailure() string { return "" }
func (testDialect) TimedOut(st *flow.State, heartbeat bool) *flow.Error {
	return flow.Errorf("Test.Late", "%s (heartbeat %v)", st.Name, heartbeat)
}

// A workflow's dialect names the errors the engine raises itself; without
// one they keep Orbit's names.
func TestDialectNamesTheEnginesErrors(t *testing.T) {
	big := fn(func(any, *flow.Context) (any, error) { return strings.Repeat("x", 300<<10), nil })
	plain := workflow("plain", "Big", &flow.State{Name: "Big", Kind: flow.Task, Routine: big})
	named := workflow("named", "Big", &flow.State{Name: "Big", Kind: flow.Task, Routine: big})
	named.Dialect = testDialect{}
	fail := workflow("fail", "F", &flow.State{Name: "F", Kind: flow.Fail, Cause: flow.Const{Value: "no name"}})
	failNamed := workflow("failNamed", "F", &flow.State{Name: "F", Kind: flow.Fail, Cause: flow.Const{Value: "no name"}})
	failNamed.Dialect = testDialect{}
	late := workflow("late", "A", &flow.State{Name: "A", Kind: flow.Task, Routine: blocked, Timeout: time.Minute})
	late.Dialect = testDialect{}
	h := newHarness(t, bundle(plain, named, fail, failNamed, late))
	for _, c := range []struct{ wf, err, cause string }{
		{"plain", flow.ErrPayloadTooLarge, "state Big: data of 307202 bytes exceeds the limit of 262144"},
		{"named", "Test.TooBig", "data of Big: 307202 over 262144"},
		{"fail", flow.ErrFail, "no name"},
		{"failNamed", "", "no name"},
	} {
		in := h.end(h.start(c.wf, `{}`))
		if in.Status != store.Failed || in.Error != c.err || in.Cause != c.cause {
			t.Errorf("%s: %s %q %q, want FAILED %q %q", c.wf, in.Status, in.Error, in.Cause, c.err, c.cause)
		}
	}
	id := h.start("late", `{}`)
	h.advance(time.Minute)
	if in := h.end(id); in.Error != "Test.Late" || in.Cause != "A (heartbeat false)" {
		t.Errorf("late: %s %q", in.Error, in.Cause)
	}
}

// A routine may answer with JSON text, as the service it calls wrote it.
func TestRoutineMayAnswerJSONText(t *testing.T) {
	wf := workflow("j", "A", &flow.State{Name: "A", Kind: flow.Task, Routine: fn(func(in any, _ *flow.Context) (any, error) {
		return json.RawMessage(fmt.Sprintf(`{"got": %s, "list": [1, 2]}`, js(in))), nil
	})}, &flow.State{Name: "B", Kind: flow.Task, Routine: fn(func(any, *flow.Context) (any, error) {
		return json.RawMessage(`{"broken"`), nil
	})})
	h := newHarness(t, bundle(wf))
	if got := js(output(t, h.end(h.start("j", `"x"`)))); got != `{"got":"x","list":[1,2]}` {
		t.Fatalf("output %s", got)
	}
	wf.Start = "B"
	if in := h.end(h.start("j", `{}`)); in.Error != flow.ErrTaskFailed {
		t.Fatalf("text that is not JSON: %s %s", in.Error, in.Cause)
	}
}
