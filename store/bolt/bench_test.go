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
