package bolt

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/orbit-sidecar/orbit/internal/smaps"
	"github.com/orbit-sidecar/orbit/store"
	bbolt "go.etcd.io/bbolt"
)

// TestAppliedPagesAreNotKeptMapped fills a store and reads all of it
// through bbolt's map, then commits once more: once the applier has
// written that commit, the data file's pages are no longer part of the
// process's resident set (they stay in the page cache).
func TestAppliedPagesAreNotKeptMapped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "orbit.db")
	db, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	input := []byte(`"` + strings.Repeat("x", 4000) + `"`)
	for i := range 2000 {
		in := &store.Instance{Public: store.Public{ID: fmt.Sprintf("i-%05d", i), Status: store.Running, Input: input}}
		if err := db.Commit(context.Background(), &store.Batch{Instances: []*store.Instance{in}}); err != nil {
			t.Fatal(err)
		}
	}
	db.Flush()
	read := 0
	err = db.bolt.View(func(tx *bbolt.Tx) error {
		return bucket(tx, bInstances).ForEach(func(_, v []byte) error {
			read += len(v)
			return nil
		})
	})
	if err != nil || read < 6<<20 {
		t.Fatalf("read %d bytes of records: %v", read, err)
	}
	if kb := mappedKB(t, path); kb < 6<<10 {
		t.Fatalf("after reading every record %d KiB of the file is mapped, want the 6 MiB or more read", kb)
	}
	if err := db.Commit(context.Background(), &store.Batch{Instances: []*store.Instance{running("last")}}); err != nil {
		t.Fatal(err)
	}
	db.Flush()
	if kb := mappedKB(t, path); kb > 1<<10 {
		t.Errorf("after the applier's next transaction %d KiB of the file stay mapped, want under 1 MiB", kb)
	}
}

func running(id string) *store.Instance {
	return &store.Instance{Public: store.Public{ID: id, Status: store.Running}}
}

// mappedKB is the resident size of the process's mappings of path.
func mappedKB(t *testing.T, path string) int {
	t.Helper()
	maps, err := smaps.Self()
	if err != nil {
		t.Skip("no /proc/self/smaps:", err)
	}
	return smaps.ResidentKB(maps, func(m *smaps.Mapping) bool { return m.Path == path })
}

// TestReadPagesAreNotKeptMapped reopens a filled store and reads every
// record through Instance, with no write to make the applier run: neither
// the open (bbolt walks every page to rebuild its free list) nor the reads
// leave more than a few pages of the file resident.
func TestReadPagesAreNotKeptMapped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "orbit.db")
	db, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	input := []byte(`"` + strings.Repeat("x", 4000) + `"`)
	const n = 6144 // 48 MiB of records, many times releaseEvery
	batch := &store.Batch{}
	for i := range n {
		batch.Instances = append(batch.Instances, &store.Instance{Public: store.Public{ID: fmt.Sprintf("i-%05d", i), Status: store.Waiting, Input: input}})
		if len(batch.Instances) == 100 || i == n-1 {
			if err := db.Commit(context.Background(), batch); err != nil {
				t.Fatal(err)
			}
			batch = &store.Batch{}
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if kb := mappedKB(t, path); kb > 1<<10 {
		t.Errorf("after the open %d KiB of the file stay mapped, want under 1 MiB", kb)
	}
	most := 0
	for i := range n {
		if _, err := db.Instance(fmt.Sprintf("i-%05d", i)); err != nil {
			t.Fatal(err)
		}
		if i%100 == 0 {
			most = max(most, mappedKB(t, path))
		}
	}
	// A record of 4 KB takes two pages, and a fault maps the cached pages
	// around it too (64 KiB): releaseEvery reads map at most a few MiB
	// before the next release.
	if limit := 16 << 10; most > limit {
		t.Errorf("while reading %d records up to %d KiB of the file were mapped, want at most %d KiB", n, most, limit)
	}
	n2 := 0
	if err := db.Unfinished(func(string, store.Status) error { n2++; return nil }); err != nil || n2 != n {
		t.Fatalf("unfinished: %d, %v", n2, err)
	}
	if kb := mappedKB(t, path); kb > 1<<10 {
		t.Errorf("after a scan %d KiB of the file stay mapped, want under 1 MiB", kb)
	}
}
