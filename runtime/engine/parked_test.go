package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/runtime/engine"
	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/store"
)

// Parked instances' timers are held a window at a time: more than two
// windows of them, and one far later, all fire after a restart, which
// read only the first window, and the engine never holds them all.
func TestTimersBeyondTheWindowFireAfterARestart(t *testing.T) {
	wf := workflow("w", "Sleep", &flow.State{Name: "Sleep", Kind: flow.Wait, WaitFor: time.Hour})
	h := newHarness(t, bundle(wf))
	n := 2*engine.TimerWindow + 100
	ids := make([]string, n)
	for i := range ids {
		ids[i] = h.start("w", `{}`)
	}
	for _, id := range ids { // parked before the clock moves, all due at once
		h.waitingFor(id, store.WaitTimer)
	}
	if held := engine.HeldTimers(h.engine); held > 2*engine.TimerWindow {
		t.Errorf("the engine holds %d timers of %d parked instances, want at most %d", held, n, 2*engine.TimerWindow)
	}
	h.clock.Advance(30 * time.Minute)
	late := h.start("w", `{}`) // due half an hour after all the others
	h.waitingFor(late, store.WaitTimer)

	h.restart()
	if held := engine.HeldTimers(h.engine); held != engine.TimerWindow {
		t.Errorf("after the restart the engine holds %d timers, want the first window of %d", held, engine.TimerWindow)
	}
	h.advance(30 * time.Minute) // an hour after the first starts
	for _, id := range ids {
		if in := h.end(id); in.Status != store.Succeeded {
			t.Fatalf("instance %s: %s, want SUCCEEDED", id, in.Status)
		}
	}
	if in, err := h.engine.Get(late); err != nil || in.Status != store.Waiting {
		t.Fatalf("the late instance is %v (%v) before its time, want WAITING", in.Status, err)
	}
	h.advance(30 * time.Minute)
	if in := h.end(late); in.Status != store.Succeeded {
		t.Fatalf("late instance: %s, want SUCCEEDED", in.Status)
	}
}

// An event reaches an instance parked before a restart whether it comes
// before the restart's re-check has loaded the instance or after: the
// engine loads what an instance awaits from the store when the event
// comes, not from anything it read at open.
func TestEventResumesAnInstanceParkedBeforeARestart(t *testing.T) {
	wf := workflow("w", "Ask", &flow.State{Name: "Ask", Kind: flow.Await, Event: "answer", Timeout: 24 * time.Hour})
	h := newHarness(t, bundle(wf))
	ids := make([]string, 3*engine.TimerWindow)
	for i := range ids {
		ids[i] = h.start("w", `{}`)
	}
	for _, id := range ids {
		h.waitingFor(id, store.WaitEvent)
	}
	h.restart()
	// The last one parked, sent at once: the re-check goes in id order.
	first, last := ids[0], ids[len(ids)-1]
	h.deliver(last, "answer", `1`, engine.Consumed)
	if err := h.engine.Rechecked(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.deliver(first, "answer", `2`, engine.Consumed)
	for _, id := range []string{first, last} {
		if in := h.end(id); in.Status != store.Succeeded {
			t.Fatalf("instance %s: %s, want SUCCEEDED", id, in.Status)
		}
	}
	if got := h.engine.Waiting()[store.WaitEvent]; got != int64(len(ids)-2) {
		t.Errorf("%d instances counted as awaiting an event, want %d", got, len(ids)-2)
	}
}
