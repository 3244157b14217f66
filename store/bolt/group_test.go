package bolt

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/orbit-sidecar/orbit/store"
)

// TestGroupFailureIsolated feeds the committer a group in which one batch
// fails inside the transaction: only that batch fails.
func TestGroupFailureIsolated(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "orbit.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	huge := strings.Repeat("x", 40000) // over bbolt's key size limit
	var group []*job
	for _, id := range []string{"a", huge, "b"} {
		j := getJob()
		b := &store.Batch{Instances: []*store.Instance{{Public: store.Public{ID: id, Status: store.Running}}}}
		if err := j.enc.encode(b); err != nil {
			t.Fatal(err)
		}
		group = append(group, j)
	}
	before := db.Stats()
	var w writer
	db.write(&w, group)
	for i, j := range group {
		err := <-j.done
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
	if st := db.Stats(); st.Commits-before.Commits != 2 || st.Checkpoints-before.Checkpoints != 2 {
		t.Errorf("stats after one failed group: %+v (before %+v)", st, before)
	}
}
