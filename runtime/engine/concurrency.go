package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/store"
)

// concurrency enforces workflow concurrency keys (SPEC 2.1): at most limit
// instances per key hold a slot from start to end; later ones are QUEUED
// and admitted in arrival order as slots free up. The counts live in
// memory and are rebuilt from the store on open. With a shared store the
// slots live in the store instead (Coordinator.AcquireSlot), where every
// sidecar counts them; this keeps only the arrival clock then.
type concurrency struct {
	mu       sync.Mutex
	lastSeq  int64
	slots    map[string]*slot
	admitted map[string]bool // queued instances given a slot, not yet running

	// restoreMu serialises the one rebuild from the store; restored says
	// it is done (Engine.concurrencyRestored).
	restoreMu sync.Mutex
	restored  bool
}

type slot struct {
	limit   int
	holders int
	queue   []string
}

func newConcurrency() *concurrency {
	return &concurrency{slots: map[string]*slot{}, admitted: map[string]bool{}}
}

func slotKey(workflow, key string) string { return workflow + "\x00" + key }

// acquireSlot gives instance id a slot of the workflow's key, or a place
// in its queue: false when it must wait.
func (e *Engine) acquireSlot(workflow, key string, limit int, id string) (bool, error) {
	if e.coord != nil {
		return e.coord.AcquireSlot(context.Background(), store.SlotKey{Workflow: workflow, Key: key}, limit, id)
	}
	return e.conc.acquire(slotKey(workflow, key), limit, id), nil
}

// releaseSlot gives id's slot or queue place back and wakes the queued
// instances that get a slot.
func (e *Engine) releaseSlot(workflow, key, id string) {
	if e.coord != nil {
		// A release that fails is made again by the sidecar that the
		// ended instance's takeover guard wakes (see driver.load).
		if err := e.coord.ReleaseSlot(context.Background(), store.SlotKey{Workflow: workflow, Key: key}, id); err != nil {
			e.log.Error("give a concurrency slot back", "instance", id, "key", key, "err", err)
		}
		return
	}
	for _, next := range e.conc.release(slotKey(workflow, key), id) {
		e.post(next, message{kind: msgWake})
	}
}

// acquire takes a slot for id, or queues it and returns false.
func (c *concurrency) acquire(k string, limit int, id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.slot(k, limit)
	if s.holders < s.limit && len(s.queue) == 0 {
		s.holders++
		return true
	}
	s.queue = append(s.queue, id)
	return false
}

func (c *concurrency) slot(k string, limit int) *slot {
	s := c.slots[k]
	if s == nil {
		s = &slot{}
		c.slots[k] = s
	}
	s.limit = max(limit, 1)
	return s
}

// release frees id's slot (or its place in the queue) and returns the
// queued instances that may start now.
func (c *concurrency) release(k, id string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.slots[k]
	if s == nil {
		return nil
	}
	if i := slices.Index(s.queue, id); i >= 0 {
		s.queue = slices.Delete(s.queue, i, i+1)
	} else {
		delete(c.admitted, id)
		s.holders--
	}
	return c.admit(k, s)
}

// admit moves queued instances into free slots; c.mu is held.
func (c *concurrency) admit(k string, s *slot) []string {
	var next []string
	for s.holders < s.limit && len(s.queue) > 0 {
		id := s.queue[0]
		s.queue = s.queue[1:]
		s.holders++
		c.admitted[id] = true
		next = append(next, id)
	}
	if s.holders == 0 && len(s.queue) == 0 {
		delete(c.slots, k)
	}
	return next
}

// arrival returns a number larger than any before it, even across
// restarts (it follows the wall clock), to order a key's queue.
func (c *concurrency) arrival(now time.Time) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lastSeq = max(c.lastSeq+1, now.UnixNano())
	return c.lastSeq
}

// take reports whether a queued instance was admitted, consuming the mark.
func (c *concurrency) take(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.admitted[id] {
		delete(c.admitted, id)
		return true
	}
	return false
}

// concurrencyKey evaluates the workflow's key on the instance input.
func concurrencyKey(wf *flow.Workflow, data any, c *flow.Context) (string, error) {
	v, err := wf.Concurrency.Key.Eval(data, c)
	if err != nil {
		return "", err
	}
	switch k := v.(type) {
	case string:
		return k, nil
	case nil:
		return "", flow.Errorf(flow.ErrRuntime, "concurrency key of workflow %s is null", wf.Name)
	default:
		return fmt.Sprint(k), nil
	}
}

// concurrencyRestored rebuilds the slot counts and queues from the store
// the first time they are needed, and wakes the queued instances that
// get a slot. ids are the unfinished instances when the caller has them
// (Open), nil to read them. Open does it when any instance may hold or
// wait for a slot or the current bundle declares a key; otherwise the
// first start or redrive of an instance with a key does it (a start may
// name an older version that declares one).
func (e *Engine) concurrencyRestored(ids []string) error {
	if e.coord != nil {
		return nil // the shared store keeps the slots
	}
	c := e.conc
	c.restoreMu.Lock()
	defer c.restoreMu.Unlock()
	if c.restored {
		return nil
	}
	if ids == nil {
		if err := e.store.Unfinished(func(id string, _ store.Status) error {
			ids = append(ids, id)
			return nil
		}); err != nil {
			return fmt.Errorf("list unfinished instances: %w", err)
		}
	}
	admitted, err := e.restoreConcurrency(ids)
	if err != nil {
		return fmt.Errorf("restore concurrency queues: %w", err)
	}
	c.restored = true
	for _, id := range admitted {
		e.post(id, message{kind: msgWake})
	}
	return nil
}

// restoreConcurrency rebuilds slot counts and queues from the unfinished
// instances that carry a concurrency key, whatever bundle they run: a
// slot is held from the start to the end, except by an instance QUEUED
// or paused while QUEUED, which waits in its key's queue in arrival
// order. It returns the queued instances that get a slot now.
func (e *Engine) restoreConcurrency(ids []string) ([]string, error) {
	type queued struct {
		in    *store.Instance
		limit int
	}
	var waiting []queued
	for _, id := range ids {
		in, err := e.store.Instance(id)
		if errors.Is(err, store.ErrDamaged) {
			// One unreadable record must not keep every other instance
			// from resuming; it holds no slot, and its reads say why.
			e.log.Error("instance record is damaged; it does not resume", "instance", id, "err", err)
			continue
		}
		if err != nil {
			return nil, err
		}
		place := in.SlotPlace()
		if place == store.NoSlot {
			continue
		}
		limit := 1
		if b, err := e.bundle(in.Bundle); err == nil {
			if wf := b.Workflows[in.Workflow]; wf != nil && wf.Concurrency != nil {
				limit = wf.Concurrency.Limit
			}
		}
		k := slotKey(in.Workflow, in.ConcKey)
		if place == store.InSlotQueue {
			waiting = append(waiting, queued{in, limit})
			continue
		}
		e.conc.mu.Lock()
		e.conc.slot(k, limit).holders++
		e.conc.mu.Unlock()
	}
	slices.SortFunc(waiting, func(a, b queued) int { return cmp.Compare(a.in.ConcSeq, b.in.ConcSeq) })
	var admit []string
	e.conc.mu.Lock()
	defer e.conc.mu.Unlock()
	for _, q := range waiting {
		s := e.conc.slot(slotKey(q.in.Workflow, q.in.ConcKey), q.limit)
		s.queue = append(s.queue, q.in.ID)
	}
	for k, s := range e.conc.slots {
		admit = append(admit, e.conc.admit(k, s)...)
	}
	return admit, nil
}

// usesConcurrency reports whether any workflow of b declares a key.
func usesConcurrency(b *flow.Bundle) bool {
	if b == nil {
		return false
	}
	for _, wf := range b.Workflows {
		if wf.Concurrency != nil {
			return true
		}
	}
	return false
}
