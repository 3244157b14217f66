package bolt_test

import (
	"path/filepath"
	"testing"

	"github.com/orbit-sidecar/orbit/store/bolt"
	"github.com/orbit-sidecar/orbit/store/storetest"
)

func openBench(b *testing.B) *bolt.DB {
	db, err := bolt.Open(filepath.Join(b.TempDir(), "orbit.db"), bolt.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

// BenchmarkCheckpoint is one writer committing with fsync: the latency of
// a lone checkpoint.
func BenchmarkCheckpoint(b *testing.B) { storetest.BenchCheckpoint(b, openBench(b)) }

// BenchmarkCheckpointParallel is 64 writers at once: group commit shares
// each fsync among them.
func BenchmarkCheckpointParallel(b *testing.B) { storetest.BenchCheckpointParallel(b, openBench(b)) }

// BenchmarkOpen measures opening a store of 20,000 instances: the check of
// the file alone, and the whole open (check, then bbolt's own walk).
func BenchmarkOpen(b *testing.B) {
	path := seedFile(b, 20000)
	b.Run("CheckFile", func(b *testing.B) {
		for b.Loop() {
			if _, err := bolt.CheckFile(path); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Open", func(b *testing.B) {
		for b.Loop() {
			db, err := bolt.Open(path, bolt.Options{})
			if err != nil {
				b.Fatal(err)
			}
			db.Close()
		}
	})
}
