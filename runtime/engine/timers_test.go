package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/internal/orbittest"
	"github.com/orbit-sidecar/orbit/runtime/clock"
	"github.com/orbit-sidecar/orbit/store"
	"github.com/orbit-sidecar/orbit/store/bolt/bolttest"
)

// startFailingQueue starts a timer queue at start on db's timers, read
// through a ranger whose reads a test can make fail; it stops with the test.
func startFailingQueue(t *testing.T, db store.TimerRanger, start time.Time) (*timerQueue, *failingRanger, *clock.Fake, *timerLog, *atomic.Int64) {
	t.Helper()
	src := &failingRanger{TimerRanger: db}
	c := clock.NewFake(start)
	log := &timerLog{}
	q := newTimerQueue(c, log.fire)
	errs := &atomic.Int64{}
	if err := q.load(src, func(error) { errs.Add(1) }); err != nil {
		t.Fatal(err)
	}
	q.start()
	t.Cleanup(q.stop)
	return q, src, c, log, errs
}

// timerLog records the timers a queue fires, in order.
type timerLog struct {
	mu    sync.Mutex
	fired []store.Timer
}

func (l *timerLog) fire(tm store.Timer) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fired = append(l.fired, tm)
}

// list is what fired so far.
func (l *timerLog) list() []store.Timer {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.fired)
}

// times counts how often each timer fired.
func (l *timerLog) times() map[store.Timer]int {
	n := map[store.Timer]int{}
	for _, tm := range l.list() {
		n[key(tm)]++
	}
	return n
}

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
	db := bolttest.Open(t)
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
	_, src, c, log, errs := startFailingQueue(t, db, start)
	src.failing.Store(true) // the second window's read fails
	count := func() int { return len(log.list()) }
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
	fired := log.list()
	for i, tm := range fired {
		if want := fmt.Sprintf("k%05d", i); tm.Kind != want || i > 0 && tm.At.Before(fired[i-1].At) {
			t.Fatalf("timer %d fired was %v, want kind %s in time order", i, tm, want)
		}
	}
}

// A timer that fired is not fired again while its removal is not yet
// committed (an observer job still running), even when a window of timers
// read from the store after it still finds it there. Here the clock is
// stepped back after the timer fired, and more than two windows of timers
// due before it are added: the queue keeps the first window and leaves the
// rest to the store, whose next read, from the last timer kept on, lists
// the fired timer again. Once directly, and once with that read failing
// first and tried again.
func TestFiredTimerDoesNotFireAgainFromAWindowRead(t *testing.T) {
	for _, failFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("read fails first %v", failFirst), func(t *testing.T) {
			db := bolttest.Open(t)
			start := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
			inFlight := store.Timer{At: start.Add(-20 * time.Second), Instance: "observed", Kind: "observe:7:0:1"}
			if err := db.Commit(context.Background(), &store.Batch{SetTimers: []store.Timer{inFlight}}); err != nil {
				t.Fatal(err)
			}
			q, src, c, log, errs := startFailingQueue(t, db, start)
			orbittest.For(t, orbittest.Timeout, func() error {
				if len(log.list()) == 0 {
					return errors.New("the due timer has not fired")
				}
				return nil
			})

			// A window of timers due before the one in flight, and one
			// more than a window due after it, all later than now.
			c.Set(start.Add(-time.Minute))
			var added []store.Timer
			for i := range timerWindow {
				added = append(added, store.Timer{At: start.Add(-30 * time.Second), Instance: fmt.Sprintf("a%05d", i), Kind: timerWake})
			}
			for i := range timerWindow + 1 {
				added = append(added, store.Timer{At: start.Add(-10 * time.Second), Instance: fmt.Sprintf("b%05d", i), Kind: timerWake})
			}
			if err := db.Commit(context.Background(), &store.Batch{SetTimers: added}); err != nil {
				t.Fatal(err)
			}
			for _, tm := range added {
				q.add(tm)
			}
			if n := q.held(); n != timerWindow {
				t.Fatalf("the queue holds %d timers, want a window of %d", n, timerWindow)
			}
			src.failing.Store(failFirst)
			c.Set(start)
			if failFirst {
				orbittest.For(t, orbittest.Timeout, func() error {
					if errs.Load() == 0 {
						return errors.New("the second window's read has not failed")
					}
					return nil
				})
				src.failing.Store(false)
				c.Advance(timerReadRetry)
			}
			// Every timer fires; the one in flight, listed with the "b"
			// timers after it, would have fired again before the last of
			// them (in the same tick, or an earlier one).
			orbittest.For(t, orbittest.Timeout, func() error {
				if got := len(log.times()); got != len(added)+1 {
					return fmt.Errorf("%d of %d timers fired", got, len(added)+1)
				}
				return nil
			})
			for tm, n := range log.times() {
				if n != 1 {
					t.Errorf("timer %v fired %d times, want once", tm, n)
				}
			}
		})
	}
}

// A timer the engine sets and the same timer read back from the store are
// one key, also at times the store keeps at a bound (before 1970, after
// 2262): else the queue could hold both, firing the timer twice, and a
// removal by the time it was set at would miss the one read back.
func TestTimerKeyIsTheStoredTimer(t *testing.T) {
	db := bolttest.Open(t)
	set := []store.Timer{
		{At: time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), Instance: "a", Kind: timerWake},
		{At: time.Date(2026, 12, 2, 1, 2, 3, 4, time.FixedZone("east", 3600)), Instance: "b", Kind: timerWake},
		{At: time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), Instance: "c", Kind: timerWake},
	}
	if err := db.Commit(context.Background(), &store.Batch{SetTimers: set}); err != nil {
		t.Fatal(err)
	}
	var read []store.Timer
	if err := db.TimersAfter(store.Timer{}, func(tm store.Timer) bool { read = append(read, tm); return true }); err != nil {
		t.Fatal(err)
	}
	if len(read) != len(set) {
		t.Fatalf("read %v, want %d timers", read, len(set))
	}
	for i := range set {
		if key(set[i]) != key(read[i]) {
			t.Errorf("timer set as %v is keyed %v, read back as %v keyed %v", set[i], key(set[i]), read[i], key(read[i]))
		}
	}
}

// A timer whose instance is gone from the store is dropped as it is read,
// at load as in a later window: it is not held, never fires, and is
// deleted from the store; the timers of an instance that is there fire.
func TestOrphanTimersAreDroppedAsTheyAreRead(t *testing.T) {
	db := bolttest.Open(t)
	ctx := context.Background()
	start := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	batch := keptInstance(start)
	var live []store.Timer
	for i := range timerWindow + 30 { // orphans in the first window and in the next
		tm := store.Timer{At: start.Add(time.Duration(i+1) * time.Second), Instance: "kept", Kind: fmt.Sprintf("k%05d", i)}
		if i%3 == 0 {
			tm.Instance = "gone"
		} else {
			live = append(live, tm)
		}
		batch.SetTimers = append(batch.SetTimers, tm)
	}
	if err := db.Commit(ctx, batch); err != nil {
		t.Fatal(err)
	}
	orphans := func() (n int) {
		if err := db.Timers(func(tm store.Timer) error {
			if tm.Instance == "gone" {
				n++
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	c, log := clock.NewFake(start), &timerLog{}
	q := newTimerQueue(c, log.fire)
	q.gone = func(id string) bool {
		_, err := db.Instance(id)
		return errors.Is(err, store.ErrNotFound)
	}
	q.drop = func(ts []store.Timer) {
		if err := db.Commit(ctx, &store.Batch{DelTimers: ts}); err != nil {
			t.Error(err)
		}
	}
	if err := q.load(db, func(err error) { t.Error(err) }); err != nil {
		t.Fatal(err)
	}
	if n, want := orphans(), 10; n != want { // those of the second window are still to be read
		t.Fatalf("%d orphans left in the store after the load, want %d", n, want)
	}
	q.start()
	t.Cleanup(q.stop)
	c.Advance(time.Duration(timerWindow+31) * time.Second)
	orbittest.For(t, orbittest.Timeout, func() error {
		if n := len(log.list()); n < len(live) {
			return fmt.Errorf("%d of %d timers fired", n, len(live))
		}
		return nil
	})
	if fired := log.list(); !slices.Equal(fired, live) {
		t.Errorf("%d timers fired, want the %d of the instance kept, in order", len(fired), len(live))
	}
	if n := orphans(); n != 0 {
		t.Errorf("%d orphans left in the store", n)
	}
}

// handClock is a fake clock whose callbacks run when the test calls them,
// on the test's goroutine, so that a test can make one come at a chosen
// point of the queue's work.
type handClock struct {
	*clock.Fake
	mu        sync.Mutex
	scheduled []*handTimer
}

type handTimer struct {
	f       func()
	stopped atomic.Bool
}

func (t *handTimer) Stop() bool { return !t.stopped.Swap(true) }

func (c *handClock) AfterFunc(d time.Duration, f func()) clock.Timer {
	t := &handTimer{f: f}
	c.mu.Lock()
	c.scheduled = append(c.scheduled, t)
	c.mu.Unlock()
	return t
}

// call runs the callbacks scheduled and not stopped, whatever their time.
func (c *handClock) call() {
	c.mu.Lock()
	ts := c.scheduled
	c.scheduled = nil
	c.mu.Unlock()
	for _, t := range ts {
		if !t.stopped.Swap(true) {
			t.f()
		}
	}
}

// A timer set while the queue deletes the orphans of a window it read,
// whose tick comes before the deletion ends, still fires: the tick that
// read the window looks at the heap again once it has let the queue go.
// It returned with what it saw before, and the tick that came meanwhile
// had left the timer to it, so the queue fired nothing more, that timer
// nor any later one.
func TestTimerSetWhileOrphansAreDeletedFires(t *testing.T) {
	db := bolttest.Open(t)
	ctx := context.Background()
	start := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	batch := keptInstance(start)
	var first []store.Timer
	for i := range timerWindow { // a full first window, then a window of one orphan
		first = append(first, store.Timer{At: start.Add(time.Second), Instance: "kept", Kind: fmt.Sprintf("k%05d", i)})
	}
	batch.SetTimers = append(slices.Clone(first), store.Timer{At: start.Add(2 * time.Second), Instance: "gone", Kind: "orphan"})
	if err := db.Commit(ctx, batch); err != nil {
		t.Fatal(err)
	}
	late := store.Timer{At: start.Add(3 * time.Second), Instance: "kept", Kind: "late"}
	c, log := &handClock{Fake: clock.NewFake(start)}, &timerLog{}
	q := newTimerQueue(c, log.fire)
	q.gone = func(id string) bool {
		held, err := db.Has(id)
		return err == nil && !held
	}
	dropped := 0
	q.drop = func(ts []store.Timer) {
		dropped++
		if err := db.Commit(ctx, &store.Batch{DelTimers: ts}); err != nil {
			t.Error(err)
		}
		// Meanwhile a driver sets a timer, and its time comes.
		if err := db.Commit(ctx, &store.Batch{SetTimers: []store.Timer{late}}); err != nil {
			t.Error(err)
		}
		q.add(late)
		c.Advance(2 * time.Second)
		c.call()
	}
	if err := q.load(db, func(err error) { t.Error(err) }); err != nil {
		t.Fatal(err)
	}
	q.start()
	t.Cleanup(q.stop)
	// The first window's timers are removed before they fall due (their
	// instances went on without them), and the queue's tick for them
	// comes to an empty heap: it reads the window of the orphan.
	if err := db.Commit(ctx, &store.Batch{DelTimers: first}); err != nil {
		t.Fatal(err)
	}
	for _, tm := range first {
		q.remove(tm)
	}
	c.Advance(time.Second)
	c.call()
	if dropped != 1 {
		t.Fatalf("orphans deleted %d times, want once", dropped)
	}
	c.call() // any callback still scheduled
	if fired := log.list(); len(fired) != 1 || key(fired[0]) != key(late) {
		t.Errorf("fired %v, want the timer set while the orphans were deleted", fired)
	}
}

// halfRanger is a store's timer listing whose reads, while failing is
// set, fail after the first timer of the window; it counts those reads,
// and stops failing after maxFails of them.
type halfRanger struct {
	store.TimerRanger
	failing atomic.Bool
	fails   atomic.Int64
}

const maxFails = 50

func (h *halfRanger) TimersAfter(after store.Timer, fn func(store.Timer) bool) error {
	if !h.failing.Load() || h.fails.Add(1) > maxFails {
		return h.TimerRanger.TimersAfter(after, fn)
	}
	err := h.TimerRanger.TimersAfter(after, func(t store.Timer) bool {
		fn(t)
		return false
	})
	if err != nil {
		return err
	}
	return errors.New("read failed after the first timer")
}

// A window whose read yields an orphan and then fails is read again at
// the retry's time, as any window that failed: the orphan read before the
// failure is not deleted, and so does not make the tick look again at
// once (and read again, and fail again, for as long as the store fails,
// its delete failing too).
func TestOrphanReadBeforeAFailedReadIsLeftForTheRetry(t *testing.T) {
	db := bolttest.Open(t)
	ctx := context.Background()
	start := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	batch := keptInstance(start)
	for i := range timerWindow {
		batch.SetTimers = append(batch.SetTimers, store.Timer{At: start.Add(time.Second), Instance: "kept", Kind: fmt.Sprintf("k%05d", i)})
	}
	orphan := store.Timer{At: start.Add(2 * time.Second), Instance: "gone", Kind: "orphan"}
	last := store.Timer{At: start.Add(3 * time.Second), Instance: "kept", Kind: "last"}
	batch.SetTimers = append(batch.SetTimers, orphan, last)
	if err := db.Commit(ctx, batch); err != nil {
		t.Fatal(err)
	}
	src := &halfRanger{TimerRanger: db}
	c, log := &handClock{Fake: clock.NewFake(start)}, &timerLog{}
	q := newTimerQueue(c, log.fire)
	q.gone = func(id string) bool {
		held, err := db.Has(id)
		return err == nil && !held
	}
	var dropped []store.Timer
	q.drop = func(ts []store.Timer) {
		dropped = append(dropped, ts...)
		if src.failing.Load() {
			return // a store that fails reads fails the delete too
		}
		if err := db.Commit(ctx, &store.Batch{DelTimers: ts}); err != nil {
			t.Error(err)
		}
	}
	if err := q.load(src, func(error) {}); err != nil {
		t.Fatal(err)
	}
	q.start()
	t.Cleanup(q.stop)
	src.failing.Store(true)
	c.Advance(3 * time.Second)
	c.call() // fires the first window; the read of the next fails
	// Read as the tick fires the first window, and once more as it looks
	// again after firing; then only at the retry.
	if n := src.fails.Load(); n > 2 {
		t.Fatalf("the failing window was read %d times at once, want at most twice", n)
	}
	if len(dropped) != 0 {
		t.Fatalf("deleted %v from a window whose read failed", dropped)
	}
	src.failing.Store(false)
	c.call() // the retry
	if !slices.Equal(dropped, []store.Timer{orphan}) {
		t.Errorf("deleted %v, want the orphan", dropped)
	}
	if n := log.times()[key(last)]; n != 1 {
		t.Errorf("the timer after the orphan fired %d times, want once", n)
	}
}

// keptInstance is a batch that stores one waiting instance, "kept", for
// the orphan timer tests to set timers beside.
func keptInstance(start time.Time) *store.Batch {
	kept := &store.Instance{Public: store.Public{ID: "kept", Workflow: "w", Status: store.Waiting, StartedAt: start, UpdatedAt: start}}
	return &store.Batch{Instances: []*store.Instance{kept}}
}
