package storetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/orbit-sidecar/orbit/store"
)

// Faulty wraps a real store so that a test can make its writes fail, as a
// full disk does, or hold its writes or instance reads, as a slow disk
// does, at the moment it chooses. Reads never fail: a full disk still
// reads.
type Faulty struct {
	store.Store

	mu        sync.Mutex
	failure   error                   // writes fail with it while set
	matches   func(*store.Batch) bool // which writes fail (nil: all); a KVPut is the batch nil
	held      chan struct{}           // writes wait for it to close while set
	heldReads chan struct{}           // Instance reads wait for it to close while set

	refused      atomic.Int64 // writes that failed
	waiting      atomic.Int64 // writes waiting on a hold now
	waitingReads atomic.Int64 // reads waiting on a hold now
	mostEvents   atomic.Int64 // the most events one History read returned
}

// NewFaulty wraps s; it behaves exactly as s until told otherwise.
func NewFaulty(s store.Store) *Faulty { return &Faulty{Store: s} }

// FailWrites makes every Commit and KVPut fail with err, unwritten, until
// Heal.
func (f *Faulty) FailWrites(err error) { f.FailWritesIf(nil, err) }

// FailWritesIf makes the writes that match fails with err, as a nearly
// full disk fails the larger writes and takes the small ones; the others
// go through. match gets a commit's batch, or nil for a KVPut.
func (f *Faulty) FailWritesIf(match func(*store.Batch) bool, err error) {
	f.mu.Lock()
	f.failure, f.matches = err, match
	f.mu.Unlock()
}

// Checkpoints matches batches that write instance records: what a driver
// commits, but not an event kept for later, nor a KVPut.
func Checkpoints(b *store.Batch) bool { return b != nil && len(b.Instances) > 0 }

// Heal lets writes through again.
func (f *Faulty) Heal() { f.FailWrites(nil) }

// Hold makes writes wait until release is called (or their context ends);
// then they go through, or fail if FailWrites is in force.
func (f *Faulty) Hold() (release func()) { return f.hold(&f.held) }

// HoldReads makes Instance reads wait until release is called.
func (f *Faulty) HoldReads() (release func()) { return f.hold(&f.heldReads) }

func (f *Faulty) hold(gate *chan struct{}) (release func()) {
	ch := make(chan struct{})
	f.mu.Lock()
	*gate = ch
	f.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			f.mu.Lock()
			if *gate == ch {
				*gate = nil
			}
			f.mu.Unlock()
			close(ch)
		})
	}
}

// Refused counts the writes that failed so far.
func (f *Faulty) Refused() int64 { return f.refused.Load() }

// Waiting counts the writes waiting on a Hold now.
func (f *Faulty) Waiting() int64 { return f.waiting.Load() }

// WaitingReads counts the reads waiting on a HoldReads now.
func (f *Faulty) WaitingReads() int64 { return f.waitingReads.Load() }

// Instance reads through, once a HoldReads lets it.
func (f *Faulty) Instance(id string) (*store.Instance, error) {
	f.mu.Lock()
	held := f.heldReads
	f.mu.Unlock()
	if held != nil {
		f.waitingReads.Add(1)
		<-held
		f.waitingReads.Add(-1)
	}
	return f.Store.Instance(id)
}

// History reads through, noting how many events the read returned.
func (f *Faulty) History(id string, after uint64, limit int) ([]store.Event, error) {
	evs, err := f.Store.History(id, after, limit)
	for n := int64(len(evs)); ; {
		most := f.mostEvents.Load()
		if n <= most || f.mostEvents.CompareAndSwap(most, n) {
			break
		}
	}
	return evs, err
}

// MostEventsRead is the most events one History read has returned: how
// much of a history its readers held at once.
func (f *Faulty) MostEventsRead() int64 { return f.mostEvents.Load() }

// gate holds a write while a Hold is in force and says whether it fails;
// b is the batch of a commit, nil for a KVPut.
func (f *Faulty) gate(ctx context.Context, b *store.Batch) error {
	f.mu.Lock()
	held := f.held
	f.mu.Unlock()
	if held != nil {
		f.waiting.Add(1)
		select {
		case <-held:
		case <-ctx.Done():
			f.waiting.Add(-1)
			return ctx.Err()
		}
		f.waiting.Add(-1)
	}
	f.mu.Lock()
	err, match := f.failure, f.matches
	f.mu.Unlock()
	if err != nil && (match == nil || match(b)) {
		f.refused.Add(1)
		return fmt.Errorf("write to store: %w", err)
	}
	return nil
}

// Commit writes through to the wrapped store unless writes fail or are held.
func (f *Faulty) Commit(ctx context.Context, b *store.Batch) error {
	if err := f.gate(ctx, b); err != nil {
		return err
	}
	return f.Store.Commit(ctx, b)
}

// KVPut writes through to the wrapped store unless writes fail or are held.
func (f *Faulty) KVPut(ns, key string, value []byte) error {
	if err := f.gate(context.Background(), nil); err != nil {
		return err
	}
	return f.Store.KVPut(ns, key, value)
}

// TimersAfter passes the read on, so that an engine on a Faulty store holds
// its timers a window at a time as it does on the store inside.
func (f *Faulty) TimersAfter(after store.Timer, fn func(store.Timer) bool) error {
	return store.TimersAfter(f.Store, after, fn)
}
