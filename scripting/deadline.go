package scripting

import (
	"context"
	"sync/atomic"
	"time"
)

// Why a call was stopped.
const (
	running   int32 = iota
	expired         // the Lua deadline passed
	cancelled       // the caller's context ended
)

// deadline is the context a Lua state runs under. gopher-lua polls Done on
// every instruction, so this one is reused across calls: arming it is a
// timer reset, not an allocation. Once it fires it stays fired, and the
// state it belongs to is dropped.
type deadline struct {
	done  chan struct{}
	why   atomic.Int32
	timer *time.Timer
}

func newDeadline() *deadline {
	d := &deadline{done: make(chan struct{})}
	d.timer = time.AfterFunc(time.Hour, func() { d.fire(expired) })
	d.timer.Stop()
	return d
}

func (d *deadline) fire(why int32) {
	if d.why.CompareAndSwap(running, why) {
		close(d.done)
	}
}

// stopped reports whether the call must stop.
func (d *deadline) stopped() bool { return d.why.Load() != running }

// Deadline is unknown to Lua; the timer enforces it.
func (d *deadline) Deadline() (time.Time, bool) { return time.Time{}, false }

// Done closes when the call must stop.
func (d *deadline) Done() <-chan struct{} { return d.done }

// Err tells gopher-lua why it stopped.
func (d *deadline) Err() error {
	switch d.why.Load() {
	case expired:
		return context.DeadlineExceeded
	case cancelled:
		return context.Canceled
	}
	return nil
}

// Value carries nothing.
func (d *deadline) Value(any) any { return nil }
