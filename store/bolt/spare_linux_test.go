package bolt

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// smallDisk mounts a file system of size bytes (tmpfs) on a new directory
// and returns it; the test is skipped where mounting is not permitted.
func smallDisk(t *testing.T, size int64) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d", size)); err != nil {
		t.Skipf("cannot mount a small file system here: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// TestNoSpareFillsANearlyFullDisk runs a store on a file system with room
// for less than two segments: the keeper makes no spare there (it would
// take the room the log's own appends need, and fail), and the commits,
// which fit, all succeed in a segment that grows.
func TestNoSpareFillsANearlyFullDisk(t *testing.T) {
	smallSegments(t)
	dir := smallDisk(t, 4<<20)
	path := filepath.Join(dir, "orbit.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// What is left free: a segment and a half.
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	ballast := int64(st.Bavail)*st.Bsize - testSegmentSize*3/2
	if err := os.WriteFile(filepath.Join(dir, "ballast"), make([]byte, ballast), 0o600); err != nil {
		t.Fatal(err)
	}
	count := countFaults(t, nil)
	// About 27 KiB of records: past the size at which the keeper is asked
	// for a spare, short of a rotation.
	for i := range 60 {
		if err := db.Commit(context.Background(), namedBatch(fmt.Sprintf("i-%d", i))); err != nil {
			t.Fatalf("commit %d: %v", i, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if n := count(FaultSpareFilling); n != 0 {
		t.Errorf("the keeper filled %d spares on a disk with room for less than two segments", n)
	}
}
