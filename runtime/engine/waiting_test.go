package engine

import (
	"testing"

	"github.com/orbit-sidecar/orbit/store"
)

// The waiting instances Open found are counted once each, at their first
// load, whatever order the store listed them in; a load of another
// instance, or a second load, counts nothing.
func TestWaitCountsCountEachFoundInstanceOnce(t *testing.T) {
	var w waitCounts
	w.uncounted([]string{"c", "a", "b"})
	w.loaded("a", store.WaitEvent)
	w.loaded("a", store.WaitEvent)
	w.loaded("x", store.WaitEvent) // started after the open: counted by its checkpoints
	w.loaded("c", store.WaitTimer)
	if got := w.n[kindIndex(store.WaitEvent)].Load(); got != 1 {
		t.Errorf("%d waiting for an event, want 1", got)
	}
	if got := w.n[kindIndex(store.WaitTimer)].Load(); got != 1 {
		t.Errorf("%d waiting for a timer, want 1", got)
	}
	if !w.any.Load() {
		t.Fatal("b is not loaded yet, but nothing is pending")
	}
	w.loaded("b", store.WaitEvent)
	w.loaded("b", store.WaitEvent)
	if got := w.n[kindIndex(store.WaitEvent)].Load(); got != 2 || w.any.Load() || w.pending != nil {
		t.Errorf("%d waiting for an event (want 2), pending %v", got, w.pending)
	}
}
