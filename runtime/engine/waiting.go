package engine

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/orbit-sidecar/orbit/store"
)

// waitingKinds are the kinds Engine.Waiting counts, in its order.
var waitingKinds = [...]store.WaitingKind{store.WaitEvent, store.WaitTimer, store.WaitRetry,
	store.WaitChild, store.WaitConcurrency, store.WaitPaused}

func kindIndex(k store.WaitingKind) int {
	for i, w := range waitingKinds {
		if w == k {
			return i
		}
	}
	return -1
}

// waitingKind is what a stored instance record waits for ("" while it
// runs or once it has ended).
func waitingKind(in *store.Instance) store.WaitingKind {
	if in == nil || in.Waiting == nil || in.Status.Terminal() || in.Status == store.Running {
		return ""
	}
	return in.Waiting.Kind
}

// waitCounts counts the instances that wait, by kind, without reading the
// store: a driver moves its instance from the kind it had in the store to
// the kind it has after each checkpoint. At open, QUEUED and PAUSED
// instances are counted from their status (their kind follows from it);
// a WAITING one is counted when a driver first loads it, which Open's
// re-check of every waiting instance does soon after. Until then its id
// is in pending, so that it is counted exactly once.
type waitCounts struct {
	n [len(waitingKinds)]atomic.Int64

	mu sync.Mutex
	// pending holds the ids Open found WAITING, sorted, and counted a bit
	// per id: a sorted slice that the re-check shares, rather than a map of
	// them, which at a million parked instances cost about a second of the
	// restart and tens of megabytes until the re-check was done.
	pending []string
	counted []uint64
	left    int         // ids in pending not yet counted
	any     atomic.Bool // left > 0
}

// found counts an instance Open found QUEUED or PAUSED.
func (w *waitCounts) found(st store.Status) {
	switch st {
	case store.Queued:
		w.move("", store.WaitConcurrency)
	case store.Paused:
		w.move("", store.WaitPaused)
	}
}

// uncounted notes the WAITING instances Open found, to count as they load.
// It sorts ids in place when they are not sorted already (a store lists
// them by id) and keeps them.
func (w *waitCounts) uncounted(ids []string) {
	if len(ids) == 0 {
		return
	}
	if !slices.IsSorted(ids) {
		slices.Sort(ids)
	}
	w.mu.Lock()
	w.pending, w.counted, w.left = ids, make([]uint64, (len(ids)+63)/64), len(ids)
	w.mu.Unlock()
	w.any.Store(true)
}

// loaded counts an instance Open found waiting, the first time a driver
// loads its record (kind as stored).
func (w *waitCounts) loaded(id string, kind store.WaitingKind) {
	if !w.any.Load() {
		return
	}
	w.mu.Lock()
	i, found := slices.BinarySearch(w.pending, id)
	first := found && w.counted[i/64]&(1<<(i%64)) == 0
	if first {
		w.counted[i/64] |= 1 << (i % 64)
		if w.left--; w.left == 0 {
			w.pending, w.counted = nil, nil
			w.any.Store(false)
		}
	}
	w.mu.Unlock()
	if first {
		w.move("", kind)
	}
}

// move moves one instance from one kind to another ("" is none).
func (w *waitCounts) move(from, to store.WaitingKind) {
	if from == to {
		return
	}
	if i := kindIndex(from); i >= 0 {
		w.n[i].Add(-1)
	}
	if i := kindIndex(to); i >= 0 {
		w.n[i].Add(1)
	}
}

// Waiting returns how many instances this engine knows to wait, by what
// they wait for (SPEC 2.1's waiting kinds; every kind is present).
func (e *Engine) Waiting() map[store.WaitingKind]int64 {
	out := make(map[store.WaitingKind]int64, len(waitingKinds))
	for i, k := range waitingKinds {
		out[k] = e.waits.n[i].Load()
	}
	return out
}

// QueueDepth returns how many instances are queued behind their
// concurrency keys' limits in this engine.
func (e *Engine) QueueDepth() int {
	c := e.conc
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, s := range c.slots {
		n += len(s.queue)
	}
	return n
}
