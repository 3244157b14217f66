package bolt

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/orbit-sidecar/orbit/store"
	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// The operations on a whole data file (backup, compact, restore) share one
// rule: a file only ever appears at its final name complete and synced. It
// is written under a temporary name in the same directory, checked, synced
// and renamed into place, so that a crash at any moment leaves either the
// old file or the new one there, never a part of one; a leftover temporary
// file (NAME.backup-*, NAME.compact-*, NAME.restore-*) is all a crash
// costs, and it may be deleted.

// ErrExists is returned when an operation would replace a file it was not
// told to replace.
var ErrExists = errors.New("file exists")

// ErrPendingLog is returned when a data file is not the whole store: a
// crash left write-ahead log segments beside it, holding acknowledged
// commits that the file does not yet, which the next Open applies.
var ErrPendingLog = errors.New("its write-ahead log holds commits the data file does not")

// pendingLog returns ErrPendingLog, naming the segments, when the data
// file at path has any beside it.
func pendingLog(path string) error {
	segs, err := LogSegments(path)
	if err != nil {
		return err
	}
	if len(segs) == 0 {
		return nil
	}
	return fmt.Errorf("data file %s: %w (%d log segments from %s, left by a crash); "+
		"start Orbit on it once, which applies them, and stop it", path, ErrPendingLog, len(segs), segs[0])
}

// snapshot is a read transaction: bbolt's copy of the file as of its
// start, which writers do not disturb.
type snapshot struct{ tx *bbolt.Tx }

func (s snapshot) WriteTo(w io.Writer) (int64, error) { return s.tx.WriteTo(w) }
func (s snapshot) Size() int64                        { return s.tx.Size() }
func (s snapshot) Close() error                       { return s.tx.Rollback() }

var _ store.Snapshotter = (*DB)(nil)

// Snapshot takes a consistent copy of the open store, holding every commit
// acknowledged before the call: it waits until the data file holds what
// the write-ahead log does (Flush), then begins a read transaction that
// commits go on beside. While it is open the file cannot be remapped to
// grow, so a commit that needs more room than the mapping waits for it to
// close; keep it short.
func (db *DB) Snapshot() (store.Snapshot, error) {
	target := db.committed.Load()
	db.Flush()
	db.amu.Lock()
	applied := db.appliedLSN
	db.amu.Unlock()
	if applied < target {
		// The applier stopped (the store is closing, or bbolt failed):
		// the data file lacks acknowledged commits that only the log holds.
		return nil, fmt.Errorf("snapshot of %s: the data file does not hold every acknowledged commit (log record %d applied of %d); the store is closing or cannot write",
			db.bolt.Path(), applied, target)
	}
	tx, err := db.bolt.Begin(false)
	if err != nil {
		return nil, fmt.Errorf("snapshot of %s: %w", db.bolt.Path(), err)
	}
	return snapshot{tx}, nil
}

// openReadOnly opens a data file that no process serves, after checking
// its pages, holding a shared lock so that none starts meanwhile.
func openReadOnly(path string) (*bbolt.DB, error) {
	if _, err := CheckFile(path); err != nil {
		return nil, err
	}
	b, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: lockTimeout})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("data file %s is in use by another process", path)
	}
	if err != nil {
		return nil, fmt.Errorf("open data file %s: %w", path, err)
	}
	return b, nil
}

// Backup copies the data file at path, which no process may be serving,
// to out, which must not exist, and verifies the copy. A copy that fails
// Verify is kept (a damaged store's backup is still worth having) and the
// failure returned with its report nil. A data file with log segments
// beside it is refused (ErrPendingLog): a copy of it alone would miss
// acknowledged commits.
func Backup(path, out string) (*VerifyReport, error) {
	b, err := openReadOnly(path)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	// Looked for under the lock: a serving store always has a log.
	if err := pendingLog(path); err != nil {
		return nil, err
	}
	return WriteFile(out, false, func(w io.Writer) error {
		return b.View(func(tx *bbolt.Tx) error {
			_, err := tx.WriteTo(w)
			return err
		})
	})
}

// WriteFile writes a data file at path through write: under a temporary
// name beside it, synced, verified and renamed into place. An existing
// file at path is replaced only when replace is set. A file that fails
// Verify is still put in place, and the failure returned; an error of
// write or of the disk leaves nothing at path.
func WriteFile(path string, replace bool, write func(io.Writer) error) (*VerifyReport, error) {
	return writeFile(path, replace, write, nil)
}

// writeFile is WriteFile, calling place (when set) once the new file is
// written and verified, just before it is put in place; an error of place
// leaves nothing at path.
func writeFile(path string, replace bool, write func(io.Writer) error, place func() error) (*VerifyReport, error) {
	if !replace {
		if _, err := os.Lstat(path); err == nil {
			return nil, fmt.Errorf("%s: %w; choose another name or remove it first", path, ErrExists)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".write-*")
	if err != nil {
		return nil, err
	}
	name := tmp.Name()
	defer os.Remove(name) // a no-op once renamed
	err = write(tmp)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(name, 0o600); err != nil {
		return nil, err
	}
	rep, verr := Verify(name)
	if verr != nil {
		verr = fmt.Errorf("the copy written to %s fails verify: %w", path, relabel(verr, name, path))
	}
	if place != nil {
		if err := place(); err != nil {
			return nil, err
		}
	}
	if !replace {
		// A link, unlike a rename, never replaces a file that appeared
		// meanwhile.
		if err := os.Link(name, path); err != nil {
			return nil, fmt.Errorf("write %s: %w", path, err)
		}
	} else if err := os.Rename(name, path); err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	if err := syncDir(dir); err != nil {
		return nil, err
	}
	return rep, verr
}

// relabel names path instead of tmp in a *FileError from a check of the
// temporary file.
func relabel(err error, tmp, path string) error {
	var fe *FileError
	if errors.As(err, &fe) && fe.Path == tmp {
		return &FileError{Path: path, Problem: fe.Problem}
	}
	return err
}

// Compact rewrites the data file at path without the free pages that
// purges leave, and returns its size before and after. The file must
// verify first and may not be in use; its exclusive lock is held
// throughout, so no Orbit starts on it meanwhile. The compacted copy is
// written beside it, verified, and renamed over it: a crash at any point
// leaves the old file or the new one.
func Compact(path string) (before, after int64, err error) {
	if _, err := Verify(path); err != nil {
		return 0, 0, fmt.Errorf("%w; compact only a store that verifies (restore a backup first)", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return 0, 0, err
	}
	// The exclusive lock, taken as serve takes it: bbolt opens a sound file
	// without writing to it.
	src, err := openBolt(path, Options{})
	if err != nil {
		return 0, 0, err
	}
	defer src.Close()
	rep, err := WriteFile(path, true, func(w io.Writer) error {
		f := w.(*os.File)
		// Synced once, by WriteFile; and without the reserved mapping,
		// which would make bbolt grow the file in 16 MiB steps.
		o := boltOptions(Options{NoSync: true})
		o.InitialMmapSize = 0
		dst, err := openBoltWith(f.Name(), o)
		if err != nil {
			return err
		}
		if err := bbolt.Compact(dst, src, 64<<20); err != nil {
			dst.Close()
			return fmt.Errorf("compact: %w", err)
		}
		return dst.Close()
	})
	if err != nil {
		return 0, 0, err
	}
	return fi.Size(), rep.File.Size, nil
}

// Restore puts the backup at in in place as the data file at path. The
// backup must pass Verify; an existing file at path is replaced only with
// overwrite, and never while a process has it open as its store. The
// write-ahead log segments of the store it replaces are deleted just
// before the backup takes its place: replayed onto the backup, they would
// mix the old store's last commits into it.
func Restore(in, path string, overwrite bool) (*VerifyReport, error) {
	if _, err := Verify(in); err != nil {
		return nil, fmt.Errorf("the backup %s fails verify, so it was not restored: %w", in, err)
	}
	if err := pendingLog(in); err != nil {
		return nil, fmt.Errorf("the backup %s is not whole: %w", in, err)
	}
	oldLog, err := LogSegments(path)
	if err != nil {
		return nil, err
	}
	if len(oldLog) > 0 && !overwrite {
		return nil, fmt.Errorf("%s: the write-ahead log of a store lies beside it (%s): %w: it may be a live store; replace it only on purpose (--force)",
			path, oldLog[0], ErrExists)
	}
	if _, err := os.Lstat(path); err == nil {
		if !overwrite {
			return nil, fmt.Errorf("%s: %w: it may be a live store; replace it only on purpose (--force)", path, ErrExists)
		}
		unlock, err := lockExclusive(path)
		if err != nil {
			return nil, fmt.Errorf("%w: stop the Orbit serving it first", err)
		}
		defer unlock()
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	src, err := os.Open(in)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	return writeFile(path, overwrite, func(w io.Writer) error {
		_, err := io.Copy(w, src)
		return err
	}, func() error {
		for _, seg := range oldLog {
			if err := os.Remove(seg); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("remove the replaced store's log segment: %w", err)
			}
		}
		return nil
	})
}
