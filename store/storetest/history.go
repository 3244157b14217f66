package storetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/orbit-sidecar/orbit/store"
)

func event(instance string, seq uint64, typ store.EventType) store.Event {
	return store.Event{
		Instance: instance, Seq: seq, Type: typ, Time: at(int(seq)), State: "S",
		Output: json.RawMessage(fmt.Sprintf(`{"n":%d}`, seq)),
	}
}

func seqs(events []store.Event) []uint64 {
	out := make([]uint64, len(events))
	for i, ev := range events {
		out[i] = ev.Seq
	}
	return out
}

func testHistory(t *testing.T, s store.Store) {
	// "a" is a prefix of "ab": the two histories must not mix.
	commit(t, s, &store.Batch{Events: []store.Event{
		event("a", 1, "ExecutionStarted"), event("ab", 1, "ExecutionStarted"), event("a", 2, "StateEntered"),
	}})
	commit(t, s, &store.Batch{Events: []store.Event{
		event("a", 3, "TaskScheduled"), event("a", 4, "TaskSucceeded"), event("ab", 2, "StateEntered"), event("a", 5, "StateExited"),
	}})
	// Within one batch, events land by seq whatever their order.
	commit(t, s, &store.Batch{Events: []store.Event{event("a", 7, "ExecutionSucceeded"), event("a", 6, "StateEntered")}})

	all, err := s.History("a", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := seqs(all); !slices.Equal(got, []uint64{1, 2, 3, 4, 5, 6, 7}) {
		t.Fatalf("history of a = %v", got)
	}
	for _, ev := range all {
		sameJSON(t, "event", ev, event("a", ev.Seq, ev.Type))
		if ev.Instance != "a" {
			t.Errorf("event %d: instance %q, want a", ev.Seq, ev.Instance)
		}
	}
	if all[2].Type != "TaskScheduled" {
		t.Errorf("event 3 is %s", all[2].Type)
	}
	cases := []struct {
		after uint64
		limit int
		want  []uint64
	}{
		{2, 0, []uint64{3, 4, 5, 6, 7}},
		{0, 2, []uint64{1, 2}},
		{2, 2, []uint64{3, 4}},
		{6, 5, []uint64{7}},
		{7, 0, []uint64{}},
		{100, 1, []uint64{}},
	}
	for _, c := range cases {
		got, err := s.History("a", c.after, c.limit)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(seqs(got), c.want) {
			t.Errorf("History(a, %d, %d) = %v, want %v", c.after, c.limit, seqs(got), c.want)
		}
	}
	ab, err := s.History("ab", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := seqs(ab); !slices.Equal(got, []uint64{1, 2}) {
		t.Errorf("history of ab = %v", got)
	}
}
