package bolt

import (
	"errors"
	"fmt"
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

// DB is a store.Store on one bbolt file.
type DB struct {
	bolt *bbolt.DB
	log  *slog.Logger

	mu     sync.RWMutex // guards closed against sends on queue
	closed bool
	queue  chan *job
	done   chan struct{} // closed when the committer has exited

	commits     atomic.Uint64
	checkpoints atomic.Uint64
}

var _ store.Store = (*DB)(nil)

// Open opens or creates the store at path, creating its directory.
func Open(path string, opt Options) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create data directory for %s: %w", path, err)
	}
	b, err := bbolt.Open(path, 0o600, &bbolt.Options{
		Timeout:         lockTimeout,
		NoSync:          opt.NoSync,
		NoFreelistSync:  true, // the freelist is rebuilt on open instead of written on every commit
		FreelistType:    bbolt.FreelistMapType,
		InitialMmapSize: initialMmapSize,
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("data file %s is in use by another process", path)
	}
	if err != nil {
		return nil, fmt.Errorf("open data file %s: %w", path, err)
	}
	err = b.Update(func(tx *bbolt.Tx) error {
		for _, name := range bucketNames {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		return nil
	})
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("prepare data file %s: %w", path, err)
	}
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	db := &DB{
		bolt:  b,
		log:   log,
		queue: make(chan *job, queueSize),
		done:  make(chan struct{}),
	}
	go db.run()
	return db, nil
}

// Path is the data file's path.
func (db *DB) Path() string { return db.bolt.Path() }

// Stats reports how many write transactions (KV puts included) carried how
// many checkpoints (batches).
func (db *DB) Stats() store.Stats {
	return store.Stats{Commits: db.commits.Load(), Checkpoints: db.checkpoints.Load()}
}

// Close writes every batch already handed to Commit, then closes the file.
// Closing twice is harmless.
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
	if err := db.bolt.Close(); err != nil {
		return fmt.Errorf("close data file %s: %w", db.bolt.Path(), err)
	}
	return nil
}
