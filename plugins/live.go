package plugins

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/orbit-sidecar/orbit/runtime/flow"
)

// Live is the current Host of a sidecar whose plugins directory reloads.
// It has the Host's Func, Routines and Hooks, but its routines find their
// plugin by name in whatever Host is current when they are called, so a
// bundle loaded before a reload calls the new modules: new calls go to the
// new Host while calls in flight finish on the old one.
type Live struct {
	cur atomic.Pointer[Host]
}

// NewLive starts with h as the current Host.
func NewLive(h *Host) *Live {
	l := &Live{}
	l.cur.Store(h)
	return l
}

// Host is the current Host (for Info).
func (l *Live) Host() *Host { return l.cur.Load() }

// Replace makes h current, then closes the previous Host once its calls in
// flight have finished or ctx ends.
func (l *Live) Replace(ctx context.Context, h *Host) error {
	if old := l.cur.Swap(h); old != nil && old != h {
		return old.Close(ctx)
	}
	return nil
}

// Func is Host.Func, checked against the current Host and late-bound.
func (l *Live) Func(plugin, fn string) (flow.Routine, error) {
	if _, err := l.Host().Func(plugin, fn); err != nil {
		return nil, err
	}
	return &liveRoutine{l: l, plugin: plugin, fn: fn}, nil
}

// Routines is Host.Routines of the current Host, late-bound.
func (l *Live) Routines() map[string]flow.Routine {
	h := l.Host()
	out := make(map[string]flow.Routine, len(h.routines))
	for name, r := range h.routines {
		out[name] = &liveRoutine{l: l, plugin: r.(*routine).plugin, fn: r.(*routine).fn}
	}
	return out
}

// Hooks is Host.Hooks of the current Host, late-bound.
func (l *Live) Hooks() []*flow.Observer {
	hooks := l.Host().Hooks()
	for _, o := range hooks {
		r := o.Routine.(*routine)
		o.Routine = &liveRoutine{l: l, plugin: r.plugin, fn: r.fn}
	}
	return hooks
}

// liveRoutine is a plugin function looked up in the current Host per call.
type liveRoutine struct {
	l      *Live
	plugin string
	fn     string
}

// RoutineKind is flow.RoutineWasm.
func (r *liveRoutine) RoutineKind() string { return flow.RoutineWasm }

// Call runs the function on the current Host; a Host that closed between
// the lookup and the call was just replaced, so the call moves on to its
// successor.
func (r *liveRoutine) Call(ctx context.Context, input any, c *flow.Context) (any, error) {
	for {
		h := r.l.Host()
		out, err := h.call(ctx, r.plugin, r.fn, input, c)
		if !errors.Is(err, errClosed) || r.l.Host() == h {
			return out, err
		}
	}
}
