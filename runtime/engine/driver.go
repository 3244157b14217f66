package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/store"
)

type msgKind uint8

const (
	msgWake    msgKind = iota // re-check: a timer fired, an event was kept, a child ended
	msgCancel                 // end as CANCELLED
	msgPause                  // stop after the running step
	msgResume                 // undo a pause
	msgRedrive                // run a failed instance again from its failed state
	msgAppend                 // append a history event (observer failures)
	msgMigrate                // move to another version of the workflow
	msgRecover                // resume a RUNNING instance after a restart, counted (quarantine.go)
	msgRecheck                // msgWake after a restart, which also cancels a child whose parent has ended
)

type message struct {
	kind    msgKind
	event   store.Event
	timer   *store.Timer // msgAppend: an observer job to remove with the event
	migrate *migrateRequest
	cause   string
	entered uint64 // msgRedrive: the visit (Instance.Entered) whose failure the request saw
	reply   chan error
	// With a shared store (shared.go): the delivery of work that brought
	// the message, and whether another sidecar handed the message over.
	work      *store.Work
	forwarded bool
}

func (m message) answer(err error) {
	if m.reply != nil {
		m.reply <- err
	}
}

// driver owns one instance while it has work: it is the only goroutine that
// changes the instance's record. Drivers are pooled with their buffers.
type driver struct {
	e  *Engine
	id string

	// guarded by e.mu
	mailbox    []message
	stopping   bool
	cancelStep context.CancelFunc

	// owned by the driver goroutine
	inst     *store.Instance
	stored   store.WaitingKind // what inst waits for as last stored (engine.waits)
	bundle   *flow.Bundle
	wf       *flow.Workflow
	machine  *flow.Machine
	data     any             // decoded inst.Data
	dataEnc  json.RawMessage // inst.Data as last encoded
	fctx     flow.Context
	keyState string // the state and visit fctx.IdempotencyKey was made for
	keyVisit int
	scratch  []byte            // encodeAs's buffer, kept with the pooled driver
	hasher   store.ChainHasher // its events' chain hashes, kept with it too
	segment  flow.Span         // the run segment's span while steps run (tracing on)
	stepSpan flow.Span         // the running step's span (tracing on)
	stepTP   string            // its traceparent
	scope    scope
	execFn   func() (flow.Execution, error) // d.execution, bound once per driver
	batch    store.Batch
	inbox    []message
	wake     []string      // instances to wake after the commit
	cancel   []string      // children to cancel after the commit
	endedNow bool          // the pending checkpoint ends the instance
	over     bool          // the instance has ended (guarded by Engine.mu, for Wait)
	unsaved  *unsavedStart // the start, until the first commit stores it
	claim    *startClaim   // the id's start claim, until the first commit stores the instance
	writeErr error         // why the last checkpoint was given up
	started  bool          // the first commit after an unsaved start is done
	// A counted resume after a restart (quarantine.go): its stage, and
	// the reply to answer when the step after it has checkpointed.
	resuming    resumeStage
	resumeReply chan error

	// With a shared store (shared.go): the instance's lease and the work
	// the driver holds until it lets the instance go.
	hold *hold
}

var driverPool = sync.Pool{New: func() any {
	d := new(driver)
	d.execFn = d.execution
	return d
}}

// post delivers a message to an instance, starting a driver if it has none.
func (e *Engine) post(id string, m message) {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		m.answer(ErrClosed)
		return
	}
	if d := e.owners[id]; d != nil {
		d.mailbox = append(d.mailbox, m)
		if m.kind == msgCancel && d.cancelStep != nil {
			d.cancelStep()
		}
		e.mu.Unlock()
		return
	}
	d := e.register(id)
	d.mailbox = append(d.mailbox, m)
	e.mu.Unlock()
	go d.run()
}

// register takes a pooled driver for id, which has none, and counts it
// as running; e.mu is held.
func (e *Engine) register(id string) *driver {
	d := driverPool.Get().(*driver)
	d.e, d.id = e, id
	d.mailbox = d.mailbox[:0]
	e.owners[id] = d
	e.drivers.Add(1)
	return d
}

// ask posts a message and waits for the driver's answer.
func (e *Engine) ask(id string, kind msgKind, cause string) error {
	reply := make(chan error, 1)
	e.post(id, message{kind: kind, cause: cause, reply: reply})
	return <-reply
}

func (d *driver) stop() {
	d.stopping = true
	// Steps are given Close's grace period; cancelling them is the caller's
	// choice through the context it passes to Close.
}

func (d *driver) run() {
	e := d.e
	defer e.drivers.Done()
	for {
		e.mu.Lock()
		if d.stopping || len(d.mailbox) == 0 {
			for _, m := range d.mailbox {
				m.answer(ErrClosed)
			}
			delete(e.owners, d.id)
			e.mu.Unlock()
			if d.claim != nil { // never stored: an abandoned express instance
				e.unclaim(d.id, d.claim)
			}
			if e.coord != nil {
				d.letGo()
			}
			d.release()
			return
		}
		d.inbox, d.mailbox = d.mailbox, d.inbox[:0]
		e.mu.Unlock()
		d.handle(d.inbox)
		clear(d.inbox)
	}
}

func (d *driver) release() {
	d.answerResume(nil)
	*d = driver{mailbox: d.mailbox[:0], inbox: d.inbox[:0], batch: d.batch, wake: d.wake[:0],
		cancel: d.cancel[:0], execFn: d.execFn, scratch: d.scratch[:0], hasher: d.hasher}
	d.batch.Reset()
	driverPool.Put(d)
}

// interrupted reports whether messages wait that must be handled before
// the next step (everything but plain wake-ups, which a running instance
// does not need).
func (d *driver) interrupted() bool {
	d.e.mu.Lock()
	defer d.e.mu.Unlock()
	if d.stopping {
		return true
	}
	for _, m := range d.mailbox {
		if m.kind != msgWake {
			return true
		}
	}
	return false
}

// load reads the instance and resolves its code.
func (d *driver) load() error {
	inst, err := d.e.store.Instance(d.id)
	if err != nil {
		return err
	}
	d.inst = inst
	d.stored = waitingKind(inst)
	d.e.waits.loaded(d.id, d.stored)
	if inst.Status.Terminal() {
		if d.e.coord != nil && inst.ConcKey != "" && inst.Parent == "" {
			// The sidecar that ended it may have died before it gave the
			// slot back (its takeover guard woke it here): give it back.
			d.e.releaseSlot(inst.Workflow, inst.ConcKey, d.id)
		}
		d.ended() // a Wait that raced with this driver's start learns it here
		return nil
	}
	return d.resolve()
}

func (d *driver) resolve() error {
	b, err := d.e.bundle(d.inst.Bundle)
	if err != nil {
		return err
	}
	wf := b.Workflows[d.inst.Workflow]
	if wf == nil {
		return fmt.Errorf("workflow %q is not in bundle %s", d.inst.Workflow, d.inst.Bundle)
	}
	m := wf.Machines[d.inst.Machine]
	if m == nil {
		return fmt.Errorf("workflow %q has no machine %q", d.inst.Workflow, d.inst.Machine)
	}
	d.bundle, d.wf, d.machine = b, wf, m
	d.dataEnc = d.inst.Data
	d.data = nil
	if len(d.inst.Data) > 0 {
		if err := flow.UnmarshalJSON(d.inst.Data, &d.data); err != nil {
			return fmt.Errorf("decode data: %w", err)
		}
	}
	return d.loadScope()
}

func (d *driver) handle(msgs []message) {
	if d.e.coord != nil {
		if d.inst == nil && !d.holds() && !d.acquire(msgs) {
			return
		}
		d.holdWork(msgs)
	}
	if d.inst == nil {
		if err := d.load(); err != nil {
			if !errors.Is(err, store.ErrNotFound) {
				d.e.log.Error("cannot load instance", "instance", d.id, "err", err)
			}
			d.settleFired(msgs, errors.Is(err, store.ErrNotFound))
			for _, m := range msgs {
				m.answer(err)
			}
			d.inst = nil
			return
		}
	}
	errs := make([]error, len(msgs))
	for i, m := range msgs {
		errs[i] = d.apply(m)
	}
	// Answer once the change is durable, so callers read what they caused.
	committed := d.commit()
	for i, m := range msgs {
		if errs[i] == errAnswerLater {
			continue
		}
		if errs[i] == nil && !committed {
			errs[i] = fmt.Errorf("%w: checkpoint of instance %s not written: %v", ErrUnavailable, d.id, d.writeErr)
		}
		m.answer(errs[i])
	}
	if committed && !d.waitsItsTurn() {
		d.evaluate()
	}
}

// settleFired tells the timer queue that the timers fired at an instance
// that cannot be loaded (gone, or unreadable) are done with: what the
// store still holds of them may fire again, and nothing stays in flight
// for an instance that is gone. Those of an instance that is gone are
// deleted from the store, whichever store: nothing else would.
func (d *driver) settleFired(msgs []message, gone bool) {
	var fired []store.Timer
	if d.e.coord != nil { // a shared store delivers due timers as work, settled as the lease goes
		for _, m := range msgs {
			if m.work != nil && m.work.Timer != nil {
				fired = append(fired, *m.work.Timer)
			}
		}
	} else {
		fired = d.e.timers.settleInstance(d.id)
	}
	for _, m := range msgs {
		if m.kind == msgAppend && m.timer != nil {
			if d.e.coord == nil {
				d.e.timers.settle(*m.timer)
			}
			fired = append(fired, *m.timer)
		}
	}
	if gone && len(fired) > 0 {
		d.e.dropOrphanTimers(fired)
	}
}

// apply carries out one message on the loaded instance.
func (d *driver) apply(m message) error {
	in := d.inst
	switch m.kind {
	case msgWake:
		return nil
	case msgRecheck:
		d.cancelOrphan()
		return nil
	case msgAppend:
		d.event(m.event)
		if m.timer != nil {
			d.batch.DelTimers = append(d.batch.DelTimers, *m.timer)
		}
		return nil
	case msgCancel:
		if in.Status.Terminal() {
			return ErrEnded
		}
		cause := m.cause
		if cause == "" {
			cause = "cancelled"
		}
		d.end(store.Cancelled, store.EventExecutionCancelled, nil, &flow.Error{Name: flow.ErrCancelled, Cause: cause})
		return nil
	case msgPause:
		if in.Status.Terminal() {
			return ErrEnded
		}
		if in.Status != store.Paused {
			in.PausedStatus, in.PausedWaiting = in.Status, in.Waiting
			in.Status, in.Waiting = store.Paused, &store.WaitingFor{Kind: store.WaitPaused}
			d.touch()
		}
		return nil
	case msgResume:
		if in.Status != store.Paused {
			return ErrNotPaused
		}
		in.Status, in.Waiting = in.PausedStatus, in.PausedWaiting
		in.PausedStatus, in.PausedWaiting = "", nil
		d.touch()
		return nil
	case msgMigrate:
		return d.migrate(m.migrate)
	case msgRecover:
		return d.recover(m)
	case msgRedrive:
		switch {
		case in.Status != store.Failed && in.Status != store.TimedOut:
			return fmt.Errorf("%w: instance %s is %s", ErrNotEnded, in.ID, in.Status)
		case in.Entered != m.entered:
			return fmt.Errorf("%w: instance %s was redriven since this request read it", ErrNotEnded, in.ID)
		}
		if d.bundle == nil {
			if err := d.resolve(); err != nil {
				return err
			}
		}
		if in.ConcKey != "" {
			if err := d.e.concurrencyRestored(nil); err != nil {
				return err
			}
		}
		held, err := d.reslot()
		if err != nil {
			return err
		}
		in.Status, in.Error, in.Cause, in.EndedAt, in.Output = store.Running, "", "", nil, nil
		in.Waiting = nil
		d.restarted()
		d.clearFanOut()
		d.setDeadline()
		d.enter(in.State, d.data, d.dataEnc)
		if !held {
			in.Status, in.Waiting = store.Queued, &store.WaitingFor{Kind: store.WaitConcurrency, Key: in.ConcKey}
		}
		return nil
	}
	return fmt.Errorf("unknown message %d", m.kind)
}

// evaluate moves the instance on as far as it can go now: one run
// segment.
func (d *driver) evaluate() {
	d.evaluateSteps()
	d.endSegment()
}

func (d *driver) evaluateSteps() {
	for d.inst != nil && !d.inst.Status.Terminal() {
		if d.deadlinePassed() {
			d.end(store.TimedOut, store.EventExecutionTimedOut, nil, &flow.Error{Name: flow.ErrTimeout,
				Cause: fmt.Sprintf("workflow %s exceeded its timeout of %s", d.inst.Workflow, d.wf.Timeout)})
			d.commit()
			return
		}
		switch d.inst.Status {
		case store.Running:
			if d.interrupted() {
				return
			}
			if !d.runStep() {
				return
			}
		case store.Waiting:
			if !d.recheck() {
				return
			}
		case store.Queued:
			if !d.admitted() {
				return
			}
			d.inst.Status, d.inst.Waiting = store.Running, nil
			d.touch()
		default:
			return
		}
		if !d.commit() {
			return
		}
	}
}

// reslot takes a concurrency slot again for a redriven instance, which
// gave its slot back when it ended, or queues it for one: false when it
// must wait. An instance without a key needs none.
func (d *driver) reslot() (bool, error) {
	in := d.inst
	if in.ConcKey == "" || in.Parent != "" {
		return true, nil
	}
	in.ConcSeq = d.e.conc.arrival(time.Now())
	held, err := d.e.acquireSlot(in.Workflow, in.ConcKey, d.slotLimit(), in.ID)
	if err != nil {
		return false, fmt.Errorf("%w: concurrency slot of %s: %v", ErrUnavailable, in.ID, err)
	}
	return held, nil
}

// slotLimit is how many instances of the driver's key may run at once.
func (d *driver) slotLimit() int {
	if c := d.wf.Concurrency; c != nil {
		return c.Limit
	}
	return 1
}

// admitted reports whether the queued instance got a slot of its key.
func (d *driver) admitted() bool {
	e := d.e
	if e.coord == nil {
		return e.conc.take(d.id)
	}
	// Asking again also frees the slots of instances that ended without
	// giving theirs back; a queued instance is woken when it gets one.
	held, err := e.acquireSlot(d.inst.Workflow, d.inst.ConcKey, d.slotLimit(), d.id)
	if err != nil {
		e.log.Error("ask for a concurrency slot; the instance waits for the next one given back", d.logArgs("err", err)...)
	}
	return held
}

func (d *driver) deadlinePassed() bool {
	return d.inst.Deadline != nil && !d.e.clock.Now().Before(*d.inst.Deadline)
}

func (d *driver) setDeadline() {
	d.inst.Deadline = nil
	if d.wf.Timeout > 0 && d.inst.Machine == "" { // a workflow's body, called or not; not a branch or an item
		at := d.e.clock.Now().Add(d.wf.Timeout)
		d.inst.Deadline = &at
		d.batch.SetTimers = append(d.batch.SetTimers, store.Timer{At: at, Instance: d.id, Kind: timerDeadline})
	}
}

// Timer kinds.
const (
	timerWake     = "wake"     // a wait, a retry delay or an await timeout is due
	timerDeadline = "deadline" // the workflow timeout
)

func (e *Engine) fire(t store.Timer) {
	if strings.HasPrefix(t.Kind, observePrefix) {
		e.observers.run(t)
		return
	}
	e.post(t.Instance, message{kind: msgWake})
}

// touch marks the record changed so that the next commit writes it.
func (d *driver) touch() {
	d.inst.UpdatedAt = d.e.clock.Now()
	for _, in := range d.batch.Instances {
		if in == d.inst {
			return
		}
	}
	d.batch.Instances = append(d.batch.Instances, d.inst)
}

// event appends a history event to the pending checkpoint. It is where
// every error that reaches the history is bounded.
func (d *driver) event(ev store.Event) {
	ev.Error, ev.Cause = flow.BoundName(ev.Error), flow.BoundCause(ev.Cause, d.e.maxCause)
	d.inst.Seq++
	ev.Seq = d.inst.Seq
	ev.Instance = d.id
	if ev.Time.IsZero() {
		ev.Time = d.e.clock.Now()
	}
	ev.Hash = d.hasher.Hash(d.inst.Chain, &ev)
	d.inst.Chain = ev.Hash
	d.batch.Events = append(d.batch.Events, ev)
	d.owe(&d.batch.Events[len(d.batch.Events)-1])
	d.touch()
}

// commit writes the pending checkpoint. An express instance skips
// checkpoints while it runs: only parking and ending are written. It
// returns false when the instance cannot go on (the write failed).
func (d *driver) commit() bool {
	if d.batch.Empty() {
		return true
	}
	if d.inst.Express && d.inst.Status == store.Running && len(d.batch.SetTimers) == 0 {
		return true
	}
	// A write that fails keeps the checkpoint: it is written again, with
	// backoff, until the store takes it, and the instance carries on as if
	// nothing had happened; only a close gives up, and the instance then
	// resumes from its last checkpoint on the next open.
	if err := d.e.durably(d.write); err != nil {
		d.writeErr = err
		d.e.log.Error("checkpoint not written before closing; the instance resumes from its last checkpoint", d.logArgs("err", err)...)
		d.batch.Reset()
		d.inst = nil // reload from the store on the next message
		return false
	}
	d.afterCommit()
	return true
}

// write commits the batch; the first commit after an unsaved start goes
// through it so that a Wait giving up cannot store the start after it.
func (d *driver) write() error {
	if d.e.coord != nil {
		return d.writeLeased()
	}
	if d.unsaved != nil && !d.started {
		err := d.unsaved.commit(d.e.store, &d.batch)
		d.started = err == nil
		return err
	}
	return d.e.store.Commit(context.Background(), &d.batch)
}

// afterCommit tells the rest of the engine what the checkpoint changed.
func (d *driver) afterCommit() {
	e := d.e
	if e.coord == nil { // a shared store delivers due timers as work
		for _, t := range d.batch.DelTimers {
			e.timers.remove(t)
		}
		for _, t := range d.batch.SetTimers {
			e.timers.add(t)
		}
	}
	if e.onEvent != nil {
		for i := range d.batch.Events {
			ev := &d.batch.Events[i]
			wf := d.inst.Workflow
			if ev.Instance != d.id {
				wf = d.childWorkflow(ev.Instance) // a child's first events
			}
			e.onEvent(wf, ev)
		}
	}
	if k := waitingKind(d.inst); k != d.stored {
		e.waits.move(d.stored, k)
		d.stored = k
	}
	d.batch.Reset()
	if d.claim != nil { // the store answers repeated starts from now on
		e.unclaim(d.id, d.claim)
		d.claim = nil
	}
	for _, id := range d.wake {
		e.post(id, message{kind: msgWake})
	}
	d.wake = d.wake[:0]
	for _, id := range d.cancel {
		e.post(id, message{kind: msgCancel, cause: causeParentEnded})
	}
	d.cancel = d.cancel[:0]
	if d.endedNow {
		d.endedNow = false
		if d.inst.ConcKey != "" && d.inst.Parent == "" {
			e.releaseSlot(d.inst.Workflow, d.inst.ConcKey, d.id)
		}
		d.ended()
	}
	if d.resuming != resumeNone {
		d.resumed()
	}
}

// causeParentEnded is the cause of a child cancelled because its parent
// ended.
const causeParentEnded = "parent instance ended"

// cancelOrphan ends a child whose parent has ended (or is gone). A parent
// that ends cancels its unfinished children once its own end is written,
// in checkpoints of theirs: a sidecar that stopped in between leaves them
// to a restart, which looks at each unfinished instance again.
func (d *driver) cancelOrphan() {
	in := d.inst
	if in.Parent == "" || in.Status.Terminal() {
		return
	}
	p, err := d.e.store.Instance(in.Parent)
	if err == nil && !p.Status.Terminal() || err != nil && !errors.Is(err, store.ErrNotFound) {
		return // still awaited, or unreadable: nothing to judge by
	}
	d.end(store.Cancelled, store.EventExecutionCancelled, nil, &flow.Error{Name: flow.ErrCancelled, Cause: causeParentEnded})
}

// end finishes the instance with a terminal status.
func (d *driver) end(status store.Status, evType store.EventType, output json.RawMessage, fe *flow.Error) {
	in := d.inst
	now := d.e.clock.Now()
	in.Status, in.EndedAt, in.Waiting = status, &now, nil
	d.endedNow = true
	ev := store.Event{Type: evType, State: in.State}
	if fe != nil {
		fe = fe.Bounded(d.e.maxCause)
		in.Error, in.Cause = fe.Name, fe.Cause
		ev.Error, ev.Cause = fe.Name, fe.Cause
	} else {
		in.Output = output
		ev.Output = output
	}
	d.event(ev)
	d.dropTimers()
	d.cancel = append(d.cancel, in.Children...)
	if status != store.Succeeded || fe != nil {
		d.clearFanOut()
	}
	if in.Parent != "" {
		d.wake = append(d.wake, in.Parent)
	}
}

// dropTimers removes every timer the instance may have.
func (d *driver) dropTimers() {
	in := d.inst
	if w := in.Waiting; w != nil && w.Until != nil {
		d.batch.DelTimers = append(d.batch.DelTimers, store.Timer{At: *w.Until, Instance: d.id, Kind: timerWake})
	}
	if w := in.PausedWaiting; w != nil && w.Until != nil {
		d.batch.DelTimers = append(d.batch.DelTimers, store.Timer{At: *w.Until, Instance: d.id, Kind: timerWake})
	}
	if in.Status.Terminal() && in.Deadline != nil {
		d.batch.DelTimers = append(d.batch.DelTimers, store.Timer{At: *in.Deadline, Instance: d.id, Kind: timerDeadline})
	}
}

// park makes the instance wait; a wait with a time gets a durable timer.
func (d *driver) park(w *store.WaitingFor) {
	d.inst.Status, d.inst.Waiting = store.Waiting, w
	if w.Until != nil {
		d.batch.SetTimers = append(d.batch.SetTimers, store.Timer{At: *w.Until, Instance: d.id, Kind: timerWake})
	}
	d.touch()
}

// unpark ends a wait: its timer, if any, is no longer needed.
func (d *driver) unpark() {
	if w := d.inst.Waiting; w != nil && w.Until != nil {
		d.batch.DelTimers = append(d.batch.DelTimers, store.Timer{At: *w.Until, Instance: d.id, Kind: timerWake})
	}
	d.inst.Status, d.inst.Waiting = store.Running, nil
	d.touch()
}

func timePtr(t time.Time) *time.Time { return &t }

// childWorkflow names the workflow of a child started in this checkpoint.
func (d *driver) childWorkflow(id string) string {
	for _, in := range d.batch.Instances {
		if in.ID == id {
			return in.Workflow
		}
	}
	return ""
}

// logArgs appends to args what every log line about the driver's instance
// carries (flow.InstanceLog); before the record is loaded, its id alone.
func (d *driver) logArgs(args ...any) []any {
	in := d.inst
	if in == nil {
		return append([]any{flow.LogInstance, d.id}, args...)
	}
	return flow.InstanceLog(in.ID, in.Workflow, in.Version, in.State, in.TraceParent, args...)
}
