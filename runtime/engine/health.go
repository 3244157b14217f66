package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/orbit-sidecar/orbit/store"
)

// Store faults. A write that fails (a full disk, an I/O error) does not
// stop an instance: its driver keeps the checkpoint and writes it again,
// with backoff, until the store takes it or the engine closes; the
// instance carries on from there, so timers that fired and events kept
// during the fault are applied once the store writes again. Meanwhile the
// engine refuses new work that needs a write (ErrUnavailable) and Ready
// says why. Every write the engine makes goes through watchedStore, which
// keeps that view current; when no checkpoint is waiting to find out that
// the store writes again, a small probe write does.

const (
	// retryFirst and retryMax bound the pause between two attempts of a
	// failed write: doubling from the first to the last.
	retryFirst = 100 * time.Millisecond
	retryMax   = 5 * time.Second

	// probeNamespace is the engine's own key-value space, where the probe
	// writes; plugin names cannot hold a colon, so no plugin shares it.
	probeNamespace = "orbit:engine"
)

// storeHealth is the engine's view of whether the store can write.
type storeHealth struct {
	down atomic.Bool // the last write failed; changed under mu

	mu      sync.Mutex
	err     error     // the last failure
	since   time.Time // when writes began to fail
	probing bool      // a probe runs
}

// watchedStore is the engine's store: every write's outcome updates the
// engine's view of the store's health.
type watchedStore struct {
	store.Store
	e *Engine
}

// Commit writes through and notes the outcome.
func (w watchedStore) Commit(ctx context.Context, b *store.Batch) error {
	err := w.Store.Commit(ctx, b)
	w.e.noteWrite(err)
	return err
}

// noteWrite updates the store's health with the outcome of a write.
func (e *Engine) noteWrite(err error) {
	h := &e.health
	if err == nil {
		if h.down.Load() {
			e.recovered()
		}
		return
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return // the caller gave up; says nothing of the store
	}
	h.mu.Lock()
	h.err = err
	if !h.down.Load() {
		h.since = e.clock.Now()
		h.down.Store(true)
		e.log.Error("the store cannot write: instances keep their checkpoints and retry, new work is refused until it can", "err", err)
	}
	probe := !h.probing
	h.probing = true
	h.mu.Unlock()
	if probe {
		go e.probe()
	}
}

// recovered marks the store writable again.
func (e *Engine) recovered() {
	h := &e.health
	h.mu.Lock()
	if !h.down.Load() {
		h.mu.Unlock()
		return
	}
	h.down.Store(false)
	since := h.since
	h.mu.Unlock()
	e.log.Info("the store writes again", "after", e.clock.Now().Sub(since))
}

// probe writes a small record with backoff while the store is down, so
// that the engine learns it writes again even when no checkpoint waits.
func (e *Engine) probe() {
	h := &e.health
	for attempt := 0; ; attempt++ {
		h.mu.Lock()
		if !h.down.Load() {
			h.probing = false
			h.mu.Unlock()
			return
		}
		h.mu.Unlock()
		if !e.backoff(attempt) {
			h.mu.Lock()
			h.probing = false
			h.mu.Unlock()
			return
		}
		if h.down.Load() {
			e.noteWrite(e.store.KVPut(probeNamespace, "probe", []byte(e.clock.Now().UTC().Format(time.RFC3339Nano))))
		}
	}
}

// Ready reports why the engine cannot take new work now, or nil: the
// store cannot write (ErrUnavailable, with the store's error).
func (e *Engine) Ready() error {
	h := &e.health
	if !h.down.Load() {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.down.Load() {
		return nil
	}
	return fmt.Errorf("%w: the store cannot write since %s: %v", ErrUnavailable, h.since.UTC().Format(time.RFC3339), h.err)
}

// backoff pauses before attempt+1 of a failed write, on the engine's clock.
// It returns false, at once, when the engine closes.
func (e *Engine) backoff(attempt int) bool {
	d := retryMax
	if attempt < 6 {
		d = min(retryFirst<<attempt, retryMax)
	}
	due := make(chan struct{})
	t := e.clock.AfterFunc(d, func() { close(due) })
	select {
	case <-due:
		return true
	case <-e.closing:
		t.Stop()
		return false
	}
}

// durably runs write until it succeeds, pausing between attempts, or the
// engine closes (then it returns the last error).
func (e *Engine) durably(write func() error) error {
	for attempt := 0; ; attempt++ {
		err := write()
		// A fenced write will never be taken: the instance is another
		// sidecar's now.
		if err == nil || errors.Is(err, store.ErrFenced) || !e.backoff(attempt) {
			return err
		}
	}
}
