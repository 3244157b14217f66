package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/internal/orbittest"
	"github.com/orbit-sidecar/orbit/runtime/engine"
	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/store"
	"github.com/orbit-sidecar/orbit/store/bolt"
	natsstore "github.com/orbit-sidecar/orbit/store/nats"
)

// listed is a store whose Ended, once the listing is done, runs the
// test's then (once): what happens to an instance between the sweep's
// listing and its purge.
type listed struct {
	store.Store
	then atomic.Pointer[func()]
}

func (l *listed) Ended(before time.Time, fn func(id string) error) error {
	err := l.Store.Ended(before, fn)
	if then := l.then.Swap(nil); then != nil {
		(*then)()
	}
	return err
}

// TimersAfter passes the read on, so that the engine holds its timers a
// window at a time as it does on the store inside.
func (l *listed) TimersAfter(after store.Timer, fn func(store.Timer) bool) error {
	return store.TimersAfter(l.Store, after, fn)
}

// failedPastRetention starts b's workflow "w" on a harness whose store is
// listed, and returns once the instance has ended FAILED a minute ago.
func failedPastRetention(t *testing.T, b *flow.Bundle) (*harness, *listed, string) {
	var l *listed
	h := newHarnessWith(t, b, func(c *engine.Config) {
		l = &listed{Store: c.Store}
		c.Store = l
	})
	id := h.start("w", `{}`)
	if in := h.end(id); in.Status != store.Failed {
		t.Fatalf("instance %s, want FAILED", in.Status)
	}
	h.clock.Advance(time.Minute)
	return h, l, id
}

// redriven is a workflow whose step A fails on its first run (the
// instance ends FAILED) and, redriven, runs again through step, then
// awaits event "go".
func redriven(step func()) *flow.Workflow {
	var runs atomic.Int32
	return workflow("w", "A",
		&flow.State{Name: "A", Kind: flow.Task, Next: "Gate", Routine: fn(func(in any, _ *flow.Context) (any, error) {
			if runs.Add(1) == 1 {
				return nil, &flow.Error{Name: "Down", Cause: "not yet"}
			}
			step()
			return in, nil
		})},
		&flow.State{Name: "Gate", Kind: flow.Await, Event: "go", Result: path("$.ev")})
}

// idle waits until no driver runs the instance: the retention sweep
// leaves one that a driver is still at work on (writing the checkpoint
// that ended it) for its next round.
func idle(t *testing.T, e *engine.Engine, id string) {
	t.Helper()
	orbittest.For(t, orbittest.Timeout, func() error {
		if engine.Driven(e, id) {
			return fmt.Errorf("a driver still runs %s", id)
		}
		return nil
	})
}

// chained checks that the instance's history runs from event 1, hashed
// and chained, to the head its record keeps: what orbit verify checks.
func chained(t *testing.T, e *engine.Engine, id string) {
	t.Helper()
	in, err := e.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := e.History(id, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	c := store.NewChainChecker(id)
	for i := range evs {
		if err := c.Add(&evs[i]); err != nil {
			t.Fatalf("history %v: %v", types(evs), err)
		}
	}
	if err := c.Finish(in); err != nil {
		t.Fatalf("history %v: %v", types(evs), err)
	}
}

// An instance redriven between the sweep's listing of the ended instances
// and its purge is not purged: it runs again. The sweep purged it, while
// its redriven step ran, and the step's checkpoint then wrote the record
// back without the history before it, a broken chain that orbit verify
// refuses. Here the redriven step is running when the purge would commit.
func TestSweepKeepsAnInstanceRedrivenWhileItSweeps(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	b := bundle(redriven(func() {
		close(entered)
		<-release
	}))
	h, l, id := failedPastRetention(t, b)
	then := func() {
		if err := h.engine.Redrive(id); err != nil {
			t.Error(err)
		}
		<-entered
	}
	l.then.Store(&then)
	if purged, _, err := h.engine.Sweep(context.Background(), time.Second); err != nil || purged != 0 {
		t.Errorf("sweep purged %d (%v), want none: the instance runs again", purged, err)
	}
	close(release)
	h.waitingFor(id, store.WaitEvent)
	if err := h.engine.Send(context.Background(), id, "go", json.RawMessage(`1`)); err != nil {
		t.Fatal(err)
	}
	if in := h.end(id); in.Status != store.Succeeded {
		t.Fatalf("instance %s, want SUCCEEDED", in.Status)
	}
	chained(t, h.engine, id)
	h.close()
	if _, err := bolt.Verify(h.path); err != nil {
		t.Fatal(err)
	}
}

// An instance redriven between the sweep's listing and its purge, and
// parked since (no driver runs it), is not purged either: the sweep looks
// at the record as it purges, not at the listing.
func TestSweepKeepsAnInstanceRedrivenAndParkedWhileItSweeps(t *testing.T) {
	h, l, id := failedPastRetention(t, bundle(redriven(func() {})))
	then := func() {
		if err := h.engine.Redrive(id); err != nil {
			t.Error(err)
		}
		h.waitingFor(id, store.WaitEvent)
		orbittest.For(t, orbittest.Timeout, func() error {
			if engine.Driven(h.engine, id) {
				return errors.New("the parked instance's driver has not stopped")
			}
			return nil
		})
	}
	l.then.Store(&then)
	if purged, _, err := h.engine.Sweep(context.Background(), time.Second); err != nil || purged != 0 {
		t.Errorf("sweep purged %d (%v), want none: the instance waits", purged, err)
	}
	if err := h.engine.Send(context.Background(), id, "go", json.RawMessage(`1`)); err != nil {
		t.Fatal(err)
	}
	if in := h.end(id); in.Status != store.Succeeded {
		t.Fatalf("instance %s, want SUCCEEDED", in.Status)
	}
	chained(t, h.engine, id)
	// It ended again just now: a sweep purges it once that is past the
	// retention.
	h.clock.Advance(time.Minute)
	idle(t, h.engine, id)
	if purged, _, err := h.engine.Sweep(context.Background(), time.Second); err != nil || purged != 1 {
		t.Fatalf("sweep purged %d (%v), want the instance", purged, err)
	}
	if _, err := h.engine.Get(id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("purged instance: %v", err)
	}
}

// A Wait for an ended instance while the sweep purges it answers at once,
// from the store, rather than waiting for a driver to end it.
func TestWaitWhileTheSweepPurges(t *testing.T) {
	h := newHarness(t, bundle(workflow("w", "A", &flow.State{Name: "A", Kind: flow.Pass})))
	id := h.start("w", `{}`)
	h.end(id)
	idle(t, h.engine, id)
	h.clock.Advance(time.Minute)
	release := h.faults.Hold()
	defer release()
	type swept struct {
		purged int
		err    error
	}
	done := make(chan swept, 1)
	go func() {
		purged, _, err := h.engine.Sweep(context.Background(), time.Second)
		done <- swept{purged, err}
	}()
	orbittest.For(t, orbittest.Timeout, func() error {
		if h.faults.Waiting() != 1 {
			return errors.New("the sweep's purge is not held")
		}
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), orbittest.Timeout)
	defer cancel()
	in, err := h.engine.Wait(ctx, id)
	if err != nil || ctx.Err() != nil || !in.Status.Terminal() {
		t.Fatalf("wait for the ended instance the sweep purges: %v (gave up: %v)", err, ctx.Err())
	}
	release()
	if s := <-done; s.err != nil || s.purged != 1 {
		t.Fatalf("sweep purged %d (%v), want the instance", s.purged, s.err)
	}
}

// On a shared store too, an instance redriven (here by another sidecar)
// between the sweep's listing and its purge is not purged.
func TestSharedSweepKeepsAnInstanceRedrivenWhileItSweeps(t *testing.T) {
	var ls []*listed
	cs := sidecarsOn(t, 2, bundle(redriven(func() {})), func(st *natsstore.Store) store.Coordinator { return st },
		func(s store.Store) store.Store {
			l := &listed{Store: s}
			ls = append(ls, l)
			return l
		})
	a, b := cs[0].engine, cs[1].engine
	ctx := context.Background()
	in, _, err := a.Start(ctx, "w", engine.StartOptions{Input: json.RawMessage(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	id := in.ID
	if in := ended(t, a, id); in.Status != store.Failed {
		t.Fatalf("instance %s, want FAILED", in.Status)
	}
	then := func() {
		if err := b.Redrive(id); err != nil {
			t.Error(err)
		}
		orbittest.Until(t, 20*time.Second, id+" to await", func() (*store.Instance, error) { return b.Get(id) },
			func(in *store.Instance) bool { return in.Status == store.Waiting })
	}
	ls[0].then.Store(&then)
	if purged, _, err := a.Sweep(ctx, 0); err != nil || purged != 0 {
		t.Errorf("sweep purged %d (%v), want none: the instance waits", purged, err)
	}
	if err := b.Send(ctx, id, "go", json.RawMessage(`1`)); err != nil {
		t.Fatal(err)
	}
	if in := ended(t, b, id); in.Status != store.Succeeded {
		t.Fatalf("instance %s, want SUCCEEDED", in.Status)
	}
	contiguous(t, a, id)
	chained(t, a, id)
	// Once sidecar b let it go (its lease too), a sweep purges it.
	orbittest.For(t, 20*time.Second, func() error {
		if purged, _, err := a.Sweep(ctx, 0); err != nil || purged != 1 {
			return fmt.Errorf("sweep purged %d (%v), want the instance", purged, err)
		}
		return nil
	})
	if _, err := b.Get(id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("purged instance: %v", err)
	}
}
