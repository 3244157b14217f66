package storetest

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/orbit-sidecar/orbit/store"
)

// Damager makes the stored record of instance id undecodable in the closed
// store at path, as a disk fault would; the store's indexes stay as they
// were.
type Damager func(t *testing.T, path, id string)

// RunDamaged checks what a backend that encodes its records does with one
// it cannot decode: reading it is a *store.DamagedError naming the
// instance, listing shows it as a store.DamagedStub and everything else as
// before, and its other records (history, the unfinished index) and a
// purge still work. A backend that keeps records as values (store/memory)
// cannot have a damaged record and does not run it.
func RunDamaged(t *testing.T, open Opener, damage Damager) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "orbit.db")
	s := open(t, path)
	all := seedList(t, s)
	commit(t, s, &store.Batch{Events: []store.Event{event("inst-07", 1, "ExecutionStarted"), event("inst-07", 2, "StateEntered")}})
	before, _, err := s.List(store.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	const bad = "inst-07" // WAITING in wf1
	damage(t, path, bad)
	s = openAt(t, open, path)

	_, err = s.Instance(bad)
	var de *store.DamagedError
	if !errors.Is(err, store.ErrDamaged) || !errors.As(err, &de) || de.Instance != bad || !strings.Contains(err.Error(), bad) {
		t.Fatalf("reading the damaged record: %v, want a *store.DamagedError naming %s", err, bad)
	}
	if held, err := s.Has(bad); err != nil || !held {
		t.Errorf("Has of the damaged record: %v, %v; a damaged record is held", held, err)
	}
	for _, id := range all {
		if id != bad {
			mustInstance(t, s, id)
		}
	}

	// The listing carries every instance in its place; the damaged one is a
	// stub with what the index knows.
	for _, limit := range []int{0, 1, 2, 7, 25} {
		if got := listAll(t, s, store.Query{Limit: limit}); !slices.Equal(got, all) {
			t.Errorf("paged by %d: %v, want %v", limit, got, all)
		}
	}
	ins, _, err := s.List(store.Query{})
	if err != nil {
		t.Fatal(err)
	}
	for i, in := range ins {
		if in.ID != bad {
			sameJSON(t, "listed "+in.ID, in, before[i])
			continue
		}
		want := before[i]
		if in.Damaged == "" || !strings.Contains(in.Damaged, bad) || in.Workflow != want.Workflow ||
			in.Status != want.Status || !in.StartedAt.Equal(want.StartedAt) || in.Input != nil || in.State != "" {
			t.Errorf("stub of %s = %+v, want workflow %s, status %s, started %s, no record fields and a damage message",
				bad, in.Public, want.Workflow, want.Status, want.StartedAt)
		}
	}
	if got := listAll(t, s, store.Query{Workflow: "wf1", Status: store.Waiting}); !slices.Contains(got, bad) {
		t.Errorf("filtered list %v lacks the stub of %s", got, bad)
	}
	if got := listAll(t, s, store.Query{Status: store.Running}); slices.Contains(got, bad) {
		t.Errorf("list of running instances %v holds the waiting %s", got, bad)
	}

	// What is stored apart from the record is intact.
	if evs, err := s.History(bad, 0, 0); err != nil || !slices.Equal(seqs(evs), []uint64{1, 2}) {
		t.Errorf("history of %s: %v, %v", bad, seqs(evs), err)
	}
	unfinished := false
	if err := s.Unfinished(func(id string, st store.Status) error {
		unfinished = unfinished || (id == bad && st == store.Waiting)
		return nil
	}); err != nil || !unfinished {
		t.Errorf("unfinished index lost %s (err %v)", bad, err)
	}

	// A purge removes it whole, as for any instance.
	commit(t, s, &store.Batch{Purge: []string{bad}})
	_, err = s.Instance(bad)
	isNotFound(t, "damaged instance after purge", err)
	if got := listAll(t, s, store.Query{}); slices.Contains(got, bad) || len(got) != len(all)-1 {
		t.Errorf("list after purging %s: %v", bad, got)
	}
}
