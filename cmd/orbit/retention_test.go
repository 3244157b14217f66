package main

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/store"
	"github.com/orbit-sidecar/orbit/store/bolt"
)

func TestPurgeEndedKeepsRecentAndUnfinished(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "orbit.db"), bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	old, recent := now.Add(-48*time.Hour), now.Add(-time.Hour)
	inst := func(id string, status store.Status, ended *time.Time) *store.Instance {
		return &store.Instance{ID: id, Workflow: "w", Status: status, StartedAt: old, UpdatedAt: now, EndedAt: ended}
	}
	ctx := context.Background()
	if err := st.Commit(ctx, &store.Batch{Instances: []*store.Instance{
		inst("old", store.Succeeded, &old), inst("recent", store.Failed, &recent), inst("running", store.Running, nil),
	}}); err != nil {
		t.Fatal(err)
	}
	n, err := purgeEnded(ctx, st, now.Add(-24*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("purged %d, %v; want 1", n, err)
	}
	if _, err := st.Instance("old"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("old instance still there: %v", err)
	}
	for _, id := range []string{"recent", "running"} {
		if _, err := st.Instance(id); err != nil {
			t.Errorf("%s: %v", id, err)
		}
	}
}
