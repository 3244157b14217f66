package bolt

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/orbit-sidecar/orbit/internal/fault"
	"github.com/orbit-sidecar/orbit/store"
	bbolt "go.etcd.io/bbolt"
)

const (
	// maxGroup and maxGroupBytes bound one write transaction, so that a
	// flood of batches cannot make one fsync (and its waiters) arbitrarily
	// late.
	maxGroup      = 1000
	maxGroupBytes = 16 << 20
	// maxPooledBuf keeps an unusually large batch's buffer from staying in
	// the pool for good.
	maxPooledBuf = 1 << 20
)

// job is one batch waiting for the committer.
type job struct {
	enc  encoded
	done chan error
}

var jobs = sync.Pool{New: func() any {
	j := &job{done: make(chan error, 1)}
	j.enc.json = json.NewEncoder(&j.enc)
	j.enc.json.SetEscapeHTML(false) // payloads are stored as given
	return j
}}

func getJob() *job { return jobs.Get().(*job) }

func putJob(j *job) {
	if cap(j.enc.buf) > maxPooledBuf {
		j.enc.buf = nil
	}
	j.enc.reset()
	jobs.Put(j)
}

// Commit writes the batch atomically and durably, in one transaction with
// whatever other batches are waiting. b is fully copied before Commit
// returns and may be reused at once. If ctx ends first, Commit returns
// ctx.Err() but the batch may still be written.
func (db *DB) Commit(ctx context.Context, b *store.Batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if b.Empty() {
		return nil
	}
	j := getJob()
	if err := j.enc.encode(b); err != nil {
		putJob(j)
		return err
	}
	return db.submit(ctx, j)
}

// submit hands a job to the committer and waits for its transaction.
func (db *DB) submit(ctx context.Context, j *job) error {
	db.mu.RLock()
	if db.closed {
		db.mu.RUnlock()
		putJob(j)
		return ErrClosed
	}
	db.queue <- j
	db.mu.RUnlock()
	select {
	case err := <-j.done:
		putJob(j)
		return err
	case <-ctx.Done():
		return ctx.Err() // the committer still owns j; it is left to the collector
	}
}

// run is the committer: it takes the first waiting job, adds every job that
// queued meanwhile and writes them in one transaction. It never waits for
// more work, so a lone commit is not delayed; under load, batches pile up
// while the previous fsync runs and the next transaction takes them all.
func (db *DB) run() {
	defer close(db.done)
	var (
		w     writer
		group []*job
	)
	for first := range db.queue {
		group = append(group[:0], first)
		size := len(first.enc.buf)
	drain:
		for len(group) < maxGroup && size < maxGroupBytes {
			select {
			case j, ok := <-db.queue:
				if !ok {
					break drain
				}
				group = append(group, j)
				size += len(j.enc.buf)
			default:
				break drain
			}
		}
		db.write(&w, group)
		clear(group)
	}
}

// write commits a group. Batches were validated while encoding, so a
// failing transaction is rare (a full disk, a bbolt limit); when it happens
// with several batches, each is retried alone so that one bad batch cannot
// fail its neighbours.
func (db *DB) write(w *writer, group []*job) {
	err := db.update(w, group)
	if err == nil || len(group) == 1 {
		answer(group, err)
		return
	}
	db.log.Warn("group commit failed; retrying its batches one by one", "batches", len(group), "error", err)
	for _, j := range group {
		one := []*job{j}
		answer(one, db.update(w, one))
	}
}

// update writes jobs in one transaction and counts it.
func (db *DB) update(w *writer, group []*job) error {
	var start time.Time
	if db.onCommit != nil {
		start = time.Now()
	}
	err := db.bolt.Update(func(tx *bbolt.Tx) error {
		w.begin(tx)
		defer w.end()
		for _, j := range group {
			if err := w.apply(&j.enc); err != nil {
				return err
			}
		}
		fault.Hit(FaultApplied)
		return nil
	})
	if err != nil {
		return err
	}
	fault.Hit(FaultCommitted)
	var n uint64
	for _, j := range group {
		if j.enc.checkpoint() {
			n++
		}
	}
	db.commits.Add(1)
	db.checkpoints.Add(n)
	if db.onCommit != nil {
		db.onCommit(int(n), time.Since(start))
	}
	return nil
}

func answer(group []*job, err error) {
	for _, j := range group {
		j.done <- err
	}
}
