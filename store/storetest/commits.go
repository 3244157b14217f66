package storetest

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/orbit-sidecar/orbit/store"
)

// testConcurrentCommits checks group commit: many writers at once all land,
// and the store needed no more transactions than batches (usually far fewer).
func testConcurrentCommits(t *testing.T, s store.Store) {
	const writers, each = 50, 20
	before := s.Stats()
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			var b store.Batch // reused, as the engine does
			for i := range each {
				b.Reset()
				id := fmt.Sprintf("w%02d-%02d", w, i)
				in := newInstance(id, "wf", store.Running, at(w*each+i))
				in.Seq = 2
				b.Instances = append(b.Instances, in)
				b.Events = append(b.Events, event(id, 1, "ExecutionStarted"), event(id, 2, "StateEntered"))
				if err := s.Commit(context.Background(), &b); err != nil {
					errs <- fmt.Errorf("commit %s: %w", id, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	for w := range writers {
		for i := range each {
			id := fmt.Sprintf("w%02d-%02d", w, i)
			if in := mustInstance(t, s, id); in.Seq != 2 {
				t.Errorf("%s: seq %d", id, in.Seq)
			}
			if h, err := s.History(id, 0, 0); err != nil || len(h) != 2 {
				t.Errorf("%s: %d events, %v", id, len(h), err)
			}
		}
	}
	if got := len(unfinished(t, s)); got != writers*each {
		t.Errorf("unfinished has %d instances, want %d", got, writers*each)
	}
	st := s.Stats()
	commits, checkpoints := st.Commits-before.Commits, st.Checkpoints-before.Checkpoints
	if checkpoints != writers*each {
		t.Errorf("stats count %d checkpoints, want %d", checkpoints, writers*each)
	}
	if commits == 0 || commits > checkpoints {
		t.Errorf("stats: %d commits for %d checkpoints", commits, checkpoints)
	}
	t.Logf("%d checkpoints in %d commits", checkpoints, commits)
}

// testBatchReuse changes and reuses a batch after Commit returned: the
// stored data must not follow.
func testBatchReuse(t *testing.T, s store.Store) {
	var b store.Batch
	in := newInstance("first", "wf", store.Waiting, at(0))
	in.Data = []byte(`{"v":"first"}`)
	payload := []byte(`{"p":"first"}`)
	b.Instances = append(b.Instances, in)
	b.Events = append(b.Events, event("first", 1, "ExecutionStarted"))
	b.AddPending = append(b.AddPending, store.PendingEvent{Instance: "first", Name: "ev", Payload: payload})
	b.SetTimers = append(b.SetTimers, store.Timer{At: at(5), Instance: "first", Kind: "wait"})
	commit(t, s, &b)
	want := in.Clone()
	want.Data = bytes.Clone(in.Data) // Clone shares raw JSON

	// Scribble over everything the batch pointed to, then reuse it.
	in.Status, in.Workflow = store.Failed, "scribbled"
	copy(in.Data, `{"v":"XXXXX"}`)
	copy(payload, `{"p":"XXXXX"}`)
	b.Events[0].Type = "Scribbled"
	b.Reset()
	second := newInstance("second", "wf", store.Running, at(1))
	b.Instances = append(b.Instances, second)
	b.Events = append(b.Events, event("second", 1, "ExecutionStarted"))
	b.SetTimers = append(b.SetTimers, store.Timer{At: at(6), Instance: "second", Kind: "wait"})
	commit(t, s, &b)

	sameJSON(t, "first instance", mustInstance(t, s, "first"), want)
	sameJSON(t, "second instance", mustInstance(t, s, "second"), second)
	h, err := s.History("first", 0, 0)
	if err != nil || len(h) != 1 || h[0].Type != "ExecutionStarted" {
		t.Errorf("history of first = %+v, %v", h, err)
	}
	p, err := s.Pending("first", "ev")
	if err != nil || string(p.Payload) != `{"p":"first"}` {
		t.Errorf("pending of first = %+v, %v", p, err)
	}
	if got := timers(t, s); len(got) != 2 || got[0].Instance != "first" || got[1].Instance != "second" {
		t.Errorf("timers = %v", got)
	}
	if got := listAll(t, s, store.Query{Workflow: "wf"}); !slices.Equal(got, []string{"second", "first"}) {
		t.Errorf("list = %v", got)
	}
}

func testEmptyBatch(t *testing.T, s store.Store) {
	commit(t, s, &store.Batch{})
	if _, _, err := s.List(store.Query{}); err != nil {
		t.Fatal(err)
	}
}

// testReopen closes a store and opens the same path again: everything
// committed before Close is there.
func testReopen(t *testing.T, open Opener) {
	path := filepath.Join(t.TempDir(), "data", "orbit.db")
	s := open(t, path)
	seedInstance(t, s, "a", 0)
	seedInstance(t, s, "b", 1)
	upsert(t, s, newInstance("b", "wf", store.Succeeded, at(1)))
	commit(t, s, &store.Batch{Bundles: []store.BundleSources{{Hash: "h", AddedAt: at(0), Files: map[string][]byte{"a.lua": []byte("x")}}}})
	if err := s.KVPut("ns", "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	// Commits racing with Close are written before it returns.
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() { upsert(t, s, newInstance(fmt.Sprintf("late-%d", i), "late", store.Running, at(10+i))) })
	}
	wg.Wait()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openAt(t, open, path)
	if in := mustInstance(t, s, "a"); in.Status != store.Waiting {
		t.Errorf("a: %s", in.Status)
	}
	checkUnfinished(t, s, func() map[string]store.Status {
		m := map[string]store.Status{"a": store.Waiting}
		for i := range 10 {
			m[fmt.Sprintf("late-%d", i)] = store.Running
		}
		return m
	}())
	if h, err := s.History("a", 0, 0); err != nil || len(h) != 2 {
		t.Errorf("history: %d, %v", len(h), err)
	}
	if got := len(timers(t, s)); got != 4 {
		t.Errorf("%d timers, want 4", got)
	}
	if _, err := s.Pending("b", "ev"); err != nil {
		t.Errorf("pending: %v", err)
	}
	if _, err := s.Bundle("h"); err != nil {
		t.Errorf("bundle: %v", err)
	}
	if v, err := s.KVGet("ns", "k"); err != nil || string(v) != "v" {
		t.Errorf("kv: %q, %v", v, err)
	}
	if got := ended(t, s, at(1000)); !slices.Equal(got, []string{"b"}) {
		t.Errorf("ended = %v", got)
	}
	if got := listAll(t, s, store.Query{Workflow: "late", Limit: 3}); len(got) != 10 || got[0] != "late-9" {
		t.Errorf("list = %v", got)
	}
	// Writing after a reopen keeps the indexes whole.
	seedInstance(t, s, "c", 2)
	p1, _ := s.Pending("c", "ev")
	commit(t, s, &store.Batch{AddPending: []store.PendingEvent{{Instance: "c", Name: "ev", Payload: []byte(`2`)}}, DelPending: []store.PendingEvent{*p1}})
	if p, err := s.Pending("c", "ev"); err != nil || string(p.Payload) != `2` {
		t.Errorf("pending after reopen: %+v, %v", p, err)
	}
}
