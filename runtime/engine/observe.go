package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/store"
)

// Observers (SPEC 1.4) run a routine after a history event is committed.
// Each run that is owed is a durable timer written in the same checkpoint
// as its event, keyed "observe:<seq>:<observer>:<attempt>", so an observer
// owed before a crash runs after the restart, and its retries are durable
// timers too. Observers never change the instance's data or flow; when one
// gives up, ObserverFailed is appended to the history.

const observePrefix = "observe:"

// observerQueue runs owed observers with bounded concurrency.
type observerQueue struct {
	e     *Engine
	slots chan struct{}
	ctx   context.Context
	stopf context.CancelFunc

	// mu orders run's Add against stop's Wait: a timer may fire while the
	// engine closes, and a WaitGroup must not grow from zero during Wait.
	mu      sync.Mutex
	stopped bool
	wg      sync.WaitGroup
}

func newObserverQueue(e *Engine) *observerQueue {
	ctx, cancel := context.WithCancel(context.Background())
	return &observerQueue{e: e, slots: make(chan struct{}, 64), ctx: ctx, stopf: cancel}
}

func (q *observerQueue) stop() {
	q.mu.Lock()
	q.stopped = true
	q.mu.Unlock()
	q.stopf()
	q.wg.Wait()
}

// owe schedules every observer of the driver's bundle that watches ev, in
// the checkpoint that writes ev.
func (d *driver) owe(ev *store.Event) { d.oweFor(d.bundle, d.inst, ev) }

// oweFor schedules the observers of bundle b that watch ev of instance in
// (the driver's, or a child it starts, which may run another bundle).
func (d *driver) oweFor(b *flow.Bundle, in *store.Instance, ev *store.Event) {
	if b == nil {
		return
	}
	for i, o := range b.Observers {
		if o.Before || (o.Workflow != "*" && o.Workflow != in.Workflow) || o.On != ev.Type || (o.State != "" && o.State != ev.State) {
			continue
		}
		d.batch.SetTimers = append(d.batch.SetTimers, store.Timer{At: ev.Time, Instance: in.ID, Kind: observerJob(ev.Seq, i, 1)})
	}
}

func observerJob(seq uint64, observer, attempt int) string {
	return observePrefix + strconv.FormatUint(seq, 10) + ":" + strconv.Itoa(observer) + ":" + strconv.Itoa(attempt)
}

func parseObserverJob(kind string) (seq uint64, observer, attempt int, err error) {
	parts := strings.Split(strings.TrimPrefix(kind, observePrefix), ":")
	if len(parts) != 3 {
		return 0, 0, 0, fmt.Errorf("bad observer job %q", kind)
	}
	seq, err1 := strconv.ParseUint(parts[0], 10, 64)
	observer, err2 := strconv.Atoi(parts[1])
	attempt, err3 := strconv.Atoi(parts[2])
	return seq, observer, attempt, errors.Join(err1, err2, err3)
}

// run carries out one owed observer call.
func (q *observerQueue) run(t store.Timer) {
	q.mu.Lock()
	if q.stopped {
		q.mu.Unlock()
		return // the job stays in the store and runs after the next open
	}
	q.wg.Add(1)
	q.mu.Unlock()
	go func() {
		defer q.wg.Done()
		select {
		case q.slots <- struct{}{}:
		case <-q.ctx.Done():
			return
		}
		defer func() { <-q.slots }()
		q.call(t)
	}()
}

// runWork carries out an observer job a shared store delivered, and
// settles the delivery when the job is done (or hands it back when the
// engine closes first).
func (q *observerQueue) runWork(t store.Timer, ack store.WorkAck) {
	q.wg.Add(1)
	go func() {
		defer q.wg.Done()
		select {
		case q.slots <- struct{}{}:
		case <-q.ctx.Done():
			ack.Later(0)
			return
		}
		defer func() { <-q.slots }()
		q.call(t)
		if q.ctx.Err() != nil {
			ack.Later(0)
			return
		}
		ack.Done()
	}()
}

func (q *observerQueue) call(t store.Timer) {
	e := q.e
	seq, idx, attempt, err := parseObserverJob(t.Kind)
	if err != nil {
		e.log.Error("dropping unreadable observer job", "instance", t.Instance, "err", err)
		q.done(t, nil)
		return
	}
	in, o, ev, err := q.load(t.Instance, seq, idx)
	if err != nil {
		e.log.Error("dropping observer job", "instance", t.Instance, "event", seq, "err", err)
		q.done(t, nil)
		return
	}
	c := observerContext(in, o, ev, attempt, e.clock.Now())
	err = q.invoke(o, ev, &c)
	if err == nil || q.ctx.Err() != nil {
		if err == nil {
			q.done(t, nil)
		}
		return
	}
	fe := flow.AsError(err, flow.ErrTaskFailed)
	if r := matchRetrier(o.Retry, fe.Name); r != nil && attempt-1 < r.MaxAttempts {
		next := store.Timer{At: e.clock.Now().Add(r.Delay(attempt, e.random())), Instance: t.Instance,
			Kind: observerJob(seq, idx, attempt+1)}
		// Written again until the store takes it: the job's timer has left
		// the queue, and only the store still knows the job.
		if err := e.durably(func() error {
			return e.store.Commit(q.ctx, &store.Batch{DelTimers: []store.Timer{t}, SetTimers: []store.Timer{next}})
		}); err != nil {
			e.log.Error("reschedule observer", flow.InstanceLog(in.ID, in.Workflow, in.Version, ev.State, in.TraceParent, "err", err)...)
			return
		}
		if e.coord == nil { // a shared store delivers the retry as work
			e.timers.remove(t)
			e.timers.add(next)
		}
		return
	}
	q.done(t, &store.Event{Type: store.EventObserverFailed, State: ev.State, Error: fe.Name,
		Cause: o.RoutineName + ": " + fe.Cause, Attempt: attempt})
}

// observerContext is the ctx of an observer's call about event ev.
func observerContext(in *store.Instance, o *flow.Observer, ev *store.Event, attempt int, now time.Time) flow.Context {
	return flow.Context{Instance: in.ID, Workflow: in.Workflow, Version: in.Version, State: ev.State,
		Attempt: attempt, Visit: max(in.Visits[ev.State], 1), StartedAt: in.StartedAt, Now: now,
		ItemIndex: -1, TraceParent: in.TraceParent,
		IdempotencyKey: in.ID + "/" + strconv.FormatUint(ev.Seq, 10) + "/" + o.RoutineName}
}

// before runs the observers that watch the entry of st ahead of it
// (flow.Observer.Before), on the state's first attempt: the state starts
// once their first call has returned. A failed call does not hold the
// state up: its retries become observer jobs about the StateEntered
// event, as for any observer, or it is recorded as ObserverFailed.
func (d *driver) before(st *flow.State) {
	if d.bundle == nil || d.inst.Attempt > 1 {
		return
	}
	var ev *store.Event
	for i, o := range d.bundle.Observers {
		if !o.Before || o.State != st.Name || (o.Workflow != "*" && o.Workflow != d.inst.Workflow) {
			continue
		}
		if ev == nil {
			ev = &store.Event{Instance: d.id, Seq: d.inst.Entered, Type: store.EventStateEntered, State: st.Name, Input: d.dataEnc}
		}
		now := d.e.clock.Now()
		c := observerContext(d.inst, o, ev, 1, now)
		c.Span, c.TraceParent = d.stepSpan, d.traceParent()
		err := d.e.observers.invoke(o, ev, &c)
		if err == nil {
			continue
		}
		fe := flow.AsError(err, flow.ErrTaskFailed)
		if r := matchRetrier(o.Retry, fe.Name); r != nil && r.MaxAttempts > 0 && ev.Seq > 0 {
			d.batch.SetTimers = append(d.batch.SetTimers, store.Timer{At: now.Add(r.Delay(1, d.e.random())),
				Instance: d.id, Kind: observerJob(ev.Seq, i, 2)})
			d.touch()
			continue
		}
		d.event(store.Event{Type: store.EventObserverFailed, State: st.Name, Error: fe.Name, Cause: o.RoutineName + ": " + fe.Cause, Attempt: 1})
	}
}

// load finds the instance, the observer and the event a job is about.
func (q *observerQueue) load(id string, seq uint64, idx int) (*store.Instance, *flow.Observer, *store.Event, error) {
	in, err := q.e.store.Instance(id)
	if err != nil {
		return nil, nil, nil, err
	}
	b, err := q.e.bundle(in.Bundle)
	if err != nil {
		return nil, nil, nil, err
	}
	if idx < 0 || idx >= len(b.Observers) {
		return nil, nil, nil, fmt.Errorf("bundle %s has no observer %d", in.Bundle, idx)
	}
	evs, err := q.e.store.History(id, seq-1, 1)
	if err != nil {
		return nil, nil, nil, err
	}
	if len(evs) == 0 || evs[0].Seq != seq {
		return nil, nil, nil, fmt.Errorf("event %d is not in the history", seq)
	}
	return in, b.Observers[idx], &evs[0], nil
}

// invoke calls the observer's routine. Its input applies to the event's
// data: a state's input for StateEntered, its output for StateExited and
// ExecutionSucceeded, a task's result, an event's payload; without data,
// or without an input mapping, the routine gets the event itself.
func (q *observerQueue) invoke(o *flow.Observer, ev *store.Event, c *flow.Context) error {
	raw := ev.Output
	if len(raw) == 0 {
		raw = ev.Input
	}
	var input any
	var err error
	switch {
	case o.Input != nil && len(raw) > 0:
		var data any
		if err = flow.UnmarshalJSON(raw, &data); err == nil {
			input, err = o.Input.Eval(data, c)
		}
	default:
		var b []byte
		if b, err = json.Marshal(store.EventView(*ev)); err == nil {
			err = flow.UnmarshalJSON(b, &input)
		}
	}
	if err != nil {
		return flow.AsError(err, flow.ErrRuntime)
	}
	if s := q.span(o, c); s != nil {
		defer s.End()
		cc := *c
		cc.Span, cc.TraceParent = s, s.TraceParent()
		c = &cc
		defer func() {
			if fe := flow.AsError(err, flow.ErrTaskFailed); fe != nil {
				s.Fail(fe.Name, fe.Cause)
			}
		}()
	}
	ctx, cancel := context.WithTimeout(q.ctx, time.Minute)
	defer cancel()
	_, err = o.Routine.Call(ctx, input, c)
	return err
}

// span opens the span of an observer's call: under the step it runs
// before, or under the instance's traceparent; nil without tracing.
func (q *observerQueue) span(o *flow.Observer, c *flow.Context) flow.Span {
	name := "observe " + o.RoutineName
	switch {
	case c.Span != nil:
		return c.Span.Child(name, flow.SpanInternal)
	case q.e.tracer != nil:
		s := q.e.tracer.Start(c.TraceParent, name, flow.SpanInternal)
		s.SetString(flow.AttrInstance, c.Instance)
		s.SetString(flow.AttrWorkflow, c.Workflow)
		s.SetString(flow.AttrState, c.State)
		return s
	}
	return nil
}

// done removes the job; a failure record is appended by the instance's
// driver in the same checkpoint, so it is written exactly when the job
// goes away.
func (q *observerQueue) done(t store.Timer, failed *store.Event) {
	if failed == nil {
		err := q.e.durably(func() error { return q.e.store.Commit(q.ctx, &store.Batch{DelTimers: []store.Timer{t}}) })
		switch {
		case err == nil && q.e.coord == nil: // a shared store settles the job's work instead
			q.e.timers.remove(t)
		case err != nil && q.ctx.Err() == nil:
			// Cut off by a close, the job stays owed and runs again after the next open.
			q.e.log.Error("finish observer job", "instance", t.Instance, "err", err)
		}
		return
	}
	q.e.post(t.Instance, message{kind: msgAppend, event: *failed, timer: &t})
}
