package engine

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/runtime/clock"
	"github.com/orbit-sidecar/orbit/store"
	"github.com/orbit-sidecar/orbit/store/bolt"
)

// failingRanger is a store's timer listing whose reads fail while failing
// is set.
type failingRanger struct {
	store.TimerRanger
	failing atomic.Bool
}

func (f *failingRanger) TimersAfter(after store.Timer, fn func(store.Timer) bool) error {
	if f.failing.Load() {
		return errors.New("read failed")
	}
	return f.TimerRanger.TimersAfter(after, fn)
}

// A window of timers that cannot be read when its turn comes is read
// again later: the timers beyond the first window still fire, in order,
// once the store answers again, with no add or restart to prompt it.
func TestTimersBeyondAWindowThatFailedToReadStillFire(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "orbit.db"), bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	start := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	n := timerWindow + 5
	batch := &store.Batch{}
	for i := range n {
		batch.SetTimers = append(batch.SetTimers, store.Timer{At: start.Add(time.Duration(i+1) * time.Second),
			Instance: "i", Kind: fmt.Sprintf("k%05d", i)})
	}
	if err := db.Commit(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	src := &failingRanger{TimerRanger: db}
	c := clock.NewFake(start)
	var (
		mu    sync.Mutex
		fired []store.Timer
	)
	q := newTimerQueue(c, func(tm store.Timer) {
		mu.Lock()
		defer mu.Unlock()
		fired = append(fired, tm)
	})
	var errs atomic.Int64
	if err := q.load(src, func(error) { errs.Add(1) }); err != nil {
		t.Fatal(err)
	}
	q.start()
	defer q.stop()
	src.failing.Store(true) // the second window's read fails
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(fired)
	}
	deadline := time.Now().Add(10 * time.Second)
	for count() < timerWindow || errs.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d timers fired and %d read errors, want the first window and an error", count(), errs.Load())
		}
		c.Advance(time.Second)
		time.Sleep(time.Millisecond)
	}
	src.failing.Store(false)
	for count() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d timers fired after the store answered again", count(), n)
		}
		c.Advance(time.Second)
		time.Sleep(time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	for i, tm := range fired {
		if want := fmt.Sprintf("k%05d", i); tm.Kind != want || i > 0 && tm.At.Before(fired[i-1].At) {
			t.Fatalf("timer %d fired was %v, want kind %s in time order", i, tm, want)
		}
	}
}
