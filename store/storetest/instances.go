package storetest

import (
	"encoding/json"
	"maps"
	"testing"

	"github.com/orbit-sidecar/orbit/store"
)

func testInstanceRoundTrip(t *testing.T, s store.Store) {
	until := at(60)
	deadline := at(300)
	want := newInstance("order-1", "place_order", store.Waiting, at(0))
	want.Output = json.RawMessage(`[1,2,3]`)
	want.Error, want.Cause = "Http.503", "unavailable"
	want.Waiting = &store.WaitingFor{Kind: "retry", Attempt: 2, Error: "Http.503", Until: &until}
	want.Machine = "branch/0"
	want.Data = json.RawMessage(`{"payment":{"risk":0.5}}`)
	want.Attempt = 2
	want.Visits = map[string]int{"Start": 1, "Authorize": 2}
	want.Seq = 7
	want.Parent = "parent-1"
	want.Index = 3
	want.MapItem = true
	want.Items, want.NextItem, want.Failed = 4, 2, 1
	want.Collected = map[int]json.RawMessage{0: json.RawMessage(`"first"`), 1: json.RawMessage(`{"ok":true}`)}
	want.PausedStatus = store.Waiting
	want.PausedWaiting = &store.WaitingFor{Kind: "event", Event: "review.completed", Until: &until}
	want.Children = []string{"c1", "c2"}
	want.TraceParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	want.ConcKey = "order-1"
	want.Deadline = &deadline
	want.Express = true
	upsert(t, s, want)
	sameJSON(t, "instance", mustInstance(t, s, "order-1"), want)
	if held, err := s.Has("order-1"); err != nil || !held {
		t.Errorf("Has of a stored instance: %v, %v", held, err)
	}

	// An upsert replaces the whole record.
	next := want.Clone()
	next.Status, next.State, next.Waiting = store.Running, "Authorize", nil
	next.Visits["Authorize"] = 3
	next.UpdatedAt = at(61)
	upsert(t, s, next)
	got := mustInstance(t, s, "order-1")
	sameJSON(t, "instance after update", got, next)
	if !got.StartedAt.Equal(want.StartedAt) || !got.UpdatedAt.Equal(at(61)) {
		t.Errorf("times: started %v updated %v", got.StartedAt, got.UpdatedAt)
	}
}

func testNotFound(t *testing.T, s store.Store) {
	_, err := s.Instance("missing")
	isNotFound(t, "Instance", err)
	if held, err := s.Has("missing"); err != nil || held {
		t.Errorf("Has of a missing instance: %v, %v", held, err)
	}
	_, err = s.Pending("missing", "ev")
	isNotFound(t, "Pending", err)
	_, err = s.Bundle("missing")
	isNotFound(t, "Bundle", err)
	_, err = s.KVGet("ns", "missing")
	isNotFound(t, "KVGet", err)
	events, err := s.History("missing", 0, 0)
	if err != nil || len(events) != 0 {
		t.Errorf("History of a missing instance: %v, %v; want none", events, err)
	}
}

// unfinished collects the unfinished index.
func unfinished(t *testing.T, s store.Store) map[string]store.Status {
	t.Helper()
	got := map[string]store.Status{}
	if err := s.Unfinished(func(id string, st store.Status) error {
		got[id] = st
		return nil
	}); err != nil {
		t.Fatalf("unfinished: %v", err)
	}
	return got
}

func testUnfinished(t *testing.T, s store.Store) {
	a := newInstance("a", "wf", store.Running, at(0))
	b := newInstance("b", "wf", store.Waiting, at(1))
	c := newInstance("c", "wf", store.Succeeded, at(2))
	upsert(t, s, a, b, c)
	checkUnfinished(t, s, map[string]store.Status{"a": store.Running, "b": store.Waiting})

	// a ends, c is redriven, b pauses.
	a.Status = store.Failed
	end := at(5)
	a.EndedAt = &end
	c.Status, c.EndedAt = store.Running, nil
	b.Status = store.Paused
	upsert(t, s, a, b, c)
	checkUnfinished(t, s, map[string]store.Status{"b": store.Paused, "c": store.Running})

	commit(t, s, &store.Batch{Purge: []string{"b"}})
	checkUnfinished(t, s, map[string]store.Status{"c": store.Running})

	for _, st := range []store.Status{store.Succeeded, store.Cancelled, store.TimedOut} {
		c.Status = st
		c.EndedAt = &end
		upsert(t, s, c)
		checkUnfinished(t, s, map[string]store.Status{})
		c.Status, c.EndedAt = store.Queued, nil
		upsert(t, s, c)
		checkUnfinished(t, s, map[string]store.Status{"c": store.Queued})
	}
}

func checkUnfinished(t *testing.T, s store.Store, want map[string]store.Status) {
	t.Helper()
	if got := unfinished(t, s); !maps.Equal(got, want) {
		t.Errorf("unfinished = %v, want %v", got, want)
	}
}
