package bolt

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
)

// Spare segments. An fdatasync of a file that grew must also commit the
// file's new size to the file system's journal; one that overwrites blocks
// already written need not (on ext4, a 6 KB record and its fdatasync took
// p50 0.49-0.74 ms into a growing file, 0.28-0.29 ms into a full-size,
// zero-filled one). So the committer appends to segments that are
// full-size before their first record: when it starts a segment, it
// renames the spare to the segment's name.
//
// The spare is kept by spares, under the name "<data file>.wal.spare"
// (which no listing of the log takes for a segment), and comes from one of
// two places:
//
//   - a segment the applier is done with, renamed (as PostgreSQL recycles
//     its WAL files): its blocks are written already, so the spare costs no
//     write at all. Once a store runs, this is where every spare comes
//     from: the applier lets go of a full segment within a window or two of
//     the committer moving on from it, long before the next one is full.
//   - a new file, zero-filled and synced by the keeper's goroutine, off the
//     commit path: only when no full segment is on its way to the applier
//     (after Open, or when the applier fell behind and a rotation found no
//     spare). Filling would write every byte of the log a second time and
//     compete with the commits' fdatasyncs for the disk.
//
// With no spare ready, a rotation creates a segment that grows as it is
// written, and the committer moves on to the spare as soon as one is
// ready. The first segment after Open is such a one: the keeper fills a
// spare only once it holds spareAfter bytes, so that a store that logs
// little (an idle sidecar, a test) writes no spare. Nor does it where the
// file system has room for less than two spares; a fill that fails
// anyway (a full disk) is not tried again until the committer starts
// another segment. A record larger than what is left of a segment extends the file;
// the segment is then full and the next record starts another.
//
// A recycled spare keeps its older records past what the new segment
// writes over them. They are never read as part of it: a segment's records
// end where they stop following on from its first lsn, and the older ones
// are lower, since lsns only grow in a store and a spare never outlives the
// process that made it (Open deletes one that a crash left, Close its own).
// spareAfter is how much a growing segment takes before the keeper is
// asked for a spare.
const spareAfter = 64 << 10

type spares struct {
	path    string // the spare's name
	size    int64  // of a zero-filled spare
	log     *slog.Logger
	syncs   *atomic.Uint64
	awaited func() bool // a full segment is on its way to the applier

	mu      sync.Mutex
	ready   *os.File // the spare, open for writing; nil while there is none
	filling bool     // the keeper is zero-filling a spare at path
	// failed is set when a fill failed, until the committer next starts a
	// segment: a full disk fails every fill, and each try would take the
	// room the log's own appends need until it fails.
	failed bool
	closed bool
	have   atomic.Bool   // ready != nil, for the committer's check after each record
	wake   chan struct{} // a spare may be needed; closed by close
	done   chan struct{} // closed when the keeper has exited
}

// sparePath is the name of the spare segment of the data file at data.
func sparePath(data string) string { return data + walSuffix + "spare" }

// newSpares starts a keeper of spares for the log of the data file at
// data, which has none (Open deleted one that a crash left). awaited
// reports whether the applier will hand over a full segment, so that the
// keeper need not fill one.
func newSpares(data string, log *slog.Logger, syncs *atomic.Uint64, awaited func() bool) *spares {
	s := &spares{path: sparePath(data), size: segmentSize, log: log, syncs: syncs, awaited: awaited,
		wake: make(chan struct{}, 1), done: make(chan struct{})}
	go s.keep()
	return s
}

// want tells the keeper that the spare may have been taken.
func (s *spares) want() {
	if s != nil {
		signal(s.wake)
	}
}

// haveSpare reports whether a spare is ready.
func (s *spares) haveSpare() bool { return s != nil && s.have.Load() }

// keep is the keeper's goroutine: each time a spare may be needed, it
// zero-fills one if there is none and none is on its way, and no fill
// failed in the current segment.
func (s *spares) keep() {
	defer close(s.done)
	for range s.wake {
		s.mu.Lock()
		fill := !s.closed && s.ready == nil && !s.failed && !s.awaited()
		s.filling = fill
		s.mu.Unlock()
		if !fill {
			continue
		}
		f, err := s.zeroFill()
		s.mu.Lock()
		s.filling = false
		s.failed = err != nil
		if err == nil && !s.closed {
			s.ready, f = f, nil
			s.have.Store(true)
		}
		s.mu.Unlock()
		if err != nil {
			s.log.Warn("cannot prepare a spare log segment; new segments grow as they are written", "error", err)
		}
		if f != nil || err != nil {
			if f != nil {
				f.Close()
			}
			os.Remove(s.path)
		}
	}
}

// zeroBlock is what the keeper fills spares with, one write at a time.
// It is one page: Linux may cache a file in folios as large as the writes
// that made them, and counts a whole folio as written (write_bytes) each
// time a record dirties part of it, though only the changed blocks reach
// the disk. A spare filled in 256 KiB writes made each group commit count
// about 256 KiB written.
var zeroBlock [4 << 10]byte

// zeroFill writes a spare of s.size zero bytes and syncs it, so that its
// blocks are allocated and written before a record is synced into it. It
// makes none on a file system with room for less than two spares: the log
// and the data file need what is left more than the commits need a spare.
func (s *spares) zeroFill() (*os.File, error) {
	if free, ok := freeSpace(filepath.Dir(s.path)); ok && free < 2*s.size {
		return nil, fmt.Errorf("%d bytes are free beside %s, fewer than twice a segment (%d)", free, s.path, s.size)
	}
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create spare log segment: %w", err)
	}
	for off := int64(0); off < s.size; {
		n := min(int64(len(zeroBlock)), s.size-off)
		if _, err := f.Write(zeroBlock[:n]); err != nil {
			f.Close()
			return nil, fmt.Errorf("fill spare log segment %s: %w", s.path, err)
		}
		if off < s.size/2 && off+n >= s.size/2 {
			hit(FaultSpareFilling)
		}
		off += n
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("sync spare log segment %s: %w", s.path, err)
	}
	s.syncs.Add(1)
	return f, nil
}

// recycle makes the segment at path, whose records the data file holds
// durably, the spare if there is none (and it is full-size), and deletes
// it otherwise. A crash after the rename leaves a spare, which the next
// Open deletes; one before it leaves the segment, whose records a replay
// skips.
func (s *spares) recycle(seg segment) error {
	if s != nil {
		s.mu.Lock()
		defer s.mu.Unlock()
	}
	if s == nil || s.closed || s.ready != nil || s.filling || seg.size < s.size {
		if err := os.Remove(seg.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("delete applied log segment: %w", err)
		}
		return nil
	}
	if err := os.Rename(seg.path, s.path); err != nil {
		os.Remove(seg.path)
		return fmt.Errorf("recycle applied log segment: %w", err)
	}
	hit(FaultSpareRecycled)
	f, err := os.OpenFile(s.path, os.O_WRONLY, 0)
	if err != nil {
		os.Remove(s.path)
		return fmt.Errorf("open recycled log segment: %w", err)
	}
	s.ready = f
	s.have.Store(true)
	return nil
}

// take renames the spare to path and returns it open for writing, or nil
// when there is none. The caller makes the new name durable. A fill that
// failed may be tried again from now on.
func (s *spares) take(path string) (*os.File, error) {
	if s == nil {
		return nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failed = false
	f := s.ready
	if f == nil {
		return nil, nil
	}
	s.ready = nil
	s.have.Store(false)
	if err := os.Rename(s.path, path); err != nil {
		f.Close()
		os.Remove(s.path)
		return nil, fmt.Errorf("rename the spare log segment to %s: %w", path, err)
	}
	return f, nil
}

// close stops the keeper and deletes the spare. The committer, the only
// caller of want besides newSpares, must have exited.
func (s *spares) close() {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.closed = true
	f := s.ready
	s.ready = nil
	s.have.Store(false)
	s.mu.Unlock()
	close(s.wake)
	<-s.done
	if f != nil {
		f.Close()
	}
	if err := os.Remove(s.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.log.Warn("delete the spare log segment", "path", s.path, "error", err)
	}
}
