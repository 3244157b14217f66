package bolt_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/orbit-sidecar/orbit/store"
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

// BenchmarkVerify measures orbit verify on a stopped store of 10,000
// ended instances with ten chained history events each: the pages, every
// record and every chain.
func BenchmarkVerify(b *testing.B) {
	const instances, events = 10000, 10
	path := filepath.Join(b.TempDir(), "orbit.db")
	db, err := bolt.Open(path, bolt.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < instances; i += 500 {
		var batch store.Batch
		for j := i; j < i+500; j++ {
			in, evs := chained(fmt.Sprintf("order-%05d", j), events, 0, store.Succeeded)
			batch.Instances = append(batch.Instances, in)
			batch.Events = append(batch.Events, evs...)
		}
		if err := db.Commit(context.Background(), &batch); err != nil {
			b.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		rep, err := bolt.Verify(path)
		if err != nil || rep.Hashed != instances*events {
			b.Fatalf("verify: %+v, %v", rep, err)
		}
		b.ReportMetric(float64(rep.File.Size)/(1<<20), "MiB")
	}
}
