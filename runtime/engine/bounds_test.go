package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/internal/orbittest"
	"github.com/orbit-sidecar/orbit/runtime/engine"
	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/store"
)

// maxCause is the bound of a recorded cause under the default 256 KiB
// payload limit.
const maxCause = 32 << 10

// checkBounded fails the test when an error name or cause is over its
// bound, or a cut cause lacks the marker.
func checkBounded(t *testing.T, where, name, cause string) {
	t.Helper()
	if len(name) > flow.MaxErrorName {
		t.Errorf("%s: error name of %d bytes", where, len(name))
	}
	if len(cause) > maxCause {
		t.Errorf("%s: cause of %d bytes", where, len(cause))
	}
	if len(cause) > maxCause/2 && !strings.Contains(cause, "bytes in all]") {
		t.Errorf("%s: a cut cause must say so: ...%q", where, cause[len(cause)-60:])
	}
}

// A routine, a fail state, a child and an observer that raise errors of
// many megabytes leave records and a history of kilobytes: every place an
// error is recorded holds a bounded name and a cut cause.
func TestRecordedErrorsAreBounded(t *testing.T) {
	hugeName := "Custom." + strings.Repeat("n", 1<<20)
	hugeCause := strings.Repeat("c", 16<<20)
	child := workflow("child", "Fail", &flow.State{Name: "Fail", Kind: flow.Fail,
		Error: flow.Const{Value: hugeName}, Cause: flow.Const{Value: hugeCause}})
	parent := workflow("big", "A",
		&flow.State{Name: "A", Kind: flow.Task, Next: "Never",
			Routine: fn(func(any, *flow.Context) (any, error) { return nil, &flow.Error{Name: hugeName, Cause: hugeCause} }),
			Retry:   []flow.Retrier{{Errors: []string{"Custom.*"}, MaxAttempts: 1}}, // a cut name keeps its prefix
			Catch:   []flow.Catcher{{Errors: []string{flow.ErrAll}, Next: "B", Result: path("$.err")}}},
		&flow.State{Name: "Never", Kind: flow.Succeed},
		&flow.State{Name: "B", Kind: flow.Call, Workflow: "child"})
	b := bundle(child, parent)
	b.Observers = []*flow.Observer{{Workflow: "big", On: store.EventTaskFailed, RoutineName: "loud",
		Routine: fn(func(any, *flow.Context) (any, error) { return nil, &flow.Error{Name: hugeName, Cause: hugeCause} })}}
	h := newHarness(t, b)
	id := h.start("big", `{}`)
	in := h.end(id)
	if in.Status != store.Failed || !strings.HasPrefix(in.Error, "Custom.nnn") {
		t.Fatalf("parent %s %.40s", in.Status, in.Error)
	}
	checkBounded(t, "parent record", in.Error, in.Cause)
	kid := h.end(id + ":B:1.1:0")
	checkBounded(t, "child record", kid.Error, kid.Cause)

	orbittest.For(t, orbittest.Timeout, func() error {
		if evs := types(h.history(id)); !slices.Contains(evs, "ObserverFailed") {
			return fmt.Errorf("no ObserverFailed in %v", evs)
		}
		return nil
	})
	seen := map[store.EventType]bool{}
	total := 0
	for _, ev := range h.history(id) {
		raw, _ := json.Marshal(ev)
		total += len(raw)
		if ev.Error != "" {
			seen[ev.Type] = true
			checkBounded(t, string(ev.Type), ev.Error, ev.Cause)
		}
		if ev.Type == store.EventStateEntered && ev.State == "B" {
			var data struct{ Err flow.Error }
			if err := json.Unmarshal(ev.Input, &data); err != nil {
				t.Fatal(err)
			}
			checkBounded(t, "catch result in the data", data.Err.Name, data.Err.Cause)
		}
	}
	for _, typ := range []store.EventType{store.EventTaskFailed, store.EventTaskRetryScheduled, store.EventErrorCaught,
		store.EventChildCompleted, store.EventObserverFailed, store.EventExecutionFailed} {
		if !seen[typ] {
			t.Errorf("no %s with an error in the history", typ)
		}
	}
	if total > 512<<10 {
		t.Errorf("history of %d bytes for errors that are cut to %d", total, maxCause)
	}
}

// A catcher whose result does not fit the payload limit fails the
// instance: catching that failure again with the same catcher would
// recurse until the stack overflows.
func TestCatchWhoseResultIsTooLargeFails(t *testing.T) {
	wf := workflow("c", "A", &flow.State{Name: "A", Kind: flow.Task,
		Routine: fn(func(any, *flow.Context) (any, error) { return nil, &flow.Error{Name: "Down", Cause: "no"} }),
		Catch:   []flow.Catcher{{Errors: []string{flow.ErrAll}, Next: "Done", Result: path("$.err")}}},
		&flow.State{Name: "Done", Kind: flow.Succeed})
	h := newHarness(t, bundle(wf))
	input := `{"fill":"` + strings.Repeat("x", 256<<10-20) + `"}` // just under the limit
	in := h.end(h.start("c", input))
	if in.Status != store.Failed || in.Error != flow.ErrPayloadTooLarge {
		t.Fatalf("got %s %s: %s", in.Status, in.Error, in.Cause)
	}
}

// A task input that cannot be encoded, or is over the payload limit, is
// the state's error: the routine is not called with it and the history
// does not record a blank or an oversized input.
func TestTaskInputMustEncode(t *testing.T) {
	var c calls
	record := fn(func(_ any, fc *flow.Context) (any, error) { c.add(fc); return nil, nil })
	inf := workflow("inf", "A", &flow.State{Name: "A", Kind: flow.Task, Routine: record,
		Input: flow.ExprFunc(func(any, *flow.Context) (any, error) { return math.Inf(1), nil })})
	big := workflow("big", "A", &flow.State{Name: "A", Kind: flow.Task, Routine: record,
		Input: flow.ExprFunc(func(any, *flow.Context) (any, error) { return strings.Repeat("x", 1<<20), nil })})
	h := newHarness(t, bundle(inf, big))
	for wf, want := range map[string]string{"inf": flow.ErrRuntime, "big": flow.ErrPayloadTooLarge} {
		id := h.start(wf, `{}`)
		in := h.end(id)
		if in.Status != store.Failed || in.Error != want || !strings.Contains(in.Cause, "input") {
			t.Errorf("%s: %s %s: %s", wf, in.Status, in.Error, in.Cause)
		}
		if slices.Contains(types(h.history(id)), "TaskScheduled") {
			t.Errorf("%s: a task was scheduled with an input it cannot have: %v", wf, types(h.history(id)))
		}
	}
	if c.n() != 0 {
		t.Fatalf("the routine was called %d times", c.n())
	}
}

// Events an instance does not await yet are kept up to a count and a size
// per instance; beyond, Send refuses them. The event the instance awaits
// now is always taken, and taking kept events makes room again.
func TestEventsNotAwaitedAreBounded(t *testing.T) {
	wf := workflow("w", "Sleep", &flow.State{Name: "Sleep", Kind: flow.Wait, WaitFor: time.Hour, Next: "Gate"},
		&flow.State{Name: "Gate", Kind: flow.Await, Event: "go", Next: "Take"},
		&flow.State{Name: "Take", Kind: flow.Await, Event: "x"})
	h := newHarnessWith(t, bundle(wf), func(c *engine.Config) { c.MaxPendingEvents, c.MaxPendingBytes = 3, 100 })
	ctx := context.Background()
	id := h.start("w", `{}`)
	h.waitingFor(id, "timer")
	for i := range 3 {
		if err := h.engine.Send(ctx, id, "x", json.RawMessage(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.engine.Send(ctx, id, "x", nil); !errors.Is(err, engine.ErrTooManyEvents) {
		t.Fatalf("a fourth event: %v", err)
	}
	other := h.start("w", `{}`)
	h.waitingFor(other, "timer")
	big := json.RawMessage(`"` + strings.Repeat("b", 60) + `"`)
	if err := h.engine.Send(ctx, other, "x", big); err != nil {
		t.Fatal(err)
	}
	if err := h.engine.Send(ctx, other, "x", big); !errors.Is(err, engine.ErrTooManyEvents) || !strings.Contains(err.Error(), "100 bytes") {
		t.Fatalf("payloads over the byte bound: %v", err)
	}
	// The event the instance awaits now is taken at the bound; taking a
	// kept one makes room for another.
	h.advance(time.Hour)
	h.waitingFor(id, "event")
	if err := h.engine.Send(ctx, id, "go", nil); err != nil {
		t.Fatalf("the awaited event at the bound: %v", err)
	}
	if got := output(t, h.end(id)); got != 0.0 {
		t.Fatalf("output %v, want the first kept x", got)
	}
	if err := h.engine.Send(ctx, other, "go", nil); err != nil {
		t.Fatal(err)
	}
	h.end(other)
}

// Many concurrent sends to one instance cannot overshoot the bound
// together.
func TestConcurrentSendsKeepTheBound(t *testing.T) {
	wf := workflow("w", "Gate", &flow.State{Name: "Gate", Kind: flow.Await, Event: "go", Next: "Later"},
		&flow.State{Name: "Later", Kind: flow.Await, Event: "x"})
	h := newHarnessWith(t, bundle(wf), func(c *engine.Config) { c.MaxPendingEvents = 5 })
	id := h.start("w", `{}`)
	h.waitingFor(id, "event")
	var wg sync.WaitGroup
	for range 40 {
		wg.Go(func() { h.engine.Send(context.Background(), id, "x", nil) })
	}
	wg.Wait()
	if n, _, err := h.store.PendingSize(id); err != nil || n != 5 {
		t.Fatalf("%d events kept, want 5 (%v)", n, err)
	}
}

// nested is JSON of depth levels of arrays around a number.
func nested(depth int) string {
	return strings.Repeat("[", depth) + "1" + strings.Repeat("]", depth)
}

// JSON nested deeper than a store reads back is refused where it would be
// stored: encoding/json accepts 10,000 levels in an input, but a record
// holding it has more and never decoded again, so its instance was
// damaged from its first write. An input and an event payload are the
// client's mistake; a routine's result fails its state.
func TestDeeplyNestedJSONIsNotStored(t *testing.T) {
	wf := workflow("w", "Gate", &flow.State{Name: "Gate", Kind: flow.Await, Event: "go", Next: "Deep", Result: path("$.go")},
		&flow.State{Name: "Deep", Kind: flow.Task, Result: path("$.deep"),
			Routine: fn(func(any, *flow.Context) (any, error) {
				var v any
				err := json.Unmarshal([]byte(nested(9990)), &v)
				return v, err
			})})
	h := newHarness(t, bundle(wf))
	ctx := context.Background()
	_, _, err := h.engine.Start(ctx, "w", engine.StartOptions{Input: json.RawMessage(nested(10000))})
	if !errors.Is(err, engine.ErrBadInput) || !strings.Contains(err.Error(), "nested deeper than 1000 levels") {
		t.Fatalf("a deep input: %v", err)
	}
	id := h.start("w", `{"deep":`+nested(store.MaxDepth-1)+`}`) // the deepest allowed
	h.waitingFor(id, "event")
	if err := h.engine.Send(ctx, id, "go", json.RawMessage(nested(5000))); !errors.Is(err, engine.ErrBadInput) ||
		!strings.Contains(err.Error(), "nested deeper than 1000 levels") {
		t.Fatalf("a deep event payload: %v", err)
	}
	if err := h.engine.Send(ctx, id, "go", json.RawMessage(`{"ok":true}`)); err != nil {
		t.Fatal(err)
	}
	in := h.end(id)
	if in.Status != store.Failed || in.Error != flow.ErrRuntime || !strings.Contains(in.Cause, "nested deeper than 1000 levels") {
		t.Fatalf("a deep result: %s %s: %.200s", in.Status, in.Error, in.Cause)
	}
	// Every record and event reads back.
	h.restart()
	if _, err := h.engine.Get(id); err != nil {
		t.Fatal(err)
	}
	h.history(id)
}
