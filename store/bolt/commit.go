package bolt

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/orbit-sidecar/orbit/store"
)

const (
	// maxGroup and maxGroupBytes bound one group commit, so that a flood
	// of batches cannot make one fsync (and its waiters) arbitrarily late.
	maxGroup      = 1000
	maxGroupBytes = 16 << 20
	// maxPooledBuf keeps a large batch's buffer from staying in the pool:
	// a checkpoint is a few KiB, and under steady load the pool never
	// empties, so a burst of large payloads would otherwise leave every
	// pooled job (one per driver in flight) holding up to its size.
	maxPooledBuf = 64 << 10
	// maxKeptRecord bounds the committer's one record buffer, which a
	// group of many batches fills.
	maxKeptRecord = 1 << 20
	// applyDelay is how long the applier lets logged groups gather before
	// it writes them into bbolt, unless a read waits for them or they are
	// many: one bbolt transaction (and its two fsyncs) then carries the
	// groups of a whole window, and an instance checkpointed several times
	// in it is written once.
	applyDelay = 50 * time.Millisecond
	// applyNowBytes is the logged size past which the applier does not
	// wait for the window to end.
	applyNowBytes = 4 << 20
	// maxUnapplied bounds what is logged but not applied, and so the
	// memory the overlay holds: past it, group commits wait for the
	// applier.
	maxUnapplied = 64 << 20
)

// job is one batch on its way to the log and into bbolt. The caller and
// the applier each hold it until they are done with it; the last to let
// go returns it to the pool.
type job struct {
	enc  encoded
	done chan error
	refs atomic.Int32
}

var jobs = sync.Pool{New: func() any {
	j := &job{done: make(chan error, 1)}
	j.enc.json = json.NewEncoder(&j.enc)
	j.enc.json.SetEscapeHTML(false) // payloads are stored as given
	return j
}}

// getJob takes a job held twice: by the caller and by the log.
func getJob() *job {
	j := jobs.Get().(*job)
	j.refs.Store(2)
	return j
}

// putJob pools a job nobody else holds.
func putJob(j *job) {
	if cap(j.enc.buf) > maxPooledBuf {
		j.enc.buf = nil
	}
	j.enc.reset()
	select { // a caller that gave up left its answer behind
	case <-j.done:
	default:
	}
	jobs.Put(j)
}

// release lets go of one hold on j.
func (j *job) release() {
	if j.refs.Add(-1) == 0 {
		putJob(j)
	}
}

// logged is a group that is in the log, waiting for the applier.
type logged struct {
	lsn  uint64
	jobs []*job
	size int
}

// Commit writes the batch atomically and durably, in one log record with
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

// submit hands a job to the committer and waits for its log record.
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
		j.release()
		return err
	case <-ctx.Done():
		j.release()
		return ctx.Err()
	}
}

// run is the committer: it takes the first waiting job, adds every job that
// queued meanwhile and logs them as one record with one fsync. It never
// waits for more work, so a lone commit is not delayed; under load, jobs
// pile up while the previous fsync runs and the next record takes them all.
func (db *DB) run() {
	defer close(db.done)
	var group []*job
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
		db.logGroup(group)
		clear(group)
	}
}

// logGroup appends a group to the log, makes it visible to reads and
// answers its callers, then hands it to the applier. Batches were
// validated while encoding, so only the disk can fail a group, and then
// it fails whole.
func (db *DB) logGroup(group []*job) {
	db.waitForApplier()
	var start time.Time
	if db.onCommit != nil {
		start = time.Now()
	}
	lsn := db.nextLSN
	for _, j := range group {
		db.numberPending(&j.enc)
	}
	rec := beginFrame(db.rec[:0])
	rec = appendBody(rec, group)
	finishFrame(rec, lsn)
	db.rec = rec
	if cap(db.rec) > maxKeptRecord {
		db.rec = nil
	}
	hit(FaultLogWritten)
	synced, err := db.wal.append(rec, lsn)
	if synced {
		db.syncs.Add(1)
	}
	if err != nil {
		db.log.Error("group commit failed", "batches", len(group), "error", err)
		for _, j := range group {
			j.done <- err
			j.release()
		}
		return
	}
	hit(FaultLogSynced)
	db.nextLSN++
	db.logBytes.Add(uint64(len(rec)))
	g := &logged{lsn: lsn, jobs: slices.Clone(group), size: len(rec)}
	db.ov.add(g)
	db.committed.Store(lsn)
	var n uint64
	for _, j := range group {
		if j.enc.checkpoint() {
			n++
		}
	}
	// Counted before the callers hear back, so that a caller's Stats
	// includes its own commit.
	db.commits.Add(1)
	db.checkpoints.Add(n)
	for _, j := range group {
		j.done <- nil
	}
	if db.onCommit != nil {
		db.onCommit(int(n), time.Since(start))
	}
	db.unapplied.Add(int64(len(rec)))
	db.amu.Lock()
	db.toApply = append(db.toApply, g)
	db.amu.Unlock()
	signal(db.applyWork)
	switch {
	case db.wal.size >= segmentSize || !db.wal.full && db.spares.haveSpare():
		db.rotate()
	case !db.wal.full && db.wal.size >= min(spareAfter, segmentSize/4):
		db.spares.want()
	}
}

// numberPending gives kept events without a caller-chosen seq the next
// one, in log order, so that the record says exactly what is written and a
// replay writes the same.
func (db *DB) numberPending(e *encoded) {
	for i := range e.addPending {
		p := &e.addPending[i]
		if p.seq == 0 {
			db.pendingSeq++
			p.seq = db.pendingSeq
		} else {
			db.pendingSeq = max(db.pendingSeq, p.seq)
		}
	}
}

// rotate starts a new segment, in the spare when one is ready (spare.go);
// the applier recycles or deletes the old one once bbolt holds its
// records. It also moves a segment that grows (started when no spare was
// ready) into a spare as soon as one is. If the new one cannot be made,
// the current one goes on.
func (db *DB) rotate() {
	next, err := db.startSegment(db.nextLSN)
	if err != nil {
		db.log.Warn("cannot start a new log segment; the current one grows", "error", err)
		return
	}
	hit(FaultRotated)
	old := db.wal
	db.wal = next
	if err := old.close(); err != nil {
		db.log.Warn("close log segment", "path", old.seg.path, "error", err)
	}
	old.seg.size = old.size
	db.smu.Lock()
	db.full = append(db.full, old.seg)
	db.smu.Unlock()
	db.spares.want()
}

// startSegment makes the segment whose first record is first: the spare
// renamed, with its new name made durable, or a new file that grows.
func (db *DB) startSegment(first uint64) (*logFile, error) {
	path := segmentPath(db.path, first)
	f, err := db.spares.take(path)
	if err != nil {
		db.log.Warn("cannot use the spare log segment", "error", err)
	}
	if f == nil {
		l, err := createSegment(db.path, first, !db.noSync)
		if err == nil && !db.noSync {
			db.syncs.Add(1)
		}
		return l, err
	}
	hit(FaultSpareNamed)
	if err := syncDir(filepath.Dir(path)); err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	db.syncs.Add(1)
	return &logFile{f: f, seg: segment{path: path, first: first, last: first - 1}, sync: true, full: true}, nil
}

// waitForApplier holds the committer while more than maxUnapplied bytes
// are logged but not applied.
func (db *DB) waitForApplier() {
	if db.unapplied.Load() < maxUnapplied {
		return
	}
	signal(db.applyNow)
	db.amu.Lock()
	for db.unapplied.Load() >= maxUnapplied && !db.applierGone {
		db.applied.Wait()
	}
	db.amu.Unlock()
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
