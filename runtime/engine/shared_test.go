package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/internal/devnats/devnatstest"
	"github.com/orbit-sidecar/orbit/internal/orbittest"
	"github.com/orbit-sidecar/orbit/runtime/engine"
	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/store"
	natsstore "github.com/orbit-sidecar/orbit/store/nats"
)

// Engines that share a store run on the real clock: the store's servers
// fire durable timers by theirs.

// sidecar is one engine of a shared store.
type sidecar struct {
	store  *natsstore.Store
	engine *engine.Engine
}

// sidecars opens n engines on one stream of a one-node NATS server, with
// leases of a second so that takeovers come quickly.
func sidecars(t *testing.T, n int, b *flow.Bundle) []*sidecar {
	t.Helper()
	return sidecarsWith(t, n, b, func(st *natsstore.Store) store.Coordinator { return st })
}

// sidecarsWith is sidecars whose engines coordinate through what coord
// makes of their store.
func sidecarsWith(t *testing.T, n int, b *flow.Bundle, coord func(*natsstore.Store) store.Coordinator) []*sidecar {
	t.Helper()
	return sidecarsOn(t, n, b, coord, nil)
}

// sidecarsOn is sidecarsWith whose engines use what wrap (when set)
// makes of their store.
func sidecarsOn(t *testing.T, n int, b *flow.Bundle, coord func(*natsstore.Store) store.Coordinator,
	wrap func(store.Store) store.Store) []*sidecar {
	t.Helper()
	nats := devnatstest.Start(t, 1)
	registry[b.Hash] = b
	var out []*sidecar
	for i := range n {
		st, err := natsstore.Open(context.Background(), natsstore.Options{URL: nats.URL(), Stream: "ORBIT",
			Node: fmt.Sprintf("sidecar-%d", i), LeaseTTL: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		var es store.Store = st
		if wrap != nil {
			es = wrap(st)
		}
		e := engine.New(engine.Config{Store: es, Coordinator: coord(st),
			Compile: func([]flow.Source) (*flow.Bundle, error) { return b, nil }})
		if err := e.Load(context.Background(), b); err != nil {
			t.Fatal(err)
		}
		if err := e.Open(context.Background()); err != nil {
			t.Fatal(err)
		}
		s := &sidecar{store: st, engine: e}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			e.Close(ctx)
			st.Close()
		})
		out = append(out, s)
	}
	return out
}

// ended waits for the instance to end, as seen through e.
func ended(t *testing.T, e *engine.Engine, id string) *store.Instance {
	t.Helper()
	return orbittest.Until(t, 20*time.Second, id+" to end", func() (*store.Instance, error) { return e.Get(id) },
		func(in *store.Instance) bool { return in.Status.Terminal() })
}

// contiguous checks that an instance's history runs 1, 2, 3, ... once each.
func contiguous(t *testing.T, e *engine.Engine, id string) []store.Event {
	t.Helper()
	h, err := e.History(id, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, ev := range h {
		if ev.Seq != uint64(i+1) {
			t.Fatalf("history of %s: event %d has seq %d: %v", id, i, ev.Seq, types(h))
		}
	}
	return h
}

func TestSharedEventPostedToAnotherSidecar(t *testing.T) {
	wf := workflow("w", "Prepare",
		&flow.State{Name: "Prepare", Kind: flow.Task, Routine: fn(func(in any, c *flow.Context) (any, error) { return in, nil }), Next: "Gate"},
		&flow.State{Name: "Gate", Kind: flow.Await, Event: "go", Result: path("$.ev"), Next: "Done"},
		&flow.State{Name: "Done", Kind: flow.Succeed})
	cs := sidecars(t, 2, bundle(wf))
	a, b := cs[0].engine, cs[1].engine
	in, _, err := a.Start(context.Background(), "w", engine.StartOptions{Input: json.RawMessage(`{"n":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	orbittest.Until(t, 20*time.Second, "the instance to await", func() (*store.Instance, error) { return b.Get(in.ID) },
		func(in *store.Instance) bool { return in.Status == store.Waiting })
	if err := b.Send(context.Background(), in.ID, "go", json.RawMessage(`"went"`)); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got, err := b.Wait(wctx, in.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != store.Succeeded || string(got.Output) != `{"ev":"went","n":1}` {
		t.Errorf("ended %s with %s (%s)", got.Status, got.Output, got.Error)
	}
	contiguous(t, a, in.ID)
}

func TestSharedTimersFireOnceForTheCluster(t *testing.T) {
	var n atomic.Int64
	wf := workflow("w", "Sleep",
		&flow.State{Name: "Sleep", Kind: flow.Wait, WaitFor: time.Second, Next: "Count"},
		&flow.State{Name: "Count", Kind: flow.Task, Routine: fn(func(in any, c *flow.Context) (any, error) { n.Add(1); return in, nil })})
	cs := sidecars(t, 3, bundle(wf))
	var ids []string
	for i := range 10 {
		in, _, err := cs[i%3].engine.Start(context.Background(), "w", engine.StartOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, in.ID)
	}
	for _, id := range ids {
		if got := ended(t, cs[0].engine, id); got.Status != store.Succeeded {
			t.Errorf("%s ended %s: %s", id, got.Status, got.Cause)
		}
		h := contiguous(t, cs[1].engine, id)
		if fired := count(types(h), string(store.EventTimerFired)); fired != 1 {
			t.Errorf("%s: timer fired %d times: %v", id, count(types(h), string(store.EventTimerFired)), types(h))
		}
	}
	if n.Load() != 10 {
		t.Errorf("the task after the timer ran %d times for 10 instances", n.Load())
	}
}

// fenceTimerOnce refuses the first checkpoint that fires a timer as
// fenced, writing nothing, as the store answers a checkpoint whose lease
// lapsed while its sidecar was cut off: no other sidecar runs the
// instance.
type fenceTimerOnce struct {
	*natsstore.Store
	fenced atomic.Bool
}

func (f *fenceTimerOnce) CommitLeased(ctx context.Context, b *store.Batch, l *store.Lease) error {
	for _, ev := range b.Events {
		if ev.Type == store.EventTimerFired && f.fenced.CompareAndSwap(false, true) {
			return fmt.Errorf("%w (instance %s, now held by %q)", store.ErrFenced, l.Instance, l.Node)
		}
	}
	return f.Store.CommitLeased(ctx, b, l)
}

// TestSharedTimerSurvivesAFencedCheckpoint fences the checkpoint of a
// fired timer: the driver drops the instance, and the timer's work comes
// again rather than being settled, so the instance does not wait forever.
func TestSharedTimerSurvivesAFencedCheckpoint(t *testing.T) {
	wf := workflow("w", "Sleep",
		&flow.State{Name: "Sleep", Kind: flow.Wait, WaitFor: time.Second, Next: "Done"},
		&flow.State{Name: "Done", Kind: flow.Succeed})
	var coord *fenceTimerOnce
	cs := sidecarsWith(t, 1, bundle(wf), func(st *natsstore.Store) store.Coordinator {
		coord = &fenceTimerOnce{Store: st}
		return coord
	})
	in, _, err := cs[0].engine.Start(context.Background(), "w", engine.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := ended(t, cs[0].engine, in.ID); got.Status != store.Succeeded {
		t.Errorf("ended %s: %s", got.Status, got.Cause)
	}
	if !coord.fenced.Load() {
		t.Error("no checkpoint firing the timer was fenced")
	}
	h := contiguous(t, cs[0].engine, in.ID)
	if fired := count(types(h), string(store.EventTimerFired)); fired != 1 {
		t.Errorf("timer fired %d times: %v", fired, types(h))
	}
}

func TestSharedCancelReachesTheRunningSidecar(t *testing.T) {
	started := make(chan string, 1)
	wf := workflow("w", "Block",
		&flow.State{Name: "Block", Kind: flow.Task, Routine: flow.RoutineFunc(func(ctx context.Context, in any, c *flow.Context) (any, error) {
			started <- c.Instance
			<-ctx.Done()
			return nil, ctx.Err()
		})})
	cs := sidecars(t, 2, bundle(wf))
	in, _, err := cs[0].engine.Start(context.Background(), "w", engine.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	<-started
	if err := cs[1].engine.Cancel(in.ID); err != nil {
		t.Fatalf("cancel on the other sidecar: %v", err)
	}
	if got := ended(t, cs[1].engine, in.ID); got.Status != store.Cancelled {
		t.Errorf("ended %s, want CANCELLED", got.Status)
	}
	if err := cs[1].engine.Cancel(in.ID); err == nil {
		t.Error("cancelling an ended instance was accepted")
	}
}

// TestSharedTakeoverAfterASidecarDies cuts one sidecar off mid-step: its
// lease lapses and another sidecar runs the step again with the same
// idempotency key, and the instance ends once.
func TestSharedTakeoverAfterASidecarDies(t *testing.T) {
	var mu sync.Mutex
	var keys []string
	first := make(chan struct{})
	var once sync.Once
	wf := workflow("w", "Charge",
		&flow.State{Name: "Charge", Kind: flow.Task, Routine: flow.RoutineFunc(func(ctx context.Context, in any, c *flow.Context) (any, error) {
			mu.Lock()
			keys = append(keys, c.IdempotencyKey)
			n := len(keys)
			mu.Unlock()
			if n == 1 {
				once.Do(func() { close(first) })
				<-ctx.Done() // the first sidecar dies during its call
				return nil, ctx.Err()
			}
			return "charged", nil
		})})
	cs := sidecars(t, 2, bundle(wf))
	in, _, err := cs[0].engine.Start(context.Background(), "w", engine.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	<-first
	cs[0].store.Conn().Close() // as a SIGKILL: no release, no more renewals
	got := ended(t, cs[1].engine, in.ID)
	if got.Status != store.Succeeded || string(got.Output) != `"charged"` {
		t.Errorf("ended %s with %s (%s)", got.Status, got.Output, got.Cause)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(keys) != 2 || keys[0] != keys[1] {
		t.Errorf("idempotency keys of the runs: %v, want the same key twice", keys)
	}
	contiguous(t, cs[1].engine, in.ID)
}

// TestSharedConcurrencyKeyCountsAcrossSidecars starts instances of one key
// on two sidecars: they share the key's slot, and those queued start in
// arrival order, wherever they were started, as the holder ends.
func TestSharedConcurrencyKeyCountsAcrossSidecars(t *testing.T) {
	cs := sidecars(t, 2, bundle(serial()))
	a, b := cs[0].engine, cs[1].engine
	start := func(e *engine.Engine, input string) string {
		t.Helper()
		in, _, err := e.Start(context.Background(), "serial", engine.StartOptions{Input: json.RawMessage(input)})
		if err != nil {
			t.Fatal(err)
		}
		return in.ID
	}
	status := func(e *engine.Engine, id string, want store.Status) {
		t.Helper()
		orbittest.Until(t, 20*time.Second, fmt.Sprintf("%s to be %s", id, want), func() (*store.Instance, error) { return e.Get(id) },
			func(in *store.Instance) bool { return in.Status == want })
	}
	send := func(e *engine.Engine, id string) {
		t.Helper()
		if err := e.Send(context.Background(), id, "done", nil); err != nil {
			t.Fatal(err)
		}
	}
	first := start(a, `{"order":"o1"}`)
	status(b, first, store.Waiting)
	second := start(b, `{"order":"o1"}`)
	status(a, second, store.Queued)
	third := start(a, `{"order":"o1"}`)
	status(b, third, store.Queued)
	other := start(b, `{"order":"o2"}`)
	status(a, other, store.Waiting)

	send(b, first)
	status(a, first, store.Succeeded)
	status(a, second, store.Waiting)
	if in, _ := b.Get(third); in.Status != store.Queued {
		t.Fatalf("third is %s while second holds the slot", in.Status)
	}
	send(a, second)
	status(b, third, store.Waiting)
	send(b, third)
	send(a, other)
	for _, id := range []string{second, third, other} {
		status(a, id, store.Succeeded)
		contiguous(t, a, id)
	}
}

// On a shared store too, the sweep's purge of an ended instance takes the
// timers it still has: an observer job's retry, owed in an hour.
func TestSharedSweepRemovesThePurgedInstancesTimers(t *testing.T) {
	var observed atomic.Int64
	b := bundle(workflow("w", "A", &flow.State{Name: "A", Kind: flow.Pass}))
	b.Observers = []*flow.Observer{{Workflow: "w", On: "ExecutionSucceeded", RoutineName: "down",
		Routine: fn(func(any, *flow.Context) (any, error) {
			observed.Add(1)
			return nil, &flow.Error{Name: "Down", Cause: "try later"}
		}),
		Retry: []flow.Retrier{{Errors: []string{flow.ErrAll}, MaxAttempts: 3, Interval: time.Hour}}}}
	s := sidecars(t, 1, b)[0]
	ctx := context.Background()
	in, _, err := s.engine.Start(ctx, "w", engine.StartOptions{Input: json.RawMessage(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	ended(t, s.engine, in.ID)
	stored := func() (out []store.Timer) {
		if err := s.store.Timers(func(tm store.Timer) error { out = append(out, tm); return nil }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	orbittest.For(t, 20*time.Second, func() error {
		if tms := stored(); observed.Load() != 1 || len(tms) != 1 || !strings.HasSuffix(tms[0].Kind, ":2") {
			return fmt.Errorf("observer called %d times, timers stored %v; want once, and its retry", observed.Load(), tms)
		}
		return nil
	})
	idle(t, s.engine, in.ID)
	if purged, _, err := s.engine.Sweep(ctx, 0); err != nil || purged != 1 {
		t.Fatalf("purged %d, %v", purged, err)
	}
	if tms := stored(); len(tms) != 0 {
		t.Fatalf("timers of the purged instance left: %v", tms)
	}
}

// A timer whose instance is gone, on a shared store, is deleted when it
// falls due and its work finds no instance: it stayed in the store.
func TestSharedOrphanTimerIsDeletedWhenItFires(t *testing.T) {
	b := bundle(workflow("w", "A", &flow.State{Name: "A", Kind: flow.Pass}))
	s := sidecars(t, 1, b)[0]
	ghost := store.Timer{At: time.Now().Add(100 * time.Millisecond), Instance: "gone", Kind: "wake"}
	if err := s.store.Commit(context.Background(), &store.Batch{SetTimers: []store.Timer{ghost}}); err != nil {
		t.Fatal(err)
	}
	orbittest.For(t, 20*time.Second, func() error {
		var left []store.Timer
		if err := s.store.Timers(func(tm store.Timer) error { left = append(left, tm); return nil }); err != nil {
			return err
		}
		if len(left) > 0 {
			return fmt.Errorf("timers stored: %v", left)
		}
		return nil
	})
}
