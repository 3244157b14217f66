package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/orbit-sidecar/orbit/internal/orbittest"
	"github.com/orbit-sidecar/orbit/runtime/engine"
	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/runtime/tracing"
	"github.com/orbit-sidecar/orbit/store"
)

// waitingIs polls the engine's waiting counts until they are want (kinds
// not named are 0).
func (h *harness) waitingIs(want map[store.WaitingKind]int64) {
	h.t.Helper()
	orbittest.For(h.t, orbittest.Timeout, func() error {
		got := h.engine.Waiting()
		for k, n := range got {
			if n != want[k] {
				return fmt.Errorf("waiting %v, want %v", got, want)
			}
		}
		return nil
	})
}

// The engine counts waiting instances by kind as they park and move on,
// and counts them again from the store after a restart.
func TestWaitingCountsByKind(t *testing.T) {
	b := bundle(
		workflow("await", "Wait", &flow.State{Name: "Wait", Kind: flow.Await, Event: "go"}),
		workflow("nap", "Nap", &flow.State{Name: "Nap", Kind: flow.Wait, WaitFor: time.Hour}),
		workflow("serial", "Wait", &flow.State{Name: "Wait", Kind: flow.Await, Event: "go"}),
	)
	b.Workflows["serial"].Concurrency = &flow.Concurrency{Key: flow.MustPath("$.k"), Limit: 1}
	h := newHarness(t, b)
	a := h.start("await", `{}`)
	h.waitingFor(a, store.WaitEvent)
	h.waitingFor(h.start("nap", `{}`), store.WaitTimer)
	p := h.start("await", `{}`)
	h.waitingFor(p, store.WaitEvent)
	if err := h.engine.Pause(p); err != nil {
		t.Fatal(err)
	}
	first := h.start("serial", `{"k": 1}`)
	h.waitingFor(first, store.WaitEvent)
	h.start("serial", `{"k": 1}`) // queued behind first
	want := map[store.WaitingKind]int64{store.WaitEvent: 2, store.WaitTimer: 1, store.WaitPaused: 1, store.WaitConcurrency: 1}
	h.waitingIs(want)
	if n := h.engine.QueueDepth(); n != 1 {
		t.Errorf("queue depth %d, want 1", n)
	}

	h.restart()
	if err := h.engine.Rechecked(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.waitingIs(want)

	if err := h.engine.Send(context.Background(), a, "go", json.RawMessage(`1`)); err != nil {
		t.Fatal(err)
	}
	h.end(a)
	h.advance(time.Hour)
	if err := h.engine.Resume(p); err != nil {
		t.Fatal(err)
	}
	h.waitingIs(map[store.WaitingKind]int64{store.WaitEvent: 2, store.WaitConcurrency: 1})
}

// spans records what a tracer exports, for reading by parent.
type spans struct {
	rec *tracetest.SpanRecorder
}

func newSpans() (*spans, *tracing.Tracer) {
	rec := tracetest.NewSpanRecorder()
	return &spans{rec: rec}, tracing.New(sdktrace.WithSpanProcessor(rec))
}

// named returns the ended spans with that name, waiting for at least n.
func (s *spans) named(t *testing.T, name string, n int) []sdktrace.ReadOnlySpan {
	t.Helper()
	return orbittest.Until(t, orbittest.Timeout, fmt.Sprintf("%d spans %q", n, name), func() ([]sdktrace.ReadOnlySpan, error) {
		var out []sdktrace.ReadOnlySpan
		for _, sp := range s.rec.Ended() {
			if sp.Name() == name {
				out = append(out, sp)
			}
		}
		return out, nil
	}, func(out []sdktrace.ReadOnlySpan) bool { return len(out) >= n })
}

// A traced run: the start span under the caller's traceparent, a run
// segment under it, a span per step under the segment, and the routine
// sees the step's span and carries its traceparent; after a restart the
// next segment joins the same trace under the start span.
func TestTracingSpansOfARun(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]string{} // state: the traceparent its routine got
	record := fn(func(in any, c *flow.Context) (any, error) {
		if c.Span == nil {
			return nil, fmt.Errorf("state %s: the routine got no span", c.State)
		}
		mu.Lock()
		seen[c.State] = c.TraceParent
		mu.Unlock()
		return in, nil
	})
	b := bundle(workflow("traced", "First",
		&flow.State{Name: "First", Kind: flow.Task, Routine: record, RoutineName: "record", Next: "Hold"},
		&flow.State{Name: "Hold", Kind: flow.Await, Event: "go", Next: "Second"},
		&flow.State{Name: "Second", Kind: flow.Task, Routine: record, RoutineName: "record"}))
	rec, tracer := newSpans()
	h := newHarnessWith(t, b, func(c *engine.Config) { c.Tracer = tracer })
	const caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	in, _, err := h.engine.Start(context.Background(), "traced", engine.StartOptions{Input: json.RawMessage(`{}`), TraceParent: caller})
	if err != nil {
		t.Fatal(err)
	}
	h.waitingFor(in.ID, store.WaitEvent)
	h.restart()
	if err := h.engine.Send(context.Background(), in.ID, "go", json.RawMessage(`1`)); err != nil {
		t.Fatal(err)
	}
	output(t, h.end(in.ID))

	start := rec.named(t, "start traced", 1)[0]
	if got := start.Parent().SpanID().String(); got != "00f067aa0ba902b7" || start.SpanContext().TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Fatalf("start span's parent %s in trace %s, want the caller's", got, start.SpanContext().TraceID())
	}
	stored, err := h.engine.Get(in.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.TraceParent != tracing.FormatTraceParent(start.SpanContext()) {
		t.Errorf("the instance keeps traceparent %s, want its start span's", stored.TraceParent)
	}
	segments := rec.named(t, "run traced", 2)
	for _, seg := range segments {
		if seg.Parent().SpanID() != start.SpanContext().SpanID() || seg.SpanContext().TraceID() != start.SpanContext().TraceID() {
			t.Errorf("a run segment's parent is %s, want the start span", seg.Parent().SpanID())
		}
	}
	for _, state := range []string{"First", "Second"} {
		step := rec.named(t, "step "+state, 1)[0]
		if !childOfOne(step, segments) {
			t.Errorf("step %s is not under a run segment", state)
		}
		mu.Lock()
		tp := seen[state]
		mu.Unlock()
		if tp != tracing.FormatTraceParent(step.SpanContext()) {
			t.Errorf("the routine of %s carried %s, want its step's span", state, tp)
		}
		attrs := map[string]string{}
		for _, kv := range step.Attributes() {
			attrs[string(kv.Key)] = kv.Value.Emit()
		}
		if attrs[flow.AttrState] != state || attrs[flow.AttrRoutine] != "record" || attrs[flow.AttrAttempt] != "1" {
			t.Errorf("step %s attributes %v", state, attrs)
		}
	}
	if f, s := rec.named(t, "step First", 1)[0], rec.named(t, "step Second", 1)[0]; f.Parent().SpanID() == s.Parent().SpanID() {
		t.Error("the steps before and after the restart share a run segment")
	}
}

func childOfOne(sp sdktrace.ReadOnlySpan, parents []sdktrace.ReadOnlySpan) bool {
	for _, p := range parents {
		if sp.Parent().SpanID() == p.SpanContext().SpanID() {
			return true
		}
	}
	return false
}

// A failed attempt marks its step's span failed with the error's name.
func TestTracingFailedStep(t *testing.T) {
	boom := fn(func(any, *flow.Context) (any, error) { return nil, flow.Errorf("Payment.Declined", "card declined") })
	b := bundle(workflow("fails", "Pay", &flow.State{Name: "Pay", Kind: flow.Task, Routine: boom, RoutineName: "pay"}))
	rec, tracer := newSpans()
	h := newHarnessWith(t, b, func(c *engine.Config) { c.Tracer = tracer })
	h.end(h.start("fails", `{}`))
	step := rec.named(t, "step Pay", 1)[0]
	if step.Status().Code.String() != "Error" || !strings.Contains(step.Status().Description, "Payment.Declined: card declined") {
		t.Errorf("failed step's status %+v", step.Status())
	}
}

// The engine times every step for OnStep, by workflow, state and kind.
func TestOnStepTimesSteps(t *testing.T) {
	var mu sync.Mutex
	got := map[string]int{}
	b := bundle(workflow("two", "A",
		&flow.State{Name: "A", Kind: flow.Task, Routine: add(1), Next: "B"},
		&flow.State{Name: "B", Kind: flow.Pass}))
	h := newHarnessWith(t, b, func(c *engine.Config) {
		c.OnStep = func(workflow, state, kind string, took time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			got[workflow+" "+state+" "+kind]++
		}
	})
	output(t, h.end(h.start("two", `{"x": 0}`)))
	mu.Lock()
	defer mu.Unlock()
	if want := map[string]int{"two A go": 1, "two B pass": 1}; !maps.Equal(got, want) {
		t.Errorf("steps timed %v, want %v", got, want)
	}
}
