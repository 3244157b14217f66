package bolt

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/orbit-sidecar/orbit/store"
	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// ErrClosed is returned by writes after Close.
var ErrClosed = errors.New("store is closed")

// Options tune Open.
type Options struct {
	// NoSync skips fsync on commit. It loses data on a crash: for tests and
	// benchmarks only.
	NoSync bool
	// Logger receives the store's warnings; nil discards them.
	Logger *slog.Logger
	// InitEmpty lets Open make an existing data file of zero bytes a new,
	// empty store; without it such a file is refused with ErrEmptyFile. A
	// missing file is always created.
	InitEmpty bool
	// OnCommit, when set, is told of every group commit (one log record
	// and its fsync): how many instance checkpoints it carried and how long
	// it took, fsync included (metrics record both). It runs on the
	// committer's goroutine and must be quick.
	OnCommit func(checkpoints int, took time.Duration)
}

const (
	// lockTimeout bounds the wait for the file lock, so that a second
	// process fails with a clear message instead of hanging.
	lockTimeout = time.Second
	// initialMmapSize is reserved address space, not disk: it saves the
	// remaps (which wait for readers) while a young file grows.
	initialMmapSize = 256 << 20
	// queueSize is how many batches may wait for the committer.
	queueSize = 4096
)

// DB is a store.Store on one bbolt file and its write-ahead log.
type DB struct {
	bolt   *bbolt.DB
	log    *slog.Logger
	path   string
	noSync bool

	mu     sync.RWMutex // guards closed against sends on queue
	closed bool
	queue  chan *job
	done   chan struct{} // closed when the committer has exited

	// The committer's own: the segment it appends to, the next lsn, the
	// last sequence number given to a kept event, and its record buffer.
	wal        *logFile
	nextLSN    uint64
	pendingSeq uint64
	rec        []byte

	ov        *overlay
	committed atomic.Uint64 // lsn of the last record acknowledged
	unapplied atomic.Int64  // bytes logged and not yet applied
	readers   atomic.Int32  // reads waiting in caughtUp

	amu         sync.Mutex // guards toApply, appliedLSN, applierGone
	applied     *sync.Cond // on amu: appliedLSN moved or the applier left
	toApply     []*logged
	appliedLSN  uint64
	applierGone bool
	applyWork   chan struct{} // a group was logged
	applyNow    chan struct{} // someone waits: skip the window
	stopApply   chan struct{} // closed by Close once the committer is done
	applierDone chan struct{}

	smu    sync.Mutex // guards full
	full   []segment  // segments the committer has moved on from
	spares *spares    // keeps a full-size segment ready; nil with NoSync

	commits     atomic.Uint64
	checkpoints atomic.Uint64
	onCommit    func(int, time.Duration)
	syncs       atomic.Uint64
	logBytes    atomic.Uint64
	applies     atomic.Uint64
	views       atomic.Uint64 // read transactions, for view's release of mapped pages
}

var (
	_ store.Store       = (*DB)(nil)
	_ store.TimerRanger = (*DB)(nil)
)

// Open opens or creates the store at path, creating its directory. An
// existing file is checked first (CheckFile) and refused, untouched, when
// it is damaged or empty; opening a sound file with no log to replay
// writes nothing to it. Log segments left by a crash are applied, and then
// deleted.
func Open(path string, opt Options) (*DB, error) {
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create data directory for %s: %w", path, err)
	}
	if err := prepare(path, opt, log); err != nil {
		return nil, err
	}
	b, err := openBolt(path, opt)
	if err != nil {
		return nil, err
	}
	if err := ensureBuckets(b); err != nil {
		b.Close()
		if errors.Is(err, ErrDamagedFile) {
			return nil, err
		}
		return nil, fmt.Errorf("prepare data file %s: %w", path, err)
	}
	db := &DB{
		bolt:        b,
		log:         log,
		path:        path,
		noSync:      opt.NoSync,
		onCommit:    opt.OnCommit,
		queue:       make(chan *job, queueSize),
		done:        make(chan struct{}),
		ov:          newOverlay(),
		applyWork:   make(chan struct{}, 1),
		applyNow:    make(chan struct{}, 1),
		stopApply:   make(chan struct{}),
		applierDone: make(chan struct{}),
	}
	db.applied = sync.NewCond(&db.amu)
	// A spare that a crash left may hold records of this store's log that
	// are older than any to come, or may be half filled: it goes.
	if err := os.Remove(sparePath(path)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		b.Close()
		return nil, fmt.Errorf("delete the spare log segment of %s: %w", path, err)
	}
	if err := db.replay(); err != nil {
		b.Close()
		return nil, err
	}
	// The replay wrote pages, and an old file's first open walked them all
	// to rebuild its free list: none of that needs to stay resident.
	db.releaseMapped()
	if !opt.NoSync {
		// Without fdatasync a growing file costs nothing more, and tests
		// open many stores: spares are for the synced log only.
		db.spares = newSpares(path, log, &db.syncs, db.fullSegmentAwaited)
	}
	go db.run()
	go db.applier()
	return db, nil
}

// prepare makes path fit for bbolt: it creates a missing store, and
// refuses a file that is damaged, or empty without opt.InitEmpty.
func prepare(path string, opt Options, log *slog.Logger) error {
	rep, err := CheckFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return create(path, opt)
	case errors.Is(err, ErrEmptyFile) && opt.InitEmpty:
		log.Warn("the data file is empty; it becomes a new, empty store as asked", "path", path)
		return nil
	case errors.Is(err, ErrEmptyFile):
		return fmt.Errorf("%w, so it holds no instances, though a store was kept there: restore it from a backup, "+
			"or have it initialised as a new, empty store on purpose", err)
	case errors.Is(err, ErrDamagedFile):
		return fmt.Errorf("%w. Nothing was written to it. Restore it from a backup, "+
			"or move it aside to start with an empty store", err)
	case err != nil:
		return fmt.Errorf("check data file %s: %w", path, err)
	}
	for _, w := range rep.Warnings {
		log.Warn("data file "+path+": "+w, "path", path)
	}
	return nil
}

// create makes a new store at path as a whole: it is built under another
// name and linked into place, so that a crash never leaves an empty or
// half-made file at path, which the next start would refuse.
func create(path string, opt Options) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".new-*")
	if err != nil {
		return fmt.Errorf("create data file %s: %w", path, err)
	}
	name := tmp.Name()
	tmp.Close()
	defer os.Remove(name)
	b, err := openBolt(name, opt)
	if err != nil {
		return err
	}
	err = ensureBuckets(b)
	if cerr := b.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("create data file %s: %w", path, err)
	}
	// A link never replaces a file that another process created meanwhile;
	// theirs is as new as this one.
	if err := os.Link(name, path); err != nil && !errors.Is(err, fs.ErrExist) {
		if err := os.Rename(name, path); err != nil { // a file system without links
			return fmt.Errorf("create data file %s: %w", path, err)
		}
	}
	if opt.NoSync {
		return nil
	}
	return syncDir(dir)
}

// syncDir makes a new directory entry durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

func openBolt(path string, opt Options) (*bbolt.DB, error) {
	return openBoltWith(path, boltOptions(opt))
}

// boltOptions are the options every Orbit data file is opened with.
func boltOptions(opt Options) *bbolt.Options {
	return &bbolt.Options{
		Timeout: lockTimeout,
		NoSync:  opt.NoSync,
		// The freelist is written with every commit, so that open reads it
		// instead of walking every page of the file to rebuild it: the
		// data-file check already makes that walk, and at a million parked
		// instances each walk costs seconds. A file written without it
		// (NoFreelistSync, as older Orbit versions did) is walked once, at its first
		// open, and gets its freelist written then.
		NoFreelistSync:  false,
		FreelistType:    bbolt.FreelistMapType,
		InitialMmapSize: initialMmapSize,
		NoStatistics:    true, // nothing reads bbolt's counters; each cursor and page write updated them atomically
	}
}

func openBoltWith(path string, o *bbolt.Options) (*bbolt.DB, error) {
	b, err := bbolt.Open(path, 0o600, o)
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("data file %s is in use by another process", path)
	}
	if err != nil {
		return nil, fmt.Errorf("open data file %s: %w", path, err)
	}
	return b, nil
}

// ensureBuckets creates the buckets a file lacks (a new file, or one from
// a version with fewer), writing nothing when it has them all.
func ensureBuckets(b *bbolt.DB) error {
	complete := true
	var notBucket []byte
	b.View(func(tx *bbolt.Tx) error {
		c := tx.Cursor()
		for _, name := range bucketNames {
			if tx.Bucket(name) != nil {
				continue
			}
			complete = false
			if k, v := c.Seek(name); bytes.Equal(k, name) && v != nil {
				notBucket = name
			}
		}
		return nil
	})
	if notBucket != nil {
		// A damaged page can turn a bucket's entry into a plain value,
		// which the file check cannot tell from a real one.
		return &FileError{Path: b.Path(), Problem: fmt.Sprintf("the top-level entry %q holds a value where Orbit keeps a bucket", notBucket)}
	}
	if complete {
		return nil
	}
	return b.Update(func(tx *bbolt.Tx) error {
		for _, name := range bucketNames {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		return nil
	})
}

// Path is the data file's path.
func (db *DB) Path() string { return db.bolt.Path() }

// Stats reports the group commits (log records, KV puts included), the
// checkpoints (batches) they carried, and what the store asked of the
// disk: fsyncs (of the log, of its directory when a segment starts, and
// bbolt's own), bytes appended to the log, and bbolt transactions.
func (db *DB) Stats() store.Stats {
	return store.Stats{Commits: db.commits.Load(), Checkpoints: db.checkpoints.Load(), Syncs: db.syncs.Load(),
		LogBytes: db.logBytes.Load(), Applies: db.applies.Load()}
}

// Close writes every batch already handed to Commit into bbolt, deletes
// the log, then closes the file. Closing twice is harmless.
func (db *DB) Close() error {
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return nil
	}
	db.closed = true
	close(db.queue)
	db.mu.Unlock()
	<-db.done
	close(db.stopApply)
	<-db.applierDone
	db.spares.close()
	db.amu.Lock()
	clean := len(db.toApply) == 0 && db.appliedLSN == db.committed.Load()
	db.amu.Unlock()
	var errs []error
	if err := db.wal.close(); err != nil {
		errs = append(errs, fmt.Errorf("close log segment: %w", err))
	}
	if clean {
		// bbolt holds everything durably (or, with NoSync, as durably as
		// asked): the log is no longer needed.
		db.smu.Lock()
		db.full = append(db.full, db.wal.seg)
		db.smu.Unlock()
		db.dropSegments(db.appliedLSN)
	}
	if err := db.bolt.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close data file %s: %w", db.bolt.Path(), err))
	}
	return errors.Join(errs...)
}
