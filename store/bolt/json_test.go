package bolt

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/store"
)

var tricky = []string{"", "plain", `quote " and \ backslash`, "tab\tnew\nline\rcr", "\x00\x01\x1f\x7f",
	"<html> & 'amp'", "ünïcödé ✓ 🚀", "bad \xff\xfe utf8", "line\u2028para\u2029", "\xe2\x80"}

// The hand-written encoders say what encoding/json says about every field,
// and what they write decodes to the same values.
func TestRecordEncodersMatchEncodingJSON(t *testing.T) {
	at := time.Date(2026, 11, 26, 9, 30, 0, 123456789, time.FixedZone("x", 3600))
	later := at.Add(time.Hour)
	full := &store.Instance{
		Public: store.Public{ID: "id", Workflow: "wf", Version: "v1", Status: store.Paused, State: tricky[2],
			Input: json.RawMessage(`{"a":[1,2]}`), Output: json.RawMessage(`"out"`), Error: "E", Cause: tricky[3],
			StartedAt: at, UpdatedAt: later, EndedAt: &later,
			Waiting: &store.WaitingFor{Kind: "event", Event: "ev", Until: &later, Attempt: 2, Error: "e", Instance: "c", Key: "k"},
			Parent:  "p", IdempotencyKey: "magento/quote/1"},
		Bundle: "hash", Machine: "m", Data: json.RawMessage(`{"x":null}`), Attempt: 3,
		Visits: map[string]int{"A": 1, tricky[7]: 2}, Seq: 42, Index: 7, MapItem: true,
		Children: []string{"c1", tricky[4]}, TraceParent: "tp", ConcKey: "ck", ConcSeq: 9, Deadline: &at, Express: true, Resumed: 1,
		Entered: 5, EnteredAt: later, Root: "r", Vars: json.RawMessage(`{"v":1}`), Outer: json.RawMessage(`{"o":[2]}`),
		Items: 12, NextItem: 11, Failed: 3, Collected: map[int]json.RawMessage{2: json.RawMessage(`1`), 10: json.RawMessage(`{"y":true}`)},
		PausedStatus: store.Waiting, PausedWaiting: &store.WaitingFor{Kind: "timer"},
	}
	for _, in := range []*store.Instance{full, {Public: store.Public{ID: "min", Status: store.Running, StartedAt: at, UpdatedAt: at}}} {
		got, err := appendInstance(nil, in, nil)
		if err != nil {
			t.Fatal(err)
		}
		sameJSON(t, got, in)
		var back store.Instance
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(in)
		var viaStd store.Instance
		json.Unmarshal(want, &viaStd)
		if !reflect.DeepEqual(back, viaStd) {
			t.Errorf("decoded\n%+v\nwant\n%+v", back, viaStd)
		}
	}
	for _, ev := range []*store.Event{
		{Seq: 3, Type: "TaskFailed", Time: at, State: "S", Input: json.RawMessage(`[]`), Output: json.RawMessage(`null`),
			Error: tricky[5], Cause: tricky[6], Attempt: 2, DelayMS: 1500, Event: "e", Child: "c", From: "v1", To: "v2"},
		{Seq: 1, Type: "ExecutionStarted", Time: at},
	} {
		got, err := appendEvent(nil, ev, nil)
		if err != nil {
			t.Fatal(err)
		}
		sameJSON(t, got, ev)
	}
	if _, err := appendEvent(nil, &store.Event{Seq: 1, Output: json.RawMessage(`{bad`)}, nil); err == nil {
		t.Error("an event with invalid raw JSON was encoded")
	}
}

func sameJSON(t *testing.T, got []byte, v any) {
	t.Helper()
	want, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: %v", got, err)
	}
	json.Unmarshal(want, &w)
	if !reflect.DeepEqual(g, w) {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// A time encoding/json cannot write (a year past 9999) fails the record:
// written anyway, it could never be read back and the instance would be
// lost.
func TestUnwritableTimeFailsTheRecord(t *testing.T) {
	far := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	if b, err := appendEvent(nil, &store.Event{Seq: 1, Type: "TimerStarted", Time: far}, nil); err == nil {
		t.Errorf("event at year 10000 encoded as %s", b)
	}
	now := time.Now()
	for _, in := range []*store.Instance{
		{Public: store.Public{ID: "a", Status: store.Running, StartedAt: far, UpdatedAt: now}},
		{Public: store.Public{ID: "b", Status: store.Waiting, StartedAt: now, UpdatedAt: now,
			Waiting: &store.WaitingFor{Kind: "timer", Until: &far}}},
		{Public: store.Public{ID: "c", Status: store.Running, StartedAt: now, UpdatedAt: now}, Deadline: &far},
	} {
		if b, err := appendInstance(nil, in, nil); err == nil {
			t.Errorf("instance %s with a time at year 10000 encoded as %s", in.ID, b)
		}
	}
}

// TestCheckedPayloadsAreKnownByMemoryAndLength: a payload found valid is
// not scanned again in the same batch, but a longer slice of the same
// memory is a different payload and is checked.
func TestCheckedPayloadsAreKnownByMemoryAndLength(t *testing.T) {
	var seen checked
	mem := []byte(`{"a":1}}`)
	if err := seen.valid(mem[:7], mem[:7]); err != nil {
		t.Fatalf("valid payload refused: %v", err)
	}
	if !seen.has(mem[:7]) {
		t.Fatal("a checked payload is not remembered")
	}
	if err := seen.valid(mem); err == nil {
		t.Fatal("a longer payload in the same memory passed as checked")
	}
	seen.reset()
	if seen.has(mem[:7]) {
		t.Fatal("reset kept a payload")
	}
	if err := (*checked)(nil).valid(json.RawMessage(`[1,`)); err == nil {
		t.Fatal("invalid payload passed without a cache")
	}
}
