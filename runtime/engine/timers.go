package engine

import (
	"container/heap"
	"sync"
	"time"

	"github.com/orbit-sidecar/orbit/runtime/clock"
	"github.com/orbit-sidecar/orbit/store"
)

// timerQueue is the in-memory index of durable timers: a min-heap on time
// with one armed clock callback for the earliest entry. It holds keys only,
// so many parked instances cost little memory.
type timerQueue struct {
	clock clock.Clock
	fire  func(store.Timer)

	mu      sync.Mutex
	h       timerHeap
	index   map[store.Timer]*timerItem
	armed   clock.Timer
	armedAt time.Time
	running bool
}

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
	return &timerQueue{clock: c, fire: fire, index: map[store.Timer]*timerItem{}}
}

func key(t store.Timer) store.Timer {
	t.At = t.At.UTC().Round(0)
	return t
}

func (q *timerQueue) add(t store.Timer) {
	t = key(t)
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, dup := q.index[t]; dup {
		return
	}
	it := &timerItem{t: t}
	heap.Push(&q.h, it)
	q.index[t] = it
	if q.running && (q.armed == nil || t.At.Before(q.armedAt)) {
		q.arm()
	}
}

func (q *timerQueue) remove(t store.Timer) {
	t = key(t)
	q.mu.Lock()
	defer q.mu.Unlock()
	if it, ok := q.index[t]; ok {
		heap.Remove(&q.h, it.pos)
		delete(q.index, t)
	}
}

// arm schedules the callback for the earliest timer; q.mu is held.
func (q *timerQueue) arm() {
	if q.armed != nil {
		q.armed.Stop()
		q.armed = nil
	}
	if len(q.h) == 0 {
		return
	}
	q.armedAt = q.h[0].t.At
	d := q.armedAt.Sub(q.clock.Now())
	if d <= 0 {
		// Due already (an observer job, or time passed while stopped).
		q.armed = nopTimer{}
		go q.tick()
		return
	}
	q.armed = q.clock.AfterFunc(d, q.tick)
}

func (q *timerQueue) tick() {
	q.mu.Lock()
	if !q.running {
		q.mu.Unlock()
		return
	}
	now := q.clock.Now()
	var due []store.Timer
	for len(q.h) > 0 && !q.h[0].t.At.After(now) {
		it := heap.Pop(&q.h).(*timerItem)
		delete(q.index, it.t)
		due = append(due, it.t)
	}
	q.armed = nil
	q.arm()
	q.mu.Unlock()
	for _, t := range due {
		q.fire(t)
	}
}

func (q *timerQueue) start() {
	q.mu.Lock()
	q.running = true
	q.arm()
	q.mu.Unlock()
}

func (q *timerQueue) stop() {
	q.mu.Lock()
	q.running = false
	if q.armed != nil {
		q.armed.Stop()
		q.armed = nil
	}
	q.mu.Unlock()
}

// nopTimer marks the queue armed while a tick for due timers is on its way.
type nopTimer struct{}

func (nopTimer) Stop() bool { return false }
