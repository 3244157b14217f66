package bolt

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/store"
	bbolt "go.etcd.io/bbolt"
)

// TestListEntriesWithoutVersion reads a listing index as files written
// before it held versions have it (status 0x00 workflow): version filters
// and counts fall back on the records.
func TestListEntriesWithoutVersion(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "orbit.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var b store.Batch
	for i, v := range []string{"v1", "v2", "v1"} {
		b.Instances = append(b.Instances, &store.Instance{Public: store.Public{
			ID: "i" + string(rune('a'+i)), Workflow: "wf", Version: v, Status: store.Running,
			StartedAt: start.Add(time.Duration(i) * time.Second)}})
	}
	if err := db.Commit(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	err = db.bolt.Update(func(tx *bbolt.Tx) error {
		list := bucket(tx, bList)
		var keys, vals [][]byte
		list.ForEach(func(k, v []byte) error {
			i := bytes.LastIndexByte(v, sep)
			keys, vals = append(keys, bytes.Clone(k)), append(vals, bytes.Clone(v[:i]))
			return nil
		})
		for i := range keys {
			if err := list.Put(keys[i], vals[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ins, _, err := db.List(store.Query{Version: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, in := range ins {
		got = append(got, in.ID)
	}
	if !slices.Equal(got, []string{"ic", "ia"}) {
		t.Errorf("version v1 lists %v, want [ic ia]", got)
	}
	tallies, err := db.Count(store.Query{})
	if err != nil {
		t.Fatal(err)
	}
	want := []store.Tally{{Workflow: "wf", Version: "v1", Status: store.Running, Count: 2},
		{Workflow: "wf", Version: "v2", Status: store.Running, Count: 1}}
	if !slices.Equal(tallies, want) {
		t.Errorf("count = %v, want %v", tallies, want)
	}
}

// TestCountSpansChunks counts more entries than one read transaction walks.
func TestCountSpansChunks(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "orbit.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	n := countChunk*2 + 7
	var b store.Batch
	for i := range n {
		st := store.Running
		if i%2 == 0 {
			st = store.Succeeded
		}
		b.Instances = append(b.Instances, &store.Instance{Public: store.Public{
			ID: "i" + strconv.Itoa(i), Workflow: "wf", Version: "v", Status: st, StartedAt: start.Add(time.Duration(i))}})
	}
	if err := db.Commit(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	got, err := db.Count(store.Query{})
	if err != nil {
		t.Fatal(err)
	}
	want := []store.Tally{{Workflow: "wf", Version: "v", Status: store.Running, Count: n / 2},
		{Workflow: "wf", Version: "v", Status: store.Succeeded, Count: n - n/2}}
	if !slices.Equal(got, want) {
		t.Errorf("count = %v, want %v", got, want)
	}
}

// BenchmarkCount counts 100,000 instances of 4 workflows, 2 versions and
// 3 statuses: what a console asks for every few seconds.
func BenchmarkCount(b *testing.B) {
	db, err := Open(filepath.Join(b.TempDir(), "orbit.db"), Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	statuses := []store.Status{store.Running, store.Waiting, store.Succeeded}
	const n = 100_000
	for i := 0; i < n; i += 1000 {
		var batch store.Batch
		for j := i; j < i+1000; j++ {
			batch.Instances = append(batch.Instances, &store.Instance{Public: store.Public{
				ID: "instance-" + strconv.Itoa(j), Workflow: "wf" + strconv.Itoa(j%4), Version: "v" + strconv.Itoa(j/10%2),
				Status: statuses[j%3], StartedAt: start.Add(time.Duration(j) * time.Millisecond)}})
		}
		if err := db.Commit(context.Background(), &batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		ts, err := db.Count(store.Query{})
		if err != nil || len(ts) != 24 {
			b.Fatalf("count: %v, %d tallies", err, len(ts))
		}
	}
}
