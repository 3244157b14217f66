package bolt

import (
	"fmt"
	"os"
)

// replayChunk bounds the log bytes one bbolt transaction of a replay
// applies, so that a long log does not become one huge transaction.
const replayChunk = 32 << 20

// replay applies the records that a crash left in the log and bbolt does
// not hold yet, deletes the log, and starts a new segment. Records at or
// below the applied lsn are skipped, so a crash during a replay only
// makes the next one do less. A torn record at the end of the last
// segment was never acknowledged (its fsync had not returned): it is cut
// off, never applied; so are the zeros or older records that follow the
// records of a segment made full-size before they were written.
func (db *DB) replay() error {
	applied, _, err := readApplied(db.bolt)
	if err != nil {
		return fmt.Errorf("data file %s: %w", db.path, err)
	}
	segs, err := listSegments(db.path)
	if err != nil {
		return err
	}
	var (
		w       writer
		pending []record
		size    int
	)
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		last := pending[len(pending)-1].lsn
		err := db.applyTx(&w, last, func(w *writer) error {
			var batches [][]encoded
			for _, r := range pending {
				b, err := decodeBody(r.body)
				if err != nil {
					return fmt.Errorf("log record %d: %w", r.lsn, err)
				}
				for i := range b {
					w.coalesce(&b[i])
				}
				batches = append(batches, b)
			}
			for _, b := range batches {
				for i := range b {
					if err := w.apply(&b[i]); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("replay the log of %s: %w", db.path, err)
		}
		hit(FaultReplayed)
		applied, pending, size = last, pending[:0], 0
		return nil
	}
	for i, s := range segs {
		rd, err := readSegment(s.path, s.first)
		if err != nil {
			return err
		}
		if err := checkSegmentEnd(&rd, segs, i, applied); err != nil {
			return err
		}
		if i == len(segs)-1 && rd.tail == tailTorn {
			db.log.Warn("the log ends in bytes that are no record of it: a record cut short by a crash, which was never acknowledged, "+
				"or what a recycled segment held before; they are dropped", "path", s.path, "offset", rd.end)
		}
		recs := rd.recs
		for _, r := range recs {
			if r.lsn <= applied {
				continue
			}
			if want := applied + uint64(len(pending)) + 1; r.lsn != want {
				return fmt.Errorf("%w: segment %s starts at record %d, but the data file holds records up to %d only",
					ErrDamagedLog, s.path, r.lsn, want-1)
			}
			pending = append(pending, r)
			size += len(r.body)
			if size >= replayChunk {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		// The records of this segment must be applied before the next
		// segment is read: they share its memory.
		if err := flush(); err != nil {
			return err
		}
	}
	for _, s := range segs {
		if err := os.Remove(s.path); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("delete applied log segment: %w", err)
		}
	}
	_, db.pendingSeq, err = readApplied(db.bolt)
	if err != nil {
		return err
	}
	db.appliedLSN = applied
	db.committed.Store(applied)
	db.nextLSN = applied + 1
	db.wal, err = createSegment(db.path, db.nextLSN, !db.noSync)
	if err != nil {
		return fmt.Errorf("data file %s: %w", db.path, err)
	}
	return nil
}

// checkSegmentEnd refuses the log (ErrDamagedLog) when the records of
// segment i of segs stop before the end of what was synced: a later
// segment follows it but does not start where its records stop, or a
// sound record past the point where they stop follows on from them.
// Records the data file holds (at or below applied) are not missed: a
// crash while applied segments were deleted may leave a gap below them.
func checkSegmentEnd(rd *segmentRead, segs []segment, i int, applied uint64) error {
	s := segs[i]
	last := rd.last(s.first)
	if i < len(segs)-1 {
		if next := segs[i+1].first; last+1 < next && next-1 > applied {
			return fmt.Errorf("%w: segment %s does not read past byte %d, and a later segment follows it "+
				"(its records stop at %d, the next segment starts at %d)", ErrDamagedLog, s.path, rd.end, last, next)
		}
		return nil
	}
	if rd.tail == tailTorn {
		if later := rd.laterRecord(last + 1); later > applied {
			return fmt.Errorf("%w: segment %s does not read past byte %d (record %d), but record %d follows later in it",
				ErrDamagedLog, s.path, rd.end, last+1, later)
		}
	}
	return nil
}
