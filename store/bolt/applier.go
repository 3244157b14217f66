package bolt

import (
	"encoding/binary"
	"fmt"
	"os"
	"time"

	bbolt "go.etcd.io/bbolt"
)

// appliedKey holds, in the meta bucket, the lsn of the last log record
// that bbolt holds: written in the same transaction as the record's
// batches, so that a replay applies every record exactly once.
var appliedKey = []byte("applied_lsn")

// applier writes logged groups into bbolt: after a short window, all that
// were logged meanwhile in one transaction with bbolt's own fsyncs, then
// it forgets them from the overlay and deletes the log segments bbolt now
// holds entirely.
func (db *DB) applier() {
	defer close(db.applierDone)
	var (
		w     writer
		batch []*logged
	)
	window := time.NewTimer(time.Hour)
	window.Stop()
	for {
		stopping := false
		select {
		case <-db.applyWork:
		case <-db.applyNow:
		case <-db.stopApply:
			stopping = true
		}
		if !stopping && db.unapplied.Load() < applyNowBytes && db.readers.Load() == 0 {
			window.Reset(applyDelay)
			select {
			case <-window.C:
			case <-db.applyNow:
				window.Stop()
			case <-db.stopApply:
				window.Stop()
				stopping = true
			}
		}
		db.amu.Lock()
		batch = append(batch[:0], db.toApply...)
		clear(db.toApply)
		db.toApply = db.toApply[:0]
		db.amu.Unlock()
		if len(batch) > 0 && !db.applyGroups(&w, batch, stopping) {
			stopping = true
		}
		clear(batch)
		if stopping {
			db.amu.Lock()
			empty := len(db.toApply) == 0
			if empty {
				db.applierGone = true
				db.applied.Broadcast()
			}
			db.amu.Unlock()
			if empty {
				return
			}
		}
	}
}

// applyGroups writes groups into bbolt in one transaction, retrying with
// backoff while bbolt fails (a full disk): the groups stay in the log and
// the overlay meanwhile, so nothing acknowledged is lost or hidden. When
// the store is closing it gives up after one failure and reports false;
// the next Open replays the log.
func (db *DB) applyGroups(w *writer, groups []*logged, closing bool) bool {
	last := groups[len(groups)-1].lsn
	for attempt := 0; ; attempt++ {
		err := db.applyTx(w, last, func(w *writer) error {
			for _, g := range groups {
				for _, j := range g.jobs {
					w.coalesce(&j.enc)
				}
			}
			for _, g := range groups {
				for _, j := range g.jobs {
					if err := w.apply(&j.enc); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err == nil {
			break
		}
		db.log.Error("writing logged commits into the data file failed; they stay in the log", "error", err, "attempt", attempt+1)
		if closing {
			return false
		}
		time.Sleep(min(time.Duration(attempt+1)*100*time.Millisecond, 5*time.Second))
	}
	db.releaseMapped()
	db.ov.remove(groups, last)
	var size int64
	for _, g := range groups {
		size += int64(g.size)
		for _, j := range g.jobs {
			j.release()
		}
	}
	db.amu.Lock()
	db.appliedLSN = last
	db.unapplied.Add(-size)
	db.applied.Broadcast()
	db.amu.Unlock()
	db.dropSegments(last)
	return true
}

// applyTx runs fn in one bbolt write transaction that also records last as
// the applied lsn, and counts the transaction's fsyncs: two of bbolt's
// own (the pages, then the meta page) and one more when the file grew.
func (db *DB) applyTx(w *writer, last uint64, fn func(w *writer) error) error {
	before := db.fileSize()
	err := db.bolt.Update(func(tx *bbolt.Tx) error {
		w.begin(tx)
		defer w.end()
		if err := fn(w); err != nil {
			return err
		}
		if err := w.putHistory(); err != nil {
			return err
		}
		hit(FaultApplied)
		var v [8]byte
		binary.BigEndian.PutUint64(v[:], last)
		return w.bucket(bMeta).Put(appliedKey, v[:])
	})
	if db.fileSize() > before {
		db.syncs.Add(1)
	}
	if err != nil {
		return err
	}
	if !db.noSync {
		db.syncs.Add(2)
	}
	db.applies.Add(1)
	hit(FaultCommitted)
	return nil
}

func (db *DB) fileSize() int64 {
	fi, err := os.Stat(db.path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// dropSegments recycles (spare.go) or deletes the full segments whose
// records bbolt holds, oldest first. A deletion that a crash undoes is
// harmless: a replay skips records at or below the applied lsn.
func (db *DB) dropSegments(applied uint64) {
	db.smu.Lock()
	var drop []segment
	keep := db.full[:0]
	for _, s := range db.full {
		if s.last <= applied {
			drop = append(drop, s)
		} else {
			keep = append(keep, s)
		}
	}
	db.full = keep
	db.smu.Unlock()
	for _, s := range drop {
		if err := db.spares.recycle(s); err != nil {
			db.log.Warn("let go of an applied log segment", "path", s.path, "error", err)
		}
	}
}

// fullSegmentAwaited reports whether a full-size segment waits for the
// applier, which will recycle it as the spare.
func (db *DB) fullSegmentAwaited() bool {
	db.smu.Lock()
	defer db.smu.Unlock()
	for _, s := range db.full {
		if s.size >= segmentSize {
			return true
		}
	}
	return false
}

// caughtUp waits until bbolt holds every commit acknowledged so far, for
// the reads that do not look at the overlay. It asks the applier not to
// wait for its window.
func (db *DB) caughtUp() {
	target := db.committed.Load()
	db.amu.Lock()
	if db.appliedLSN >= target || db.applierGone {
		db.amu.Unlock()
		return
	}
	db.readers.Add(1)
	signal(db.applyNow)
	for db.appliedLSN < target && !db.applierGone {
		db.applied.Wait()
	}
	db.readers.Add(-1)
	db.amu.Unlock()
}

// readApplied reads the applied lsn and the pending events' sequence.
func readApplied(b *bbolt.DB) (applied, pendingSeq uint64, err error) {
	err = b.View(func(tx *bbolt.Tx) error {
		if v := bucket(tx, bMeta).Get(appliedKey); len(v) == 8 {
			applied = binary.BigEndian.Uint64(v)
		} else if v != nil {
			return fmt.Errorf("applied lsn is %d bytes, not 8", len(v))
		}
		pendingSeq = bucket(tx, bPending).Sequence()
		return nil
	})
	return applied, pendingSeq, err
}

// Flush waits until the data file holds every commit acknowledged before
// the call, so that a copy of the file taken next (a backup of a serving
// store) has them without the log.
func (db *DB) Flush() { db.caughtUp() }
