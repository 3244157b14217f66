package bolt

import (
	"context"
	"errors"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/orbit-sidecar/orbit/store"
	bbolt "go.etcd.io/bbolt"
)

// TestOverLongKeyRefusedBeforeTheLog commits, among good batches, one whose
// id bbolt would refuse as a key: it fails in Commit, before the log
// acknowledges it (a logged batch that bbolt refused would be lost), and
// no other batch fails with it.
func TestOverLongKeyRefusedBeforeTheLog(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "orbit.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	huge := strings.Repeat("x", 40000) // over bbolt's key size limit
	ids := []string{"a", huge, "b"}
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			errs[i] = db.Commit(context.Background(), &store.Batch{Instances: []*store.Instance{{Public: store.Public{ID: id, Status: store.Running}}}})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if (i == 1) != (err != nil) {
			t.Errorf("batch %d: %v", i, err)
		}
	}
	for _, id := range []string{"a", "b"} {
		if _, err := db.Instance(id); err != nil {
			t.Errorf("%s: %v", id, err)
		}
	}
	if _, err := db.Instance(huge); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("failed batch left a record: %v", err)
	}
	if st := db.Stats(); st.Checkpoints != 2 {
		t.Errorf("stats: %+v, want 2 checkpoints", st)
	}
}

// TestFlushPutsAcknowledgedCommitsInTheDataFile commits and flushes: a
// read of the data file alone, past the overlay, finds the commit.
func TestFlushPutsAcknowledgedCommitsInTheDataFile(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "orbit.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Commit(context.Background(), &store.Batch{Instances: []*store.Instance{{Public: store.Public{ID: "a", Status: store.Running}}}}); err != nil {
		t.Fatal(err)
	}
	db.Flush()
	err = db.bolt.View(func(tx *bbolt.Tx) error {
		_, err := loadInstance(bucket(tx, bInstances), "a")
		return err
	})
	if err != nil {
		t.Errorf("after Flush the data file lacks the commit: %v", err)
	}
}

// TestCommitsRacingCloseAreKeptOrRefused: callers log their own batches
// when the committer is idle and queue them when it is not; a Close
// among them lets every commit it has let in finish. Each commit is then
// either acknowledged and found after a reopen, or refused with ErrClosed.
func TestCommitsRacingCloseAreKeptOrRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "orbit.db")
	db, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 16, 40
	errs := make([][each]error, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				id := "w" + strconv.Itoa(w) + "-" + strconv.Itoa(i)
				errs[w][i] = db.Commit(context.Background(), &store.Batch{Instances: []*store.Instance{{Public: store.Public{ID: id, Status: store.Running}}}})
			}
		})
	}
	for db.Stats().Checkpoints < writers*each/4 { // let a part of them through first
		runtime.Gosched()
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	db, err = Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	kept := 0
	for w := range writers {
		for i, err := range errs[w] {
			id := "w" + strconv.Itoa(w) + "-" + strconv.Itoa(i)
			_, rerr := db.Instance(id)
			switch {
			case err == nil && rerr != nil:
				t.Errorf("%s was acknowledged but is not found: %v", id, rerr)
			case err == nil:
				kept++
			case !errors.Is(err, ErrClosed):
				t.Errorf("%s: %v, want ErrClosed", id, err)
			}
		}
	}
	if kept < writers*each/4 {
		t.Fatalf("%d commits kept, want at least %d", kept, writers*each/4)
	}
}

// TestHasBeforeAndAfterFlush: Has answers from the overlay while a commit
// is logged and not yet applied, and from the data file once it is, for
// a record and for a purge.
func TestHasBeforeAndAfterFlush(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "orbit.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	has := func(when string, want bool) {
		t.Helper()
		if held, err := db.Has("a"); err != nil || held != want {
			t.Errorf("%s: Has %v, %v; want %v", when, held, err, want)
		}
	}
	has("before the commit", false)
	if err := db.Commit(context.Background(), &store.Batch{Instances: []*store.Instance{{Public: store.Public{ID: "a", Status: store.Running}}}}); err != nil {
		t.Fatal(err)
	}
	has("once committed", true)
	db.Flush()
	has("once applied", true)
	if err := db.Commit(context.Background(), &store.Batch{Purge: []string{"a"}}); err != nil {
		t.Fatal(err)
	}
	has("once purged", false)
	db.Flush()
	has("once the purge is applied", false)
}
