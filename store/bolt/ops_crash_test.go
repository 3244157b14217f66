package bolt

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/store"
)

// TestOperationsOnACrashedStore runs the file operations on a store that a
// crash left with write-ahead log segments holding acknowledged commits:
// verify checks the file and says the log is there, an offline backup
// refuses a copy that would miss them, and a restore over it deletes the
// replaced store's log, which would otherwise be replayed onto the backup.
func TestOperationsOnACrashedStore(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	path, _, _ := crashedLog(t, growing)

	rep, err := Verify(path)
	if err != nil {
		t.Fatalf("verify of a crashed store's data file: %v", err)
	}
	if w := strings.Join(rep.File.Warnings, "\n"); !strings.Contains(w, "write-ahead log holds commits") {
		t.Errorf("verify's warnings do not tell of the log: %q", w)
	}
	if _, err := Backup(path, filepath.Join(t.TempDir(), "copy.db")); !errors.Is(err, ErrPendingLog) ||
		!strings.Contains(err.Error(), "start Orbit on it once") {
		t.Errorf("offline backup of a crashed store: %v, want ErrPendingLog", err)
	}

	// A sound backup of another store.
	backup := filepath.Join(t.TempDir(), "backup.db")
	db, err := Open(backup, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	kept := &store.Instance{Public: store.Public{ID: "from-backup", Workflow: "wf", Status: store.Waiting, StartedAt: time.Now()}}
	if err := db.Commit(context.Background(), &store.Batch{Instances: []*store.Instance{kept}}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Restore(backup, path, false); !errors.Is(err, ErrExists) {
		t.Fatalf("restore over a crashed store without overwrite: %v", err)
	}
	if segs, _ := LogSegments(path); len(segs) == 0 {
		t.Fatal("a refused restore deleted the log")
	}
	if _, err := Restore(backup, path, true); err != nil {
		t.Fatal(err)
	}
	if segs, _ := LogSegments(path); len(segs) != 0 {
		t.Fatalf("the replaced store's log is left: %v", segs)
	}
	db, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	all, _, err := db.List(store.Query{Limit: 1000})
	if err != nil || len(all) != 1 || all[0].ID != "from-backup" {
		t.Fatalf("the restored store holds %d instances (%v); want the backup's one alone", len(all), err)
	}
}
