package engine

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/store"
)

// observerQueue runs observers (SPEC 1.4) after the events they watch are
// committed. They run beside the instance, never change its data or flow,
// retry by their own rules, and leave ObserverFailed in the history when
// they give up.
type observerQueue struct {
	e     *Engine
	slots chan struct{}
	wg    sync.WaitGroup
	ctx   context.Context
	stopf context.CancelFunc
}

func newObserverQueue(e *Engine) *observerQueue {
	ctx, cancel := context.WithCancel(context.Background())
	return &observerQueue{e: e, slots: make(chan struct{}, 64), ctx: ctx, stopf: cancel}
}

func (q *observerQueue) start() {}

func (q *observerQueue) stop() {
	q.stopf()
	q.wg.Wait()
}

// notify starts every observer of b that watches ev.
func (q *observerQueue) notify(b *flow.Bundle, in *store.Instance, ev store.Event, data any) {
	for _, o := range b.Observers {
		if (o.Workflow != "*" && o.Workflow != in.Workflow) || o.On != ev.Type || (o.State != "" && o.State != ev.State) {
			continue
		}
		c := flow.Context{Instance: in.ID, Workflow: in.Workflow, Version: in.Version, State: ev.State,
			Attempt: 1, Visit: max(in.Visits[ev.State], 1), StartedAt: in.StartedAt, ItemIndex: -1,
			IdempotencyKey: in.ID + "/" + itoa(int(ev.Seq)) + "/" + o.RoutineName, TraceParent: in.TraceParent}
		q.wg.Add(1)
		go q.run(o, c, ev, data)
	}
}

func (q *observerQueue) run(o *flow.Observer, c flow.Context, ev store.Event, data any) {
	defer q.wg.Done()
	select {
	case q.slots <- struct{}{}:
	case <-q.ctx.Done():
		return
	}
	defer func() { <-q.slots }()

	var input any
	var err error
	if o.Input != nil {
		input, err = o.Input.Eval(data, &c)
	} else {
		var raw []byte
		if raw, err = json.Marshal(ev); err == nil {
			err = json.Unmarshal(raw, &input)
		}
	}
	for err == nil {
		c.Now = q.e.clock.Now()
		if _, err = o.Routine.Call(q.ctx, input, &c); err == nil {
			return
		}
		fe := flow.AsError(err, flow.ErrTaskFailed)
		r := matchRetrier(o.Retry, fe.Name)
		if r == nil || c.Attempt-1 >= r.MaxAttempts || !q.sleep(r.Delay(c.Attempt, q.e.random())) {
			break
		}
		c.Attempt++
	}
	if q.ctx.Err() != nil {
		return
	}
	fe := flow.AsError(err, flow.ErrTaskFailed)
	q.e.post(c.Instance, message{kind: msgAppend, event: store.Event{Type: "ObserverFailed", State: ev.State,
		Error: fe.Name, Cause: o.RoutineName + ": " + fe.Cause, Attempt: c.Attempt}})
}

// sleep waits on the engine's clock; false when the engine stops first.
func (q *observerQueue) sleep(d time.Duration) bool {
	done := make(chan struct{})
	t := q.e.clock.AfterFunc(d, func() { close(done) })
	select {
	case <-done:
		return true
	case <-q.ctx.Done():
		t.Stop()
		return false
	}
}
