package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/orbit-sidecar/orbit/store"
)

func timers(t *testing.T, s store.Store) []store.Timer {
	t.Helper()
	var out []store.Timer
	if err := s.Timers(func(tm store.Timer) error {
		out = append(out, tm)
		return nil
	}); err != nil {
		t.Fatalf("timers: %v", err)
	}
	return out
}

func sameTimers(t *testing.T, got, want []store.Timer) {
	t.Helper()
	eq := slices.EqualFunc(got, want, func(a, b store.Timer) bool {
		return a.At.Equal(b.At) && a.Instance == b.Instance && a.Kind == b.Kind
	})
	if !eq {
		t.Errorf("timers = %v, want %v", got, want)
	}
}

func testTimers(t *testing.T, s store.Store) {
	t1 := store.Timer{At: at(30), Instance: "a", Kind: "retry"}
	t2 := store.Timer{At: at(10), Instance: "b", Kind: "wait"}
	t3 := store.Timer{At: at(20).Add(time.Nanosecond), Instance: "a", Kind: "timeout"}
	t4 := store.Timer{At: at(20), Instance: "c", Kind: "wait"}
	t5 := store.Timer{At: at(10), Instance: "a", Kind: "deadline"} // same time as t2
	commit(t, s, &store.Batch{SetTimers: []store.Timer{t1, t2}})
	commit(t, s, &store.Batch{SetTimers: []store.Timer{t3, t4, t5}})
	got := timers(t, s)
	if len(got) != 5 {
		t.Fatalf("timers = %v, want 5", got)
	}
	sameTimers(t, got[2:], []store.Timer{t4, t3, t1})
	if !got[0].At.Equal(at(10)) || !got[1].At.Equal(at(10)) {
		t.Errorf("first two timers = %v, want both at %v", got[:2], at(10))
	}

	// Deletion is by key: a timer with another kind or time stays.
	commit(t, s, &store.Batch{DelTimers: []store.Timer{
		t1, {At: at(20), Instance: "a", Kind: "timeout"}, {At: at(10), Instance: "b", Kind: "other"},
	}})
	got = timers(t, s)
	if len(got) != 4 {
		t.Fatalf("after delete: %v", got)
	}
	sameTimers(t, got[2:], []store.Timer{t4, t3})

	// A timer set and deleted in one batch is gone.
	commit(t, s, &store.Batch{SetTimers: []store.Timer{t1}, DelTimers: []store.Timer{t1, t2, t3, t4, t5}})
	sameTimers(t, timers(t, s), nil)

	// fn's error stops the walk and comes back.
	commit(t, s, &store.Batch{SetTimers: []store.Timer{t1, t2}})
	stop := errors.New("stop")
	n := 0
	if err := s.Timers(func(store.Timer) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Errorf("Timers with a failing fn: %v after %d calls", err, n)
	}
}

// Timers outside the nanoseconds an int64 counts from 1970 keep their
// place: one before 1970 (before 1678 as well) is due first, as at 1970,
// one after 2262 is due last, as at the last nanosecond; each is listed at
// the time store.TimerTime keeps and deleted by the time it was set at.
func testTimersOutsideNanoseconds(t *testing.T, s store.Store) {
	set := []store.Timer{
		{At: time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC), Instance: "a", Kind: "wake"},
		{At: time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), Instance: "b", Kind: "wake"},
		{At: time.Date(1969, 12, 31, 23, 59, 59, 0, time.FixedZone("east", 3600)), Instance: "c", Kind: "wake"},
		{At: at(0), Instance: "d", Kind: "wake"},
		{At: time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), Instance: "e", Kind: "wake"},
		{At: time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), Instance: "f", Kind: "wake"},
	}
	commit(t, s, &store.Batch{SetTimers: []store.Timer{set[4], set[1], set[5], set[3], set[0], set[2]}})
	got := timers(t, s)
	want := make([]store.Timer, len(set))
	for i, tm := range set {
		want[i] = store.Timer{At: store.TimerTime(tm.At), Instance: tm.Instance, Kind: tm.Kind}
	}
	if !slices.Equal(got, want) {
		t.Errorf("timers = %v, want %v", got, want)
	}
	commit(t, s, &store.Batch{DelTimers: set})
	sameTimers(t, timers(t, s), nil)
}

func testPending(t *testing.T, s store.Store) {
	ev := func(inst, name, payload string) store.PendingEvent {
		return store.PendingEvent{Instance: inst, Name: name, Payload: []byte(payload)}
	}
	commit(t, s, &store.Batch{AddPending: []store.PendingEvent{ev("i", "x", `1`), ev("i", "y", `"y1"`)}})
	commit(t, s, &store.Batch{AddPending: []store.PendingEvent{ev("i", "x", `2`), ev("i", "x", `3`), ev("ix", "x", `"other"`)}})
	commit(t, s, &store.Batch{AddPending: []store.PendingEvent{ev("j", "x", `{"a":1}`)}})

	// Every name counts; an instance whose id the other's begins with
	// does not.
	if n, size, err := s.PendingSize("i"); err != nil || n != 4 || size != int64(len(`1`+`"y1"`+`2`+`3`)) {
		t.Fatalf("pending size of i: %d events, %d bytes, %v", n, size, err)
	}
	if n, size, err := s.PendingSize("none"); err != nil || n != 0 || size != 0 {
		t.Fatalf("pending size of an instance without events: %d, %d, %v", n, size, err)
	}
	for _, want := range []string{`1`, `2`, `3`} {
		p, err := s.Pending("i", "x")
		if err != nil {
			t.Fatalf("pending i/x (want %s): %v", want, err)
		}
		if string(p.Payload) != want || p.Instance != "i" || p.Name != "x" || p.Seq == 0 {
			t.Fatalf("pending i/x = %+v (%s), want payload %s with a seq", p, p.Payload, want)
		}
		again, err := s.Pending("i", "x")
		if err != nil || again.Seq != p.Seq {
			t.Fatalf("Pending consumed the event: %+v, %v", again, err)
		}
		commit(t, s, &store.Batch{DelPending: []store.PendingEvent{*p}})
	}
	_, err := s.Pending("i", "x")
	isNotFound(t, "pending i/x after consuming all", err)
	if n, _, err := s.PendingSize("i"); err != nil || n != 1 {
		t.Fatalf("pending size of i after consuming x: %d, %v", n, err)
	}

	for _, c := range []struct{ inst, name, want string }{{"i", "y", `"y1"`}, {"ix", "x", `"other"`}, {"j", "x", `{"a":1}`}} {
		p, err := s.Pending(c.inst, c.name)
		if err != nil {
			t.Fatalf("pending %s/%s: %v", c.inst, c.name, err)
		}
		if string(p.Payload) != c.want {
			t.Errorf("pending %s/%s = %s, want %s", c.inst, c.name, p.Payload, c.want)
		}
	}
}
