// Package storetest is the conformance suite that every store.Store backend
// passes, so that the engine can rely on one behaviour whatever the backend.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/store"
)

// Opener opens the store kept at path. The suite picks paths under
// t.TempDir() and opens the same path again after Close to check that data
// survives; the suite closes every store it opens.
type Opener func(t *testing.T, path string) store.Store

// Run runs the conformance suite against the backend that open creates.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"InstanceRoundTrip", testInstanceRoundTrip},
		{"NotFound", testNotFound},
		{"UnfinishedFollowsStatus", testUnfinished},
		{"ListOrder", testListOrder},
		{"ListFilters", testListFilters},
		{"ListFollowsUpdates", testListFollowsUpdates},
		{"Count", testCount},
		{"History", testHistory},
		{"Timers", testTimers},
		{"TimersOutsideNanoseconds", testTimersOutsideNanoseconds},
		{"Pending", testPending},
		{"Bundles", testBundles},
		{"KV", testKV},
		{"Purge", testPurge},
		{"Ended", testEnded},
		{"EndedCallbackCommits", testEndedCallbackCommits},
		{"ConcurrentCommits", testConcurrentCommits},
		{"BatchReuse", testBatchReuse},
		{"EmptyBatch", testEmptyBatch},
		{"Dump", testDump},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, openAt(t, open, filepath.Join(t.TempDir(), "orbit.db")))
		})
	}
	t.Run("Reopen", func(t *testing.T) {
		t.Parallel()
		testReopen(t, open)
	})
}

// openAt opens a store and closes it when the test ends.
func openAt(t *testing.T, open Opener, path string) store.Store {
	t.Helper()
	s := open(t, path)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

// base is a fixed, UTC time so that records compare exactly after a round
// trip through any encoding.
var base = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)

func at(sec int) time.Time { return base.Add(time.Duration(sec) * time.Second) }

func newInstance(id, workflow string, status store.Status, start time.Time) *store.Instance {
	in := &store.Instance{
		Public: store.Public{
			ID:        id,
			Workflow:  workflow,
			Version:   "v1",
			Status:    status,
			State:     "Start",
			Input:     json.RawMessage(`{"order":{"id":"` + id + `"}}`),
			StartedAt: start,
			UpdatedAt: start,
		},
		Bundle: "bundle-1",
	}
	if status.Terminal() {
		end := start.Add(time.Second)
		in.EndedAt = &end
		in.UpdatedAt = end
	}
	return in
}

func commit(t *testing.T, s store.Store, b *store.Batch) {
	t.Helper()
	if err := s.Commit(context.Background(), b); err != nil {
		t.Fatalf("commit: %v", err)
	}
}

func upsert(t *testing.T, s store.Store, ins ...*store.Instance) {
	t.Helper()
	commit(t, s, &store.Batch{Instances: ins})
}

func mustInstance(t *testing.T, s store.Store, id string) *store.Instance {
	t.Helper()
	in, err := s.Instance(id)
	if err != nil {
		t.Fatalf("instance %s: %v", id, err)
	}
	return in
}

// sameJSON compares two values by their JSON, the shape the store keeps.
func sameJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	g, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	w, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if string(g) != string(w) {
		t.Errorf("%s:\n got %s\nwant %s", what, g, w)
	}
}

func isNotFound(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("%s: got error %v, want store.ErrNotFound", what, err)
	}
}
