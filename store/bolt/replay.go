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
// off, never applied.
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
		recs, end, torn, err := readSegment(s.path, s.first)
		if err != nil {
			return err
		}
		if torn && i < len(segs)-1 {
			return fmt.Errorf("%w: segment %s does not read past byte %d, and a later segment follows it", ErrDamagedLog, s.path, end)
		}
		if torn {
			db.log.Warn("the log ends in a record cut short by a crash; it was never acknowledged and is dropped",
				"path", s.path, "offset", end)
		}
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
