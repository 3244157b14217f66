package storetest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/store"
)

// seedInstance stores a waiting instance with everything a store keeps
// for one: record, history, timers and pending events.
func seedInstance(t *testing.T, s store.Store, id string, start int) {
	t.Helper()
	commit(t, s, &store.Batch{
		Instances: []*store.Instance{newInstance(id, "wf", store.Waiting, at(start))},
		Events:    []store.Event{event(id, 1, "ExecutionStarted"), event(id, 2, "EventAwaited")},
		SetTimers: []store.Timer{
			{At: at(start + 10), Instance: id, Kind: "timeout"},
			{At: at(start + 20), Instance: id, Kind: "deadline"},
		},
		AddPending: []store.PendingEvent{{Instance: id, Name: "ev", Payload: []byte(`{}`)}},
	})
}

func ended(t *testing.T, s store.Store, before time.Time) []string {
	t.Helper()
	var out []string
	if err := s.Ended(before, func(id string) error {
		out = append(out, id)
		return nil
	}); err != nil {
		t.Fatalf("ended: %v", err)
	}
	return out
}

func testPurge(t *testing.T, s store.Store) {
	for i, id := range []string{"a", "ab", "b"} {
		seedInstance(t, s, id, i)
	}
	// "a" ends first, so it is in the ended index too.
	a := newInstance("a", "wf", store.Succeeded, at(0))
	upsert(t, s, a)

	commit(t, s, &store.Batch{Purge: []string{"a", "b", "never-existed"}})

	_, err := s.Instance("a")
	isNotFound(t, "purged instance", err)
	if held, err := s.Has("a"); err != nil || held {
		t.Errorf("Has of a purged instance: %v, %v", held, err)
	}
	if held, err := s.Has("ab"); err != nil || !held {
		t.Errorf("Has of an instance kept beside the purged: %v, %v", held, err)
	}
	if h, err := s.History("a", 0, 0); err != nil || len(h) != 0 {
		t.Errorf("history of a purged instance: %v, %v", h, err)
	}
	_, err = s.Pending("a", "ev")
	isNotFound(t, "pending event of a purged instance", err)
	for _, tm := range timers(t, s) {
		if tm.Instance != "ab" {
			t.Errorf("timer of a purged instance left: %+v", tm)
		}
	}
	if got := len(timers(t, s)); got != 2 {
		t.Errorf("ab has %d timers left, want 2", got)
	}
	checkUnfinished(t, s, map[string]store.Status{"ab": store.Waiting})
	if got := listAll(t, s, store.Query{}); !slices.Equal(got, []string{"ab"}) {
		t.Errorf("list after purge = %v, want [ab]", got)
	}
	if got := ended(t, s, at(1000)); len(got) != 0 {
		t.Errorf("ended after purge = %v", got)
	}

	// What shares a prefix with a purged id stays whole.
	mustInstance(t, s, "ab")
	if h, err := s.History("ab", 0, 0); err != nil || len(h) != 2 {
		t.Errorf("history of ab: %d events, %v; want 2", len(h), err)
	}
	if _, err := s.Pending("ab", "ev"); err != nil {
		t.Errorf("pending event of ab: %v", err)
	}

	// A purged id can be used again from scratch.
	seedInstance(t, s, "a", 5)
	if h, _ := s.History("a", 0, 0); len(h) != 2 {
		t.Errorf("history of a reused id: %d events, want 2", len(h))
	}

	// A timer set in the batch that purges its instance goes with it.
	commit(t, s, &store.Batch{SetTimers: []store.Timer{{At: at(50), Instance: "ab", Kind: "late"}}, Purge: []string{"ab"}})
	for _, tm := range timers(t, s) {
		if tm.Instance != "a" {
			t.Errorf("timer of an instance purged in its batch left: %+v", tm)
		}
	}
}

func testEnded(t *testing.T, s store.Store) {
	mk := func(id string, st store.Status, endSec int) *store.Instance {
		in := newInstance(id, "wf", st, at(0))
		if st.Terminal() {
			end := at(endSec)
			in.EndedAt, in.UpdatedAt = &end, end
		}
		return in
	}
	upsert(t, s, mk("s", store.Succeeded, 10), mk("f", store.Failed, 20), mk("c", store.Cancelled, 30),
		mk("t", store.TimedOut, 40), mk("r", store.Running, 0), mk("w", store.Waiting, 0))

	sorted := func(ids []string) []string { slices.Sort(ids); return ids }
	cases := []struct {
		before time.Time
		want   []string
	}{
		{at(10), nil},
		{at(10).Add(time.Nanosecond), []string{"s"}},
		{at(35), []string{"c", "f", "s"}},
		{at(1000), []string{"c", "f", "s", "t"}},
	}
	for _, c := range cases {
		if got := sorted(ended(t, s, c.before)); !slices.Equal(got, c.want) {
			t.Errorf("ended before %v = %v, want %v", c.before, got, c.want)
		}
	}

	// A redriven instance is no longer ended; when it ends again it counts
	// from its new end.
	f := mk("f", store.Running, 0)
	upsert(t, s, f)
	if got := sorted(ended(t, s, at(1000))); !slices.Equal(got, []string{"c", "s", "t"}) {
		t.Errorf("after redrive: %v", got)
	}
	upsert(t, s, mk("f", store.Failed, 50))
	if got := sorted(ended(t, s, at(45))); !slices.Equal(got, []string{"c", "s", "t"}) {
		t.Errorf("after the second end: %v", got)
	}
	if got := sorted(ended(t, s, at(51))); !slices.Equal(got, []string{"c", "f", "s", "t"}) {
		t.Errorf("after the second end: %v", got)
	}
}

// testEndedCallbackCommits is the retention sweeper's pattern: purge from
// inside the Ended callback. It must neither deadlock nor skip instances.
func testEndedCallbackCommits(t *testing.T, s store.Store) {
	const n = 600 // more than a typical read chunk
	var b store.Batch
	want := map[string]bool{}
	for i := range n {
		id := fmt.Sprintf("e%04d", i)
		b.Instances = append(b.Instances, newInstance(id, "wf", store.Succeeded, at(i)))
		b.Events = append(b.Events, event(id, 1, "ExecutionSucceeded"))
		want[id] = true
	}
	upsert(t, s, newInstance("keep", "wf", store.Running, at(0)))
	commit(t, s, &b)

	got := map[string]bool{}
	err := s.Ended(at(n+10), func(id string) error {
		got[id] = true
		return s.Commit(context.Background(), &store.Batch{Purge: []string{id}})
	})
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got, want) {
		t.Errorf("ended saw %d of %d instances", len(got), len(want))
	}
	if rest := ended(t, s, at(n+10)); len(rest) != 0 {
		t.Errorf("%d ended instances left after the sweep", len(rest))
	}
	if all := listAll(t, s, store.Query{}); !slices.Equal(all, []string{"keep"}) {
		t.Errorf("list after the sweep: %d instances, want only keep", len(all))
	}
}
