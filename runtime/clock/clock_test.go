package clock

import (
	"testing"
	"time"
)

func TestFakeFiresDueCallbacksInOrder(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := NewFake(start)
	fired := make(chan int, 3)
	c.AfterFunc(2*time.Second, func() { fired <- 2 })
	c.AfterFunc(time.Second, func() { fired <- 1 })
	stopped := c.AfterFunc(time.Second, func() { fired <- -1 })
	if !stopped.Stop() || stopped.Stop() {
		t.Fatal("Stop must report true once, then false")
	}
	if c.Waiters() != 2 {
		t.Fatalf("waiters %d, want 2", c.Waiters())
	}
	c.Advance(999 * time.Millisecond)
	if c.Waiters() != 2 || len(fired) != 0 {
		t.Fatal("nothing is due yet")
	}
	c.Advance(time.Millisecond)
	if got := <-fired; got != 1 {
		t.Fatalf("fired %d", got)
	}
	c.Advance(time.Second)
	if got := <-fired; got != 2 {
		t.Fatalf("fired %d", got)
	}
	if !c.Now().Equal(start.Add(2 * time.Second)) {
		t.Fatalf("now %v", c.Now())
	}
	if c.Waiters() != 0 {
		t.Fatalf("waiters %d", c.Waiters())
	}
}

func TestFakeNextIsTheEarliestLiveCallback(t *testing.T) {
	c := NewFake(time.Unix(0, 0))
	if _, ok := c.Next(); ok {
		t.Fatal("Next with nothing scheduled")
	}
	c.AfterFunc(3*time.Second, func() {})
	early := c.AfterFunc(time.Second, func() {})
	c.AfterFunc(2*time.Second, func() {})
	if at, ok := c.Next(); !ok || !at.Equal(time.Unix(1, 0)) {
		t.Errorf("Next %v %v, want 1s", at, ok)
	}
	early.Stop()
	if at, _ := c.Next(); !at.Equal(time.Unix(2, 0)) {
		t.Errorf("Next after Stop %v, want 2s", at)
	}
}

// A clock set back fires nothing, and a callback keeps its time: it is due
// when the clock reaches that time again.
func TestFakeSetBackDelaysCallbacks(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := NewFake(start)
	fired := make(chan struct{}, 1)
	c.AfterFunc(time.Second, func() { fired <- struct{}{} })
	c.Set(start.Add(-time.Minute))
	if !c.Now().Equal(start.Add(-time.Minute)) || c.Waiters() != 1 {
		t.Fatalf("now %v with %d waiters, want a minute earlier with 1", c.Now(), c.Waiters())
	}
	c.Advance(time.Minute)
	if c.Waiters() != 1 {
		t.Fatal("the callback fired before its time")
	}
	c.Set(start.Add(time.Second))
	<-fired
	if c.Waiters() != 0 {
		t.Fatalf("waiters %d", c.Waiters())
	}
}
