package bolt

import (
	"context"
	"errors"
	"path/filepath"
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
