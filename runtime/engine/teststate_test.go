package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/runtime/engine"
	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/store"
)

// testWorkflow has a task with a retrier and a catcher, a choice, a map
// with a tolerance and a state name used twice.
func testWorkflow(called *atomic.Int32) *flow.Workflow {
	charge := fn(func(in any, _ *flow.Context) (any, error) {
		called.Add(1)
		return map[string]any{"charged": in}, nil
	})
	return workflow("order", "Charge",
		&flow.State{Name: "Charge", Kind: flow.Task, Routine: charge, Input: path("$.total"), Result: path("$.receipt"), Next: "Route",
			Retry: []flow.Retrier{{Errors: []string{"Card.Busy"}, MaxAttempts: 2, Interval: 2 * time.Second, Backoff: 3}},
			Catch: []flow.Catcher{{Errors: []string{"Card.Declined"}, Next: "Declined", Result: path("$.error")}}},
		&flow.State{Name: "Route", Kind: flow.Choice, Default: "Each",
			Rules: []flow.Rule{{When: &flow.Compare{Path: path("$.total"), Op: flow.Gt, Value: 100.0}, Next: "Review"}}},
		&flow.State{Name: "Review", Kind: flow.Pass, Next: "Each"},
		&flow.State{Name: "Each", Kind: flow.Map, Items: path("$.items"), MaxConcurrency: 3, Next: "Done",
			Tolerance: &flow.Tolerance{Count: 1, HasCount: true},
			Iterator:  sub("Item", &flow.State{Name: "Item", Kind: flow.Pass})},
		&flow.State{Name: "Declined", Kind: flow.Fail, Error: flow.Const{Value: "Order.Declined"}},
		&flow.State{Name: "Done", Kind: flow.Succeed})
}

func testState(h *harness, t engine.StateTest) (*engine.StateTestResult, error) {
	t.Workflow = "order"
	return h.engine.TestState(context.Background(), t)
}

// A state test runs one state as the engine would and says how it ends,
// storing nothing.
func TestTestStateEndsAsTheEngineWould(t *testing.T) {
	var called atomic.Int32
	h := newHarness(t, bundle(testWorkflow(&called)))
	busy := &flow.Error{Name: "Card.Busy", Cause: "try later"}
	cases := []struct {
		name string
		test engine.StateTest
		want string
	}{
		{"the routine is called", engine.StateTest{State: "Charge", Input: json.RawMessage(`{"total":12}`)},
			`{"status":"SUCCEEDED","output":{"receipt":{"charged":12},"total":12},"next_state":"Route"}`},
		{"a mocked result", engine.StateTest{State: "Charge", Input: json.RawMessage(`{"total":12}`),
			Mock: &engine.Mock{Result: json.RawMessage(`{"mocked":true}`)}},
			`{"status":"SUCCEEDED","output":{"receipt":{"mocked":true},"total":12},"next_state":"Route"}`},
		{"a retrier with retries left", engine.StateTest{State: "Charge", Input: json.RawMessage(`{"total":5}`), Mock: &engine.Mock{Error: busy}, RetryCount: 1, Level: engine.InspectDebug},
			`{"status":"RETRIABLE","error":"Card.Busy","cause":"try later","inspection_data":{"input":{"total":5},"after_input_path":5,"error_details":{"retry_index":0,"retry_backoff_interval_seconds":6}}}`},
		{"a retrier without", engine.StateTest{State: "Charge", Input: json.RawMessage(`{"total":5}`), Mock: &engine.Mock{Error: busy}, RetryCount: 2, Level: engine.InspectDebug},
			`{"status":"FAILED","error":"Card.Busy","cause":"try later","inspection_data":{"input":{"total":5},"after_input_path":5,"error_details":{"retry_index":0}}}`},
		{"a catcher", engine.StateTest{State: "Charge", Input: json.RawMessage(`{"total":12}`), Mock: &engine.Mock{Error: &flow.Error{Name: "Card.Declined", Cause: "no funds"}}},
			`{"status":"CAUGHT_ERROR","output":{"error":{"cause":"no funds","error":"Card.Declined"},"total":12},"error":"Card.Declined","cause":"no funds","next_state":"Declined"}`},
		{"a choice", engine.StateTest{State: "Route", Input: json.RawMessage(`{"total":120}`)},
			`{"status":"SUCCEEDED","output":{"total":120},"next_state":"Review"}`},
		{"a state of an iterator", engine.StateTest{State: "Item", Input: json.RawMessage(`"x"`)},
			`{"status":"SUCCEEDED","output":"x"}`},
		{"a map within its tolerance", engine.StateTest{State: "Each", Input: json.RawMessage(`{"items":[1,2,3]}`), MapFailures: 1,
			Mock: &engine.Mock{Result: json.RawMessage(`[1,null,3]`)}, Level: engine.InspectDebug},
			`{"status":"SUCCEEDED","output":[1,null,3],"next_state":"Done","inspection_data":{"input":{"items":[1,2,3]},"max_concurrency":3,"tolerated_failure_count":1}}`},
		{"a map beyond it", engine.StateTest{State: "Each", Input: json.RawMessage(`{"items":[1,2,3]}`), MapFailures: 2,
			Mock: &engine.Mock{Result: json.RawMessage(`[1,null,null]`)}},
			`{"status":"FAILED","error":"States.ExceedToleratedFailureThreshold","cause":"The specified tolerated failure threshold was exceeded"}`},
		{"a mocked map error", engine.StateTest{State: "Each", Input: json.RawMessage(`{"items":[1]}`), ErrorState: "Item",
			Mock: &engine.Mock{Error: busy}},
			`{"status":"FAILED","error":"Card.Busy","cause":"try later"}`},
		{"a fail state", engine.StateTest{State: "Declined"}, `{"status":"FAILED","error":"Order.Declined"}`},
	}
	for _, c := range cases {
		res, err := testState(h, c.test)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got := js(res); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
	}
	if called.Load() != 1 {
		t.Errorf("the routine was called %d times; only the unmocked test calls it", called.Load())
	}
	if list, _, err := h.engine.List(store.Query{}); err != nil || len(list) != 0 {
		t.Errorf("tests stored %d instances (%v)", len(list), err)
	}
}

// A test the state cannot run is refused, naming what is wrong.
func TestTestStateRefusesWhatTheStateCannotRun(t *testing.T) {
	var called atomic.Int32
	wf := testWorkflow(&called)
	wf.States["Each"].Iterator.States["Done"] = &flow.State{Name: "Done", Kind: flow.Succeed}
	h := newHarness(t, bundle(wf))
	result := &engine.Mock{Result: json.RawMessage(`1`)}
	for _, c := range []struct {
		test engine.StateTest
		want error
	}{
		{engine.StateTest{State: "Nope"}, engine.ErrUnknownState},
		{engine.StateTest{State: "Done"}, engine.ErrBadInput}, // in the body and the iterator
		{engine.StateTest{State: "Route", Mock: result}, engine.ErrBadInput},
		{engine.StateTest{State: "Each"}, engine.ErrBadInput},
		{engine.StateTest{State: "Each", Mock: result, ErrorState: "Charge"}, engine.ErrBadInput},
		{engine.StateTest{State: "Charge", Mock: &engine.Mock{}}, engine.ErrBadInput},
		{engine.StateTest{State: "Charge", Input: json.RawMessage(`{`)}, engine.ErrBadInput},
		{engine.StateTest{State: "Charge", Level: "LOUD"}, engine.ErrBadInput},
		{engine.StateTest{State: "Charge", MapFailures: 1}, engine.ErrBadInput},
		{engine.StateTest{Workflow: "other", State: "Charge"}, engine.ErrUnknownWorkflow},
	} {
		wfName := c.test.Workflow
		c.test.Workflow = "order"
		if wfName != "" {
			c.test.Workflow = wfName
		}
		if _, err := h.engine.TestState(context.Background(), c.test); !errors.Is(err, c.want) {
			t.Errorf("%+v: %v, want %v", c.test, err, c.want)
		}
	}
}

// A tested task is bounded by its timeout on the engine's clock, as it is
// in a run.
func TestTestStateTimesOutOnTheEngineClock(t *testing.T) {
	wf := workflow("order", "Slow", &flow.State{Name: "Slow", Kind: flow.Task, Routine: blocked, Timeout: time.Minute})
	h := newHarness(t, bundle(wf))
	done := make(chan *engine.StateTestResult, 1)
	go func() {
		res, err := testState(h, engine.StateTest{State: "Slow"})
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	h.advance(time.Minute)
	if res := <-done; res == nil || res.Status != engine.TestFailed || res.Error != flow.ErrTimeout {
		t.Fatalf("got %+v", res)
	}
}
