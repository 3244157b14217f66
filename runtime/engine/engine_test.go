package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/internal/orbittest"
	"github.com/orbit-sidecar/orbit/runtime/engine"
	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/store"
)

func add(n float64) flow.Routine {
	return fn(func(in any, _ *flow.Context) (any, error) {
		return num(in.(map[string]any)["x"]) + n, nil
	})
}

func TestTaskChainPaths(t *testing.T) {
	wf := workflow("chain", "A",
		&flow.State{Name: "A", Kind: flow.Task, Routine: add(1), Input: path("$.order"), Result: path("$.a"), Next: "B"},
		&flow.State{Name: "B", Kind: flow.Task, Routine: fn(func(in any, _ *flow.Context) (any, error) {
			return map[string]any{"twice": num(in) * 2}, nil
		}), Input: path("$.a"), Result: path("$.b"), Output: path("$.b"), Next: "C"},
		&flow.State{Name: "C", Kind: flow.Task, Routine: fn(func(in any, _ *flow.Context) (any, error) { return "ignored", nil }),
			DiscardResult: true})
	h := newHarness(t, bundle(wf))
	id := h.start("chain", `{"order":{"x":41}}`)
	in := h.end(id)
	if got := js(output(t, in)); got != `{"twice":84}` {
		t.Fatalf("output %s", got)
	}
	want := []string{"ExecutionStarted", "StateEntered", "TaskScheduled", "TaskSucceeded", "StateExited",
		"StateEntered", "TaskScheduled", "TaskSucceeded", "StateExited",
		"StateEntered", "TaskScheduled", "TaskSucceeded", "StateExited", "ExecutionSucceeded"}
	evs := h.history(id)
	if got := types(evs); !slices.Equal(got, want) {
		t.Fatalf("history\n got %v\nwant %v", got, want)
	}
	for i, e := range evs {
		if e.Seq != uint64(i+1) {
			t.Fatalf("event %d has seq %d", i, e.Seq)
		}
	}
}

func TestUnresolvedPathIsRuntimeError(t *testing.T) {
	wf := workflow("p", "A", &flow.State{Name: "A", Kind: flow.Pass, Input: path("$.missing")})
	h := newHarness(t, bundle(wf))
	in := h.end(h.start("p", `{}`))
	if in.Status != store.Failed || in.Error != flow.ErrRuntime {
		t.Fatalf("got %s %s: %s", in.Status, in.Error, in.Cause)
	}
}

func TestContextAndIdempotencyKey(t *testing.T) {
	var seen calls
	wf := workflow("ctx", "A",
		&flow.State{Name: "A", Kind: flow.Task, Routine: fn(func(in any, c *flow.Context) (any, error) {
			seen.add(c)
			return nil, nil
		})})
	h := newHarness(t, bundle(wf))
	h.end(h.startID("ctx", "order-1", `null`))
	c := seen.ctxs[0]
	if c.Instance != "order-1" || c.Workflow != "ctx" || c.Version != "v1" || c.State != "A" || c.Attempt != 1 ||
		c.Visit != 1 || c.IdempotencyKey != "order-1/A/1" || c.ItemIndex != -1 || !c.StartedAt.Equal(epoch) || c.TraceParent == "" {
		t.Fatalf("ctx %+v", c)
	}
}

func TestRetryBackoffIsDurableTimer(t *testing.T) {
	var seen calls
	wf := workflow("r", "A", &flow.State{Name: "A", Kind: flow.Task, Routine: fn(func(in any, c *flow.Context) (any, error) {
		if seen.add(c) < 4 {
			return nil, &flow.Error{Name: "Http.503", Cause: "busy"}
		}
		return "ok", nil
	}), Retry: []flow.Retrier{
		{Errors: []string{"Other"}, MaxAttempts: 9, Interval: time.Hour, Backoff: 1},
		{Errors: []string{"Http.5*"}, MaxAttempts: 3, Interval: time.Second, Backoff: 3, MaxDelay: 5 * time.Second},
	}})
	h := newHarness(t, bundle(wf))
	id := h.start("r", `{}`)
	in := h.waitingFor(id, "retry")
	if in.Waiting.Attempt != 2 || in.Waiting.Error != "Http.503" || !in.Waiting.Until.Equal(epoch.Add(time.Second)) {
		t.Fatalf("waiting %+v", in.Waiting)
	}
	// A restart does not reset the delay.
	h.restart()
	h.advance(time.Second)
	in = h.until(id, "attempt 3", func(in *store.Instance) bool { return in.Attempt == 3 && in.Status == store.Waiting })
	if d := in.Waiting.Until.Sub(h.clock.Now()); d != 3*time.Second {
		t.Fatalf("second delay %s, want 3s", d)
	}
	h.advance(3 * time.Second)
	h.until(id, "attempt 4", func(in *store.Instance) bool { return in.Attempt == 4 && in.Status == store.Waiting })
	h.advance(5 * time.Second) // 9s capped at 5s
	out := output(t, h.end(id))
	if out != "ok" || seen.n() != 4 {
		t.Fatalf("output %v after %d calls", out, seen.n())
	}
	for _, k := range seen.keys {
		if k != id+"/A/1" {
			t.Fatalf("retries must keep the idempotency key: %v", seen.keys)
		}
	}
	var delays []int64
	for _, e := range h.history(id) {
		if e.Type == "TaskRetryScheduled" {
			delays = append(delays, e.DelayMS)
		}
	}
	if !slices.Equal(delays, []int64{1000, 3000, 5000}) {
		t.Fatalf("delays %v", delays)
	}
}

func TestRetryExhaustedFailsAndFullJitter(t *testing.T) {
	wf := workflow("r", "A", &flow.State{Name: "A", Kind: flow.Task,
		Routine: fn(func(any, *flow.Context) (any, error) { return nil, errors.New("boom") }),
		Retry:   []flow.Retrier{{Errors: []string{flow.ErrAll}, MaxAttempts: 1, Interval: 10 * time.Second, Backoff: 2, FullJitter: true}}})
	h := newHarness(t, bundle(wf))
	id := h.start("r", `{}`)
	in := h.waitingFor(id, "retry")
	if d := in.Waiting.Until.Sub(epoch); d != 5*time.Second { // jitter 0.5 of 10s
		t.Fatalf("jittered delay %s", d)
	}
	h.advance(5 * time.Second)
	in = h.end(id)
	if in.Status != store.Failed || in.Error != flow.ErrTaskFailed || in.Cause != "boom" {
		t.Fatalf("got %s %s %q", in.Status, in.Error, in.Cause)
	}
}

func TestCatchRoutesError(t *testing.T) {
	wf := workflow("c", "A",
		&flow.State{Name: "A", Kind: flow.Task,
			Routine: fn(func(any, *flow.Context) (any, error) {
				return nil, &flow.Error{Name: "Payment.Declined", Cause: "card"}
			}),
			Retry: []flow.Retrier{{Errors: []string{"Http.*"}, MaxAttempts: 3, Interval: time.Second, Backoff: 2}},
			Catch: []flow.Catcher{{Errors: []string{"Other"}, Next: "Wrong"},
				{Errors: []string{"Payment.*"}, Next: "Handled", Result: path("$.error")}},
			Next: "Wrong"},
		&flow.State{Name: "Wrong", Kind: flow.Fail, Error: flow.Const{Value: "Wrong"}},
		&flow.State{Name: "Handled", Kind: flow.Succeed})
	h := newHarness(t, bundle(wf))
	id := h.start("c", `{"keep":1}`)
	if got := js(output(t, h.end(id))); got != `{"error":{"cause":"card","error":"Payment.Declined"},"keep":1}` {
		t.Fatalf("output %s", got)
	}
	if !slices.Contains(types(h.history(id)), "ErrorCaught") {
		t.Fatal("no ErrorCaught event")
	}
}

func TestTaskTimeout(t *testing.T) {
	wf := workflow("t", "A", &flow.State{Name: "A", Kind: flow.Task, Timeout: 20 * time.Millisecond,
		Routine: flow.RoutineFunc(func(ctx context.Context, _ any, _ *flow.Context) (any, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		}),
		Catch: []flow.Catcher{{Errors: []string{flow.ErrTimeout}, Next: "Late"}}},
		&flow.State{Name: "Late", Kind: flow.Succeed})
	h := newHarness(t, bundle(wf))
	if got := js(output(t, h.end(h.start("t", `{}`)))); got != `{"cause":"state A timed out after 20ms","error":"States.Timeout"}` {
		t.Fatalf("output %s", got)
	}
}

func TestWorkflowTimeout(t *testing.T) {
	wf := workflow("w", "Sleep", &flow.State{Name: "Sleep", Kind: flow.Wait, WaitFor: time.Hour})
	wf.Timeout = time.Minute
	h := newHarness(t, bundle(wf))
	id := h.start("w", `{}`)
	h.waitingFor(id, "timer")
	h.advance(time.Minute)
	in := h.end(id)
	if in.Status != store.TimedOut || in.Error != flow.ErrTimeout {
		t.Fatalf("got %s %s", in.Status, in.Error)
	}
	if evs := types(h.history(id)); evs[len(evs)-1] != "ExecutionTimedOut" {
		t.Fatalf("history %v", evs)
	}
}

func TestChoice(t *testing.T) {
	gt := func(n float64) flow.Cond {
		return flow.CondFunc(func(d any, _ *flow.Context) (bool, error) { return num(d.(map[string]any)["risk"]) > n, nil })
	}
	wf := workflow("ch", "Route",
		&flow.State{Name: "Route", Kind: flow.Choice, Rules: []flow.Rule{{When: gt(0.8), Next: "High"}, {When: gt(0.5), Next: "Mid"}}, Default: "Low"},
		&flow.State{Name: "High", Kind: flow.Pass, HasValue: true, Value: "high", Result: path("$.route")},
		&flow.State{Name: "Mid", Kind: flow.Pass, HasValue: true, Value: "mid", Result: path("$.route")},
		&flow.State{Name: "Low", Kind: flow.Pass, HasValue: true, Value: "low", Result: path("$.route")})
	none := workflow("none", "Route", &flow.State{Name: "Route", Kind: flow.Choice, Rules: []flow.Rule{{When: gt(0.8), Next: "X"}}},
		&flow.State{Name: "X", Kind: flow.Succeed})
	h := newHarness(t, bundle(wf, none))
	for risk, want := range map[float64]string{0.9: "high", 0.6: "mid", 0.1: "low"} {
		out := output(t, h.end(h.start("ch", fmt.Sprintf(`{"risk":%v}`, risk))))
		if got := out.(map[string]any)["route"]; got != want {
			t.Errorf("risk %v routed %v, want %s", risk, got, want)
		}
	}
	in := h.end(h.start("none", `{"risk":0.1}`))
	if in.Status != store.Failed || in.Error != flow.ErrNoChoiceMatched {
		t.Fatalf("got %s %s", in.Status, in.Error)
	}
}

func TestWaitDurationAndUntil(t *testing.T) {
	wf := workflow("w", "D",
		&flow.State{Name: "D", Kind: flow.Wait, WaitFor: 10 * time.Second, Next: "U"},
		&flow.State{Name: "U", Kind: flow.Wait, Until: path("$.at")})
	h := newHarness(t, bundle(wf))
	id := h.start("w", fmt.Sprintf(`{"at":%q}`, epoch.Add(time.Hour).Format(time.RFC3339)))
	in := h.waitingFor(id, "timer")
	if !in.Waiting.Until.Equal(epoch.Add(10 * time.Second)) {
		t.Fatalf("until %v", in.Waiting.Until)
	}
	h.advance(10 * time.Second)
	in = h.until(id, "second wait", func(in *store.Instance) bool { return in.State == "U" && in.Status == store.Waiting })
	if !in.Waiting.Until.Equal(epoch.Add(time.Hour)) {
		t.Fatalf("until %v", in.Waiting.Until)
	}
	h.restart()
	h.advance(time.Hour)
	h.end(id)
	evs := types(h.history(id))
	if n := count(evs, "TimerFired"); n != 2 {
		t.Fatalf("TimerFired %d times in %v", n, evs)
	}
}

// A wait until a time before 1970 is past due and ends at once (also one
// before 1678, where nanoseconds since 1970 no longer fit an int64); one
// after 2262 waits (it once wrapped around to before 1970 and ended at
// once), and shows the time it waits until as given, across a restart.
func TestWaitUntilTimesOutsideNanoseconds(t *testing.T) {
	wf := workflow("w", "U", &flow.State{Name: "U", Kind: flow.Wait, Until: path("$.at")})
	h := newHarness(t, bundle(wf))
	for _, at := range []string{"1900-01-01T00:00:00Z", "1600-01-01T00:00:00Z", "0001-01-01T00:00:00Z"} {
		in := h.end(h.start("w", fmt.Sprintf(`{"at":%q}`, at)))
		if in.Status != store.Succeeded || count(types(h.history(in.ID)), "TimerFired") != 1 {
			t.Errorf("wait until %s: %s, history %v, want SUCCEEDED at once", at, in.Status, types(h.history(in.ID)))
		}
	}
	far := time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)
	id := h.start("w", fmt.Sprintf(`{"at":%q}`, far.Format(time.RFC3339)))
	in := h.waitingFor(id, store.WaitTimer)
	if !in.Waiting.Until.Equal(far) {
		t.Fatalf("waiting until %v, want %v", in.Waiting.Until, far)
	}
	h.restart()
	h.advance(100 * 365 * 24 * time.Hour)
	in = h.waitingFor(id, store.WaitTimer)
	view, err := (*store.View)(&in.Public).AppendJSON(nil)
	if err != nil || !strings.Contains(string(view), `"waiting":{"kind":"timer","until":"2300-01-01T00:00:00.000Z"}`) {
		t.Errorf("the API shows the instance as %s (%v), want it waiting until 2300", view, err)
	}
	// The ones that ended removed their timers; the one left waits last.
	if want, stored := (store.Timer{At: store.TimerTime(far), Instance: id, Kind: "wake"}), storedTimers(t, h); len(stored) != 1 || stored[0] != want {
		t.Errorf("stored timers %v, want %v", stored, want)
	}
}

func count(s []string, v string) int {
	n := 0
	for _, x := range s {
		if x == v {
			n++
		}
	}
	return n
}

func TestAwaitEventEarlyLateAndTimeout(t *testing.T) {
	wf := workflow("a", "Gate",
		&flow.State{Name: "Gate", Kind: flow.Await, Event: "go", Timeout: time.Hour, Result: path("$.ev"),
			Catch: []flow.Catcher{{Errors: []string{flow.ErrTimeout}, Next: "Late", Result: path("$.err")}}},
		&flow.State{Name: "Late", Kind: flow.Succeed})
	wf.States["Gate"].Next = ""
	h := newHarness(t, bundle(wf))
	ctx := context.Background()

	late := h.start("a", `{}`)
	in := h.waitingFor(late, "event")
	if in.Waiting.Event != "go" || !in.Waiting.Until.Equal(epoch.Add(time.Hour)) {
		t.Fatalf("waiting %+v", in.Waiting)
	}
	if err := h.engine.Send(ctx, late, "go", json.RawMessage(`{"n":1}`)); err != nil {
		t.Fatal(err)
	}
	if got := js(output(t, h.end(late))); got != `{"ev":{"n":1}}` {
		t.Fatalf("late output %s", got)
	}
	if err := h.engine.Send(ctx, late, "go", nil); !errors.Is(err, engine.ErrEnded) {
		t.Fatalf("send to ended: %v", err)
	}
	if err := h.engine.Send(ctx, "nope", "go", nil); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("send to unknown: %v", err)
	}

	// An event that comes before the await is kept for it.
	early := workflow("early", "Sleep", &flow.State{Name: "Sleep", Kind: flow.Wait, WaitFor: time.Second, Next: "Gate"},
		&flow.State{Name: "Gate", Kind: flow.Await, Event: "go"})
	h2 := newHarness(t, bundle(early))
	id := h2.start("early", `{}`)
	h2.waitingFor(id, "timer")
	if err := h2.engine.Send(ctx, id, "go", json.RawMessage(`"first"`)); err != nil {
		t.Fatal(err)
	}
	h2.advance(time.Second)
	if got := output(t, h2.end(id)); got != "first" {
		t.Fatalf("early output %v", got)
	}

	timeout := h.start("a", `{}`)
	h.waitingFor(timeout, "event")
	h.advance(time.Hour)
	if got := js(output(t, h.end(timeout))); got != `{"err":{"cause":"await Gate: event go did not arrive within 1h0m0s","error":"States.Timeout"}}` {
		t.Fatalf("timeout output %s", got)
	}
}

func TestParallel(t *testing.T) {
	wf := workflow("par", "Both",
		&flow.State{Name: "Both", Kind: flow.Parallel, Result: path("$.both"), Branches: []*flow.Machine{
			sub("A", &flow.State{Name: "A", Kind: flow.Task, Routine: add(1)}),
			sub("B", &flow.State{Name: "B", Kind: flow.Task, Routine: add(2), Next: "B2"},
				&flow.State{Name: "B2", Kind: flow.Pass}),
		}})
	h := newHarness(t, bundle(wf))
	id := h.start("par", `{"x":1}`)
	if got := js(output(t, h.end(id))); got != `{"both":[2,3],"x":1}` {
		t.Fatalf("output %s", got)
	}
	if n := count(types(h.history(id)), "ChildCompleted"); n != 2 {
		t.Fatalf("ChildCompleted %d", n)
	}
}

func TestParallelBranchFailureIsCaught(t *testing.T) {
	wf := workflow("par", "Both",
		&flow.State{Name: "Both", Kind: flow.Parallel, Branches: []*flow.Machine{
			sub("A", &flow.State{Name: "A", Kind: flow.Wait, WaitFor: time.Hour}),
			sub("B", &flow.State{Name: "B", Kind: flow.Fail, Error: flow.Const{Value: "Branch.Broke"}, Cause: flow.Const{Value: "b"}}),
		}, Catch: []flow.Catcher{{Errors: []string{"Branch.*"}, Next: "Done"}}},
		&flow.State{Name: "Done", Kind: flow.Succeed})
	h := newHarness(t, bundle(wf))
	id := h.start("par", `{}`)
	if got := js(output(t, h.end(id))); got != `{"cause":"b","error":"Branch.Broke"}` {
		t.Fatalf("output %s", got)
	}
	// The branch still waiting was cancelled.
	waiting := h.until(id+":Both:1.1:0", "cancelled", func(in *store.Instance) bool { return in.Status.Terminal() })
	if waiting.Status != store.Cancelled {
		t.Fatalf("sibling %s", waiting.Status)
	}
}

func TestMapMaxConcurrencyAndItemIndex(t *testing.T) {
	var running, peak atomic.Int32
	release := make(chan struct{})
	wf := workflow("m", "Each",
		&flow.State{Name: "Each", Kind: flow.Map, Items: path("$.items"), MaxConcurrency: 2, Iterator: sub("Do",
			&flow.State{Name: "Do", Kind: flow.Task, Routine: fn(func(in any, c *flow.Context) (any, error) {
				n := running.Add(1)
				defer running.Add(-1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				<-release
				return map[string]any{"item": in, "index": float64(c.ItemIndex)}, nil
			})})})
	h := newHarness(t, bundle(wf))
	id := h.start("m", `{"items":["a","b","c","d","e"]}`)
	close(release)
	want := `[{"index":0,"item":"a"},{"index":1,"item":"b"},{"index":2,"item":"c"},{"index":3,"item":"d"},{"index":4,"item":"e"}]`
	if got := js(output(t, h.end(id))); got != want {
		t.Fatalf("output %s", got)
	}
	if peak.Load() > 2 {
		t.Fatalf("%d items ran at once, max_concurrency is 2", peak.Load())
	}
	empty := h.start("m", `{"items":[]}`)
	if got := js(output(t, h.end(empty))); got != `[]` {
		t.Fatalf("empty map output %s", got)
	}
}

func TestCallChildWorkflow(t *testing.T) {
	child := workflow("child", "Add", &flow.State{Name: "Add", Kind: flow.Task, Routine: add(10)})
	parent := workflow("parent", "Call", &flow.State{Name: "Call", Kind: flow.Call, Workflow: "child", Result: path("$.child")})
	h := newHarness(t, bundle(child, parent))
	if got := js(output(t, h.end(h.start("parent", `{"x":1}`)))); got != `{"child":11,"x":1}` {
		t.Fatalf("output %s", got)
	}
}

func TestCancelCascadesToChildren(t *testing.T) {
	child := workflow("child", "Gate", &flow.State{Name: "Gate", Kind: flow.Await, Event: "never"})
	parent := workflow("parent", "Call", &flow.State{Name: "Call", Kind: flow.Call, Workflow: "child"})
	h := newHarness(t, bundle(child, parent))
	id := h.start("parent", `{}`)
	p := h.waitingFor(id, "child")
	kid := p.Waiting.Instance
	h.waitingFor(kid, "event")
	if err := h.engine.Cancel(id); err != nil {
		t.Fatal(err)
	}
	if in := h.end(id); in.Status != store.Cancelled || in.Error != flow.ErrCancelled {
		t.Fatalf("parent %s %s", in.Status, in.Error)
	}
	if in := h.end(kid); in.Status != store.Cancelled {
		t.Fatalf("child %s", in.Status)
	}
	if err := h.engine.Cancel(id); !errors.Is(err, engine.ErrEnded) {
		t.Fatalf("second cancel: %v", err)
	}
	if err := h.engine.Cancel("nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown cancel: %v", err)
	}
}

func TestPauseResume(t *testing.T) {
	wf := workflow("p", "W", &flow.State{Name: "W", Kind: flow.Wait, WaitFor: time.Second, Next: "E"},
		&flow.State{Name: "E", Kind: flow.Succeed})
	h := newHarness(t, bundle(wf))
	id := h.start("p", `{}`)
	h.waitingFor(id, "timer")
	if err := h.engine.Pause(id); err != nil {
		t.Fatal(err)
	}
	h.until(id, "paused", func(in *store.Instance) bool { return in.Status == store.Paused })
	h.advance(time.Second) // the timer fires while paused: nothing moves
	if in, _ := h.engine.Get(id); in.Status != store.Paused {
		t.Fatalf("paused instance moved: %s", in.Status)
	}
	if err := h.engine.Resume(id); err != nil {
		t.Fatal(err)
	}
	output(t, h.end(id))
	if err := h.engine.Resume(id); !errors.Is(err, engine.ErrNotPaused) {
		t.Fatalf("resume again: %v", err)
	}
}

func TestRedrive(t *testing.T) {
	var broken atomic.Bool
	broken.Store(true)
	wf := workflow("r", "A", &flow.State{Name: "A", Kind: flow.Pass, HasValue: true, Value: 1.0, Result: path("$.a"), Next: "B"},
		&flow.State{Name: "B", Kind: flow.Task, Routine: fn(func(in any, _ *flow.Context) (any, error) {
			if broken.Load() {
				return nil, &flow.Error{Name: "Down", Cause: "not yet"}
			}
			return in, nil
		})})
	h := newHarness(t, bundle(wf))
	id := h.start("r", `{}`)
	in := h.end(id)
	if in.Status != store.Failed || in.State != "B" {
		t.Fatalf("got %s at %s", in.Status, in.State)
	}
	broken.Store(false)
	if err := h.engine.Redrive(id); err != nil {
		t.Fatal(err)
	}
	if got := js(output(t, h.end(id))); got != `{"a":1}` {
		t.Fatalf("output %s", got)
	}
	if err := h.engine.Redrive(id); !errors.Is(err, engine.ErrNotEnded) {
		t.Fatalf("redrive succeeded instance: %v", err)
	}
}

// A redrive that comes while the instance runs is refused then, not
// applied once the run fails: three such redrives used to make four runs.
func TestRedriveOfARunningInstanceIsRefused(t *testing.T) {
	var runs calls
	release := make(chan struct{})
	wf := workflow("r", "A", &flow.State{Name: "A", Kind: flow.Task, Routine: fn(func(_ any, c *flow.Context) (any, error) {
		if runs.add(c) == 1 {
			<-release
		}
		return nil, &flow.Error{Name: "Down", Cause: "still"}
	})})
	h := newHarness(t, bundle(wf))
	id := h.start("r", `{}`)
	h.until(id, "running its step", func(*store.Instance) bool { return runs.n() == 1 })
	refused := make(chan error, 3)
	for range 3 {
		go func() { refused <- h.engine.Redrive(id) }()
	}
	for range 3 {
		select {
		case err := <-refused:
			if !errors.Is(err, engine.ErrNotEnded) {
				t.Fatalf("redrive of a running instance: %v", err)
			}
		case <-time.After(orbittest.Timeout):
			t.Fatal("a redrive of a running instance waited for the step to end")
		}
	}
	close(release)
	if in := h.end(id); in.Status != store.Failed {
		t.Fatalf("instance %s", in.Status)
	}
	// A redrive of the failed instance runs it once more, and only once.
	if err := h.engine.Redrive(id); err != nil {
		t.Fatal(err)
	}
	h.until(id, "failed again", func(in *store.Instance) bool {
		return in.Status == store.Failed && count(types(h.history(id)), "ExecutionFailed") == 2
	})
	if runs.n() != 2 {
		t.Fatalf("%d runs for one redrive", runs.n())
	}
}

func TestIdempotentStart(t *testing.T) {
	wf := workflow("i", "W", &flow.State{Name: "W", Kind: flow.Wait, WaitFor: time.Hour})
	h := newHarness(t, bundle(wf))
	ctx := context.Background()
	a, existed, err := h.engine.Start(ctx, "i", engine.StartOptions{ID: "o-1", Input: json.RawMessage(`{"a": 1}`)})
	if err != nil || existed {
		t.Fatal(err, existed)
	}
	b, existed, err := h.engine.Start(ctx, "i", engine.StartOptions{ID: "o-1", Input: json.RawMessage(`{"a":1}`)})
	if err != nil || !existed || b.ID != a.ID {
		t.Fatalf("repeat: %v %v %v", b, existed, err)
	}
	if _, _, err := h.engine.Start(ctx, "i", engine.StartOptions{ID: "o-1", Input: json.RawMessage(`{"a":2}`)}); !errors.Is(err, engine.ErrConflict) {
		t.Fatalf("other input: %v", err)
	}
	for _, bad := range []string{"has space", "slash/y", string(make([]byte, 129))} {
		if _, _, err := h.engine.Start(ctx, "i", engine.StartOptions{ID: bad}); !errors.Is(err, engine.ErrBadID) {
			t.Fatalf("id %q: %v", bad, err)
		}
	}
	if _, _, err := h.engine.Start(ctx, "nope", engine.StartOptions{}); !errors.Is(err, engine.ErrUnknownWorkflow) {
		t.Fatalf("unknown workflow: %v", err)
	}
	if _, _, err := h.engine.Start(ctx, "i", engine.StartOptions{Input: json.RawMessage(`{`)}); err == nil {
		t.Fatal("bad JSON accepted")
	}
}

func TestPayloadLimit(t *testing.T) {
	big := make([]byte, 300<<10)
	for i := range big {
		big[i] = 'x'
	}
	wf := workflow("big", "A", &flow.State{Name: "A", Kind: flow.Task, Routine: fn(func(any, *flow.Context) (any, error) { return string(big), nil })})
	h := newHarness(t, bundle(wf))
	in := h.end(h.start("big", `{}`))
	if in.Status != store.Failed || in.Error != flow.ErrPayloadTooLarge {
		t.Fatalf("got %s %s", in.Status, in.Error)
	}
	if _, _, err := h.engine.Start(context.Background(), "big", engine.StartOptions{Input: json.RawMessage(`"` + string(big) + `"`)}); !errors.Is(err, engine.ErrPayloadTooLarge) {
		t.Fatalf("large input: %v", err)
	}
}

func TestExpressWritesOnlyTheEnd(t *testing.T) {
	wf := workflow("x", "A", &flow.State{Name: "A", Kind: flow.Task, Routine: add(1), Next: "B"},
		&flow.State{Name: "B", Kind: flow.Pass})
	wf.Mode = flow.Express
	h := newHarness(t, bundle(wf))
	before := h.store.Stats().Checkpoints
	id := h.start("x", `{"x":1}`)
	if got := output(t, h.end(id)); got != 2.0 {
		t.Fatalf("output %v", got)
	}
	if n := h.store.Stats().Checkpoints - before; n != 1 {
		t.Fatalf("express instance took %d checkpoints, want 1", n)
	}
	if n := len(h.history(id)); n != 8 {
		t.Fatalf("history has %d events", n)
	}
}

func TestObserverRetriesThenRecordsFailure(t *testing.T) {
	var got calls
	wf := workflow("o", "A", &flow.State{Name: "A", Kind: flow.Pass, HasValue: true, Value: "v", Result: path("$.a")})
	b := bundle(wf)
	b.Observers = []*flow.Observer{
		{Workflow: "o", On: "StateExited", State: "A", RoutineName: "ok", Input: path("$.a"),
			Routine: fn(func(in any, c *flow.Context) (any, error) {
				if in != "v" {
					t.Errorf("observer input %v", in)
				}
				got.add(c)
				return nil, nil
			})},
		{Workflow: "*", On: "ExecutionSucceeded", RoutineName: "bad",
			Routine: fn(func(any, *flow.Context) (any, error) { return nil, &flow.Error{Name: "Nope", Cause: "down"} }),
			Retry:   []flow.Retrier{{Errors: []string{flow.ErrAll}, MaxAttempts: 1, Interval: time.Second, Backoff: 1}}},
	}
	h := newHarness(t, b)
	id := h.start("o", `{}`)
	h.end(id)
	h.advance(time.Second)
	orbittest.For(t, orbittest.Timeout, func() error {
		if evs := types(h.history(id)); !slices.Contains(evs, "ObserverFailed") || got.n() == 0 {
			return fmt.Errorf("no ObserverFailed in %v after %d calls", evs, got.n())
		}
		return nil
	})
	if got.n() != 1 {
		t.Fatalf("observer ran %d times", got.n())
	}
	evs := h.history(id)
	last := evs[len(evs)-1]
	if last.Error != "Nope" || last.Cause != "bad: down" || last.Attempt != 2 {
		t.Fatalf("ObserverFailed %+v", last)
	}
	if in, _ := h.engine.Get(id); in.Status != store.Succeeded {
		t.Fatalf("observer changed the instance: %s", in.Status)
	}
}

func TestRestartRerunsInterruptedTask(t *testing.T) {
	var seen calls
	block := make(chan struct{})
	wf := workflow("k", "A", &flow.State{Name: "A", Kind: flow.Task, Routine: flow.RoutineFunc(
		func(ctx context.Context, _ any, c *flow.Context) (any, error) {
			if seen.add(c) == 1 {
				select {
				case <-block:
				case <-ctx.Done():
				}
				return nil, ctx.Err()
			}
			return "done", nil
		})})
	h := newHarness(t, bundle(wf))
	id := h.start("k", `{}`)
	orbittest.For(t, orbittest.Timeout, func() error {
		if seen.n() == 0 {
			return errors.New("the task was never called")
		}
		return nil
	})
	// Close with an expired grace period: the step is abandoned, not failed.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	h.engine.Close(ctx)
	close(block)
	h.engine = nil
	h.store.Close()
	h.open()
	if got := output(t, h.end(id)); got != "done" {
		t.Fatalf("output %v", got)
	}
	if !reflect.DeepEqual(seen.keys, []string{id + "/A/1", id + "/A/1"}) {
		t.Fatalf("keys %v", seen.keys)
	}
}

func TestConcurrencyKeyQueuesInOrderAcrossRestart(t *testing.T) {
	wf := workflow("serial", "Gate", &flow.State{Name: "Gate", Kind: flow.Await, Event: "done"})
	wf.Concurrency = &flow.Concurrency{Key: path("$.order"), Limit: 1}
	h := newHarness(t, bundle(wf))
	ctx := context.Background()
	a := h.start("serial", `{"order":"o1"}`)
	h.waitingFor(a, "event")
	b := h.start("serial", `{"order":"o1"}`)
	c := h.start("serial", `{"order":"o1"}`)
	other := h.start("serial", `{"order":"o2"}`)
	h.waitingFor(other, "event")
	for _, id := range []string{b, c} {
		in := h.until(id, "queued", func(in *store.Instance) bool { return in.Status == store.Queued })
		if in.Waiting.Kind != "concurrency" || in.Waiting.Key != "o1" {
			t.Fatalf("%s: %s %+v", id, in.Status, in.Waiting)
		}
	}
	h.restart()
	if err := h.engine.Send(ctx, a, "done", nil); err != nil {
		t.Fatal(err)
	}
	h.end(a)
	h.waitingFor(b, "event")
	if in, _ := h.engine.Get(c); in.Status != store.Queued {
		t.Fatalf("c is %s while b runs", in.Status)
	}
	if err := h.engine.Cancel(b); err != nil {
		t.Fatal(err)
	}
	h.waitingFor(c, "event")
	h.engine.Send(ctx, c, "done", nil)
	output(t, h.end(c))
	if _, _, err := h.engine.Start(ctx, "serial", engine.StartOptions{Input: json.RawMessage(`{}`)}); !errors.Is(err, engine.ErrBadInput) {
		t.Fatalf("missing key: %v", err)
	}
}

func TestObserverOwedBeforeCrashRunsAfterRestart(t *testing.T) {
	var got calls
	first := make(chan struct{})
	wf := workflow("o", "A", &flow.State{Name: "A", Kind: flow.Pass})
	b := bundle(wf)
	b.Observers = []*flow.Observer{{Workflow: "o", On: "ExecutionSucceeded", RoutineName: "slow",
		Routine: flow.RoutineFunc(func(ctx context.Context, _ any, c *flow.Context) (any, error) {
			if got.add(c) == 1 {
				close(first)
				<-ctx.Done() // the process goes down mid-call
				return nil, ctx.Err()
			}
			return nil, nil
		})}}
	h := newHarness(t, b)
	id := h.start("o", `{}`)
	h.end(id)
	<-first
	h.restart()
	orbittest.For(t, orbittest.Timeout, func() error {
		if got.n() < 2 {
			return errors.New("the owed observer did not run after the restart")
		}
		return nil
	})
	if got.keys[0] != got.keys[1] {
		t.Fatalf("observer keys differ: %v", got.keys)
	}
	if slices.Contains(types(h.history(id)), "ObserverFailed") {
		t.Fatal("an interrupted observer was recorded as failed")
	}
	orbittest.For(t, orbittest.Timeout, func() error {
		if n := timers(t, h); n > 0 {
			return fmt.Errorf("the finished observer job was not removed: %d timers left", n)
		}
		return nil
	})
}

func timers(t *testing.T, h *harness) int { return len(storedTimers(t, h)) }

// storedTimers lists the timers the store holds, in their order.
func storedTimers(t *testing.T, h *harness) []store.Timer {
	t.Helper()
	var out []store.Timer
	if err := h.store.Timers(func(tm store.Timer) error { out = append(out, tm); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// A start's input of [] — PHP's json_encode of an empty array — is the
// empty object, so a result path can write into it (issue: the instance
// failed on its first path).
func TestEmptyArrayInputIsAnEmptyObject(t *testing.T) {
	wf := workflow("w", "Greet",
		&flow.State{Name: "Greet", Kind: flow.Task, Result: path("$.greeting"),
			Routine: fn(func(any, *flow.Context) (any, error) { return "hello", nil })})
	h := newHarness(t, bundle(wf))
	for _, in := range []string{`[]`, ` [ ] `} {
		inst := h.end(h.start("w", in))
		if inst.Status != store.Succeeded || string(inst.Input) != `{}` || js(output(t, inst)) != `{"greeting":"hello"}` {
			t.Errorf("start with %q: %s %s %s, input %s", in, inst.Status, inst.Error, inst.Cause, inst.Input)
		}
	}
	// A list with items is the input as sent.
	if inst := h.end(h.start("w", `[1]`)); inst.Status != store.Failed || string(inst.Input) != `[1]` {
		t.Errorf("start with [1]: %s, input %s", inst.Status, inst.Input)
	}
}

// TestIdempotencyKeyFollowsTheVisit: a state visited again gets the next
// visit's key, and a state entered next its own, though the key is built
// once per visit.
func TestIdempotencyKeyFollowsTheVisit(t *testing.T) {
	var seen calls
	loop := flow.CondFunc(func(d any, _ *flow.Context) (bool, error) { return num(d) < 2, nil })
	wf := workflow("loop", "A",
		&flow.State{Name: "A", Kind: flow.Task, Routine: fn(func(in any, c *flow.Context) (any, error) {
			seen.add(c)
			return num(in) + 1, nil
		}), Next: "More"},
		&flow.State{Name: "More", Kind: flow.Choice, Rules: []flow.Rule{{When: loop, Next: "A"}}, Default: "B"},
		&flow.State{Name: "B", Kind: flow.Task, Routine: fn(func(in any, c *flow.Context) (any, error) {
			seen.add(c)
			return in, nil
		})})
	h := newHarness(t, bundle(wf))
	id := h.startID("loop", "k", `0`)
	h.end(id)
	if want := []string{"k/A/1", "k/A/2", "k/B/1"}; !slices.Equal(seen.keys, want) {
		t.Fatalf("keys %v, want %v", seen.keys, want)
	}
}

// countingMarshals is a routine's result that counts how often it is
// encoded.
type countingMarshals struct{ n *atomic.Int32 }

func (c countingMarshals) MarshalJSON() ([]byte, error) {
	c.n.Add(1)
	return []byte(`{"done":true}`), nil
}

// TestResultPassedOnIsEncodedOnce: a task whose output is its result
// encodes it once for the history event and the data it passes on.
func TestResultPassedOnIsEncodedOnce(t *testing.T) {
	var n atomic.Int32
	wf := workflow("once", "A",
		&flow.State{Name: "A", Kind: flow.Task, Routine: fn(func(any, *flow.Context) (any, error) {
			return countingMarshals{&n}, nil
		})})
	h := newHarness(t, bundle(wf))
	id := h.start("once", `{}`)
	if got := js(output(t, h.end(id))); got != `{"done":true}` {
		t.Fatalf("output %s", got)
	}
	if n.Load() != 1 {
		t.Fatalf("the result was encoded %d times, want once", n.Load())
	}
	for _, e := range h.history(id) {
		if e.Type == "TaskSucceeded" && string(e.Output) != `{"done":true}` {
			t.Fatalf("TaskSucceeded output %s", e.Output)
		}
	}
}
