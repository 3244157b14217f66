package bolt

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/store"
)

// TimersAfter lists the timers after a key in Timers' order, reads no
// further than its callback wants, and agrees with store.CompareTimers
// (timers due at the same time come by instance, then kind).
func TestTimersAfter(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "orbit.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	all := []store.Timer{
		{At: at, Instance: "a", Kind: "deadline"},
		{At: at, Instance: "a", Kind: "wake"},
		{At: at, Instance: "ab", Kind: "wake"},
		{At: at, Instance: "b", Kind: "wake"},
		{At: at.Add(time.Nanosecond), Instance: "a", Kind: "wake"},
		{At: at.Add(time.Hour), Instance: "0", Kind: "wake"},
	}
	if !slices.IsSortedFunc(all, store.CompareTimers) {
		t.Fatal("the test's timers are not in CompareTimers' order")
	}
	shuffled := []store.Timer{all[3], all[5], all[0], all[4], all[2], all[1]}
	if err := db.Commit(context.Background(), &store.Batch{SetTimers: shuffled}); err != nil {
		t.Fatal(err)
	}
	after := func(from store.Timer, limit int) []store.Timer {
		var got []store.Timer
		if err := db.TimersAfter(from, func(t store.Timer) bool {
			got = append(got, t)
			return len(got) < limit
		}); err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := after(store.Timer{}, 100); !slices.Equal(got, all) {
		t.Errorf("from the start: %v, want %v", got, all)
	}
	if got := after(store.Timer{}, 2); !slices.Equal(got, all[:2]) {
		t.Errorf("the first two: %v, want %v", got, all[:2])
	}
	for i := range all {
		if got := after(all[i], 100); !slices.Equal(got, all[i+1:]) {
			t.Errorf("after %v: %v, want %v", all[i], got, all[i+1:])
		}
	}
}
