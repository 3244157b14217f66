package engine

import (
	"container/heap"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/orbit-sidecar/orbit/runtime/clock"
	"github.com/orbit-sidecar/orbit/store"
)

// timerQueue is the in-memory index of durable timers: a min-heap on time
// with one armed clock callback for the earliest entry. It holds keys only.
//
// On a store that lists timers from a point on (store.TimerRanger) it holds
// only the next ones: a window of the earliest stored timers, every stored
// timer up to the key loaded included. A timer added after it is left to
// the store, and when the heap runs empty the next window is read. A
// million parked instances then cost a window of memory, not a million
// entries, and a restart reads a window, not every timer.
//
// A timer that fired stays in the store until the work it started commits
// its removal (an instance's checkpoint, an observer job's end). Until
// then it is in flight: a window read that lists it again skips it, so it
// fires once. The mark goes with the removal (remove), when the timer is
// set again (add), when the work gives up on it (settle, settleInstance),
// and with a new load.
//
// A timer read from the store whose instance is gone (written after its
// instance was removed, or left by a version that did not remove it) is
// an orphan: it is not indexed, so it never fires, and drop deletes it
// from the store, outside q.mu. Nothing else would: its work finds no
// instance, and it would fire again at every open.
type timerQueue struct {
	clock clock.Clock
	fire  func(store.Timer)

	mu      sync.Mutex
	h       timerHeap
	index   map[store.Timer]*timerItem
	armed   clock.Timer
	armedAt time.Time
	running bool
	firing  bool // a tick is firing timers: it pops what falls due meanwhile

	src     store.TimerRanger // nil: every timer is in the heap
	partial bool              // src holds timers after loaded that the heap lacks
	loaded  store.Timer       // while partial: the last key read from src
	errs    func(error)       // told when src cannot be read

	inFlight map[store.Timer]struct{} // fired, removal not yet committed (only with src)

	gone    func(instance string) bool // nil: no timer is looked at for an orphan
	drop    func([]store.Timer)        // deletes orphans from the store
	orphans []store.Timer              // read, not yet dropped
}

// timerWindow is how many timers the queue reads from the store at once,
// and (twice it) how many it keeps before leaving the latest to the store.
const timerWindow = 1024

// timerReadRetry is how long the queue waits to read a window of timers
// again after the store failed to list them.
const timerReadRetry = time.Second

type timerItem struct {
	t   store.Timer
	pos int
}

type timerHeap []*timerItem

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].t.At.Before(h[j].t.At) }
func (h timerHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i]; h[i].pos = i; h[j].pos = j }
func (h *timerHeap) Push(x any)        { it := x.(*timerItem); it.pos = len(*h); *h = append(*h, it) }
func (h *timerHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return it
}

func newTimerQueue(c clock.Clock, fire func(store.Timer)) *timerQueue {
	return &timerQueue{clock: c, fire: fire, index: map[store.Timer]*timerItem{}, inFlight: map[store.Timer]struct{}{}}
}

// key is a timer as the store lists it (store.TimerTime), so that a timer
// the engine set and the same timer read back from the store are one key
// (one before 1970 is listed at the zero Time).
func key(t store.Timer) store.Timer {
	t.At = store.TimerTime(t.At)
	return t
}

// add indexes a timer the store holds (it is called after the commit that
// wrote it, so a window read later finds it there).
func (q *timerQueue) add(t store.Timer) {
	t = key(t)
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.inFlight, t) // set again: owed again, whether read or held
	if q.partial && store.CompareTimers(t, q.loaded) > 0 {
		return // beyond the window: read with the next one
	}
	if _, dup := q.index[t]; dup {
		return
	}
	it := &timerItem{t: t}
	heap.Push(&q.h, it)
	q.index[t] = it
	if q.src != nil && len(q.h) > 2*timerWindow {
		q.trim()
	}
	if q.running && (q.armed == nil || t.At.Before(q.armedAt)) && q.arm() {
		go q.tick()
	}
}

// load makes the queue read its timers from src, a window at a time,
// starting with the first; q.mu is not held.
func (q *timerQueue) load(src store.TimerRanger, errs func(error)) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.src, q.errs = src, errs
	q.partial, q.loaded = true, store.Timer{}
	clear(q.inFlight) // what the store holds is owed
	err := q.readWindow()
	q.dropOrphans()
	return err
}

// readWindow reads the next window of timers from the store; q.mu is held,
// so that no add or remove slips between the read and the new bound.
func (q *timerQueue) readWindow() error {
	n := 0
	last := q.loaded
	var seen map[string]bool
	kept := len(q.orphans)
	err := q.src.TimersAfter(q.loaded, func(t store.Timer) bool {
		t = key(t)
		last = t
		n++ // a timer fired or orphaned counts all the same: loaded moves past it
		if _, fired := q.inFlight[t]; fired {
			return n < timerWindow
		}
		if q.orphan(t, &seen) {
			q.orphans = append(q.orphans, t)
			return n < timerWindow
		}
		if _, dup := q.index[t]; !dup {
			it := &timerItem{t: t}
			heap.Push(&q.h, it)
			q.index[t] = it
		}
		return n < timerWindow
	})
	if err != nil {
		// The window is read again, its orphans with it: deleted now,
		// they would send the tick to read it again at once.
		q.orphans = q.orphans[:kept]
		return err
	}
	q.loaded = last
	q.partial = n == timerWindow
	return nil
}

// orphan reports whether t's instance is gone from the store, looking
// each instance up once per read (seen).
func (q *timerQueue) orphan(t store.Timer, seen *map[string]bool) bool {
	if q.gone == nil {
		return false
	}
	if *seen == nil {
		*seen = map[string]bool{}
	}
	gone, ok := (*seen)[t.Instance]
	if !ok {
		gone = q.gone(t.Instance)
		(*seen)[t.Instance] = gone
	}
	return gone
}

// dropOrphans deletes the orphans read so far from the store; q.mu is
// held, and let go while the store writes.
func (q *timerQueue) dropOrphans() {
	if len(q.orphans) == 0 {
		return
	}
	ts := q.orphans
	q.orphans = nil
	q.mu.Unlock()
	defer q.mu.Lock()
	q.drop(ts)
}

// trim keeps the earliest timerWindow timers and leaves the rest to the
// store, from which they are read again when their window comes; q.mu is
// held. Every timer in the heap is in the store: add is called after
// the commit that wrote it.
func (q *timerQueue) trim() {
	slices.SortFunc(q.h, func(a, b *timerItem) int { return store.CompareTimers(a.t, b.t) })
	for _, it := range q.h[timerWindow:] {
		delete(q.index, it.t)
	}
	clear(q.h[timerWindow:])
	q.h = q.h[:timerWindow]
	for i, it := range q.h {
		it.pos = i // a sorted slice is a heap
	}
	q.loaded = q.h[timerWindow-1].t
	q.partial = true
}

// remove drops a timer whose removal the store committed.
func (q *timerQueue) remove(t store.Timer) {
	t = key(t)
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.inFlight, t)
	if it, ok := q.index[t]; ok {
		heap.Remove(&q.h, it.pos)
		delete(q.index, t)
	}
}

// settle drops the in-flight mark of a fired timer whose work gave up on
// it without removing it: a later window read may fire it again.
func (q *timerQueue) settle(t store.Timer) {
	t = key(t)
	q.mu.Lock()
	delete(q.inFlight, t)
	q.mu.Unlock()
}

// settleInstance settles every fired timer of an instance that its driver
// handles (not its observer jobs, which settle their own), and returns
// them: the driver could not load the instance, which may be gone.
func (q *timerQueue) settleInstance(id string) (settled []store.Timer) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for t := range q.inFlight {
		if t.Instance == id && !strings.HasPrefix(t.Kind, observePrefix) {
			delete(q.inFlight, t)
			settled = append(settled, t)
		}
	}
	return settled
}

// arm schedules the callback for the earliest timer, reading the next
// window when the heap is empty; q.mu is held. It reports whether that
// timer is due already, for the caller to tick at once (tick itself pops
// again).
func (q *timerQueue) arm() (due bool) {
	if q.armed != nil {
		q.armed.Stop()
		q.armed = nil
	}
	for len(q.h) == 0 && q.partial {
		if err := q.readWindow(); err != nil {
			// The timers stay in the store, and an add beyond the window
			// does not arm the queue: the read is tried again later.
			q.errs(err)
			q.armedAt = q.clock.Now().Add(timerReadRetry) // an earlier add arms the queue for itself
			q.armed = q.clock.AfterFunc(timerReadRetry, q.tick)
			return false
		}
	}
	if len(q.h) == 0 {
		return false
	}
	q.armedAt = q.h[0].t.At
	d := q.armedAt.Sub(q.clock.Now())
	if d <= 0 {
		// Due already (an observer job, or time passed while stopped, or
		// while the last timers fired).
		q.armed = nopTimer{}
		return true
	}
	q.armed = q.clock.AfterFunc(d, q.tick)
	return false
}

// tick fires the due timers, and goes on while more are due by the time
// it has fired them. One tick fires at a time, so timers fire in their
// order: a tick that comes while another fires (its clock callback, or an
// add of a due timer) leaves its timers to that one, which pops again
// once it is done.
func (q *timerQueue) tick() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.firing {
		return
	}
	q.firing = true
	defer func() { q.firing = false }()
	for q.running {
		now := q.clock.Now()
		var due []store.Timer
		for len(q.h) > 0 && !q.h[0].t.At.After(now) {
			it := heap.Pop(&q.h).(*timerItem)
			delete(q.index, it.t)
			if q.src != nil { // without a store to read again, nothing fires twice
				q.inFlight[it.t] = struct{}{}
			}
			due = append(due, it.t)
		}
		q.armed = nil
		more := q.arm()
		orphans := q.orphans // of a window read by arm
		q.orphans = nil
		if len(due) == 0 && !more && len(orphans) == 0 {
			return
		}
		// With q.mu let go, an add or a clock callback may come and
		// leave its tick to this one: the loop looks at the heap again.
		q.mu.Unlock()
		for _, t := range due {
			q.fire(t)
		}
		if len(orphans) > 0 {
			q.drop(orphans)
		}
		q.mu.Lock()
	}
}

func (q *timerQueue) start() {
	q.mu.Lock()
	q.running = true
	if q.arm() {
		go q.tick()
	}
	q.dropOrphans()
	q.mu.Unlock()
}

// stop disarms the queue. What was in flight is no longer: work cut off
// by the close leaves its timers in the store, owed after the next load.
func (q *timerQueue) stop() {
	q.mu.Lock()
	q.running = false
	clear(q.inFlight)
	if q.armed != nil {
		q.armed.Stop()
		q.armed = nil
	}
	q.mu.Unlock()
}

// nopTimer marks the queue armed while a tick for due timers is on its way.
type nopTimer struct{}

func (nopTimer) Stop() bool { return false }
