package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/orbit-sidecar/orbit/internal/jsonenc"
	"github.com/orbit-sidecar/orbit/runtime/clock"
	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/store"
)

// state returns the current state's definition.
func (d *driver) state() (*flow.State, *flow.Error) {
	st := d.machine.States[d.inst.State]
	if st == nil {
		return nil, flow.Errorf(flow.ErrRuntime, "state %q is not in workflow %s", d.inst.State, d.inst.Workflow)
	}
	return st, nil
}

// context fills ctx (SPEC 1.1) for the current state.
func (d *driver) context() *flow.Context {
	in := d.inst
	c := &d.fctx
	c.Instance, c.Workflow, c.Version, c.State = in.ID, in.Workflow, in.Version, in.State
	c.Attempt, c.Visit = max(in.Attempt, 1), max(in.Visits[in.State], 1)
	c.StartedAt, c.Now = in.StartedAt, d.e.clock.Now()
	if d.keyState != in.State || d.keyVisit != c.Visit || c.IdempotencyKey == "" {
		// A task step asks for its context twice (the call, the result):
		// the key is built once per visit.
		c.IdempotencyKey = in.ID + "/" + in.State + "/" + itoa(c.Visit)
		d.keyState, d.keyVisit = in.State, c.Visit
	}
	c.ItemIndex = -1
	if in.MapItem {
		c.ItemIndex = in.Index
	}
	c.TraceParent, c.Span = d.traceParent(), d.stepSpan
	c.EnteredAt, c.Entered = in.EnteredAt, in.Entered
	c.Vars = d.scope.all
	c.Execution = d.execFn
	return c
}

// step runs the current state once. It returns false when the instance
// cannot move on now (a failed checkpoint or an interrupted step).
func (d *driver) step() bool {
	st, fe := d.state()
	if fe != nil {
		d.fail(fe)
		return true
	}
	d.before(st)
	c := d.context()
	in, err := eval(st.Input, d.data, c)
	if err != nil {
		d.raise(st, flow.AsError(err, flow.ErrRuntime))
		return true
	}
	switch st.Kind {
	case flow.Task:
		return d.task(st, in, c)
	case flow.Choice:
		d.choose(st, in, c)
	case flow.Pass:
		res := in
		if st.HasValue {
			res = st.Value
		}
		d.complete(st, res)
	case flow.Wait:
		d.wait(st, in, c)
	case flow.Await:
		d.await(st, in)
	case flow.Parallel, flow.Map, flow.Call:
		d.fanOut(st, in, c)
	case flow.Succeed:
		out, err := eval(st.Output, in, c)
		if err != nil {
			d.fail(flow.AsError(err, flow.ErrRuntime))
			return true
		}
		enc, fe := d.encode(out)
		if fe != nil {
			d.fail(fe)
			return true
		}
		d.event(store.Event{Type: store.EventStateExited, State: st.Name, Output: enc})
		d.end(store.Succeeded, store.EventExecutionSucceeded, enc, nil)
	case flow.Fail:
		d.fail(failure(st, in, c, d.wf.Dialect))
	default:
		d.fail(flow.Errorf(flow.ErrRuntime, "state %q has unknown kind %s", st.Name, st.Kind))
	}
	return true
}

// failure is the error a fail state ends its machine with: its error
// and cause, an unnamed one named as the workflow's dialect says.
func failure(st *flow.State, in any, c *flow.Context, dialect flow.Dialect) *flow.Error {
	name, err1 := flow.Text(st.Error, in, c)
	cause, err2 := flow.Text(st.Cause, in, c)
	if err := errors.Join(err1, err2); err != nil {
		return flow.AsError(err, flow.ErrRuntime)
	}
	if name == "" {
		name = flow.ErrFail
		if dialect != nil {
			name = dialect.UnnamedFailure()
		}
	}
	return &flow.Error{Name: name, Cause: cause}
}

func eval(e flow.Expr, data any, c *flow.Context) (any, error) {
	if e == nil {
		return data, nil
	}
	return e.Eval(data, c)
}

// task calls the state's routine with the attempt's deadline.
func (d *driver) task(st *flow.State, in any, c *flow.Context) bool {
	ev := store.Event{Type: store.EventTaskScheduled, State: st.Name, Attempt: c.Attempt}
	if flow.IsIdentity(st.Input) {
		ev.Input = d.dataEnc
	} else {
		// The input goes into the history: it is held to the payload
		// limit like the data it came from.
		enc, fe := d.encodeAs("input", in)
		if fe != nil {
			d.raise(st, fe)
			return true
		}
		ev.Input = enc
	}
	d.event(ev)

	timeout, heartbeat, fe := attemptBounds(st, d.data, c)
	if fe != nil {
		d.raise(st, fe)
		return true
	}
	bound, byHeartbeat := attemptBound(timeout, heartbeat)
	ctx, cancel := d.stepContext(bound)
	res, err := st.Routine.Call(ctx, in, c)
	ctxErr := ctx.Err()
	timedOut := errors.Is(context.Cause(ctx), context.DeadlineExceeded)
	cancel()
	d.e.mu.Lock()
	d.cancelStep = nil
	stopping := d.stopping
	d.e.mu.Unlock()

	if err != nil {
		var fe *flow.Error
		switch {
		case errors.As(err, &fe):
		case timedOut:
			fe = timeoutError(st, d.wf.Dialect, byHeartbeat, timeout, heartbeat)
		case stopping && ctxErr != nil:
			// Shut down mid-call: forget the attempt; it runs again on restart.
			d.batch.Reset()
			d.inst = nil
			return false
		case ctxErr != nil:
			fe = &flow.Error{Name: flow.ErrCancelled, Cause: "the step was cancelled"}
		default:
			fe = flow.AsError(err, flow.ErrTaskFailed)
		}
		if fe.Name == flow.ErrCancelled && d.cancelPending() {
			// A cancel message ends the instance; the step's error is moot.
			return true
		}
		d.event(store.Event{Type: store.EventTaskFailed, State: st.Name, Error: fe.Name, Cause: fe.Cause, Attempt: c.Attempt})
		d.raise(st, fe)
		return true
	}
	res, fe = decodeResult(res)
	var out json.RawMessage
	if fe == nil {
		out, fe = d.encode(res)
	}
	if fe != nil {
		d.event(store.Event{Type: store.EventTaskFailed, State: st.Name, Error: fe.Name, Cause: fe.Cause, Attempt: c.Attempt})
		d.raise(st, fe)
		return true
	}
	d.event(store.Event{Type: store.EventTaskSucceeded, State: st.Name, Output: out, Attempt: c.Attempt})
	if passesResult(st) {
		d.leave(st, st.Next, res, out) // the output is the result: encoded once
		return true
	}
	d.complete(st, res)
	return true
}

// passesResult reports whether a task's output is its result as it is:
// no finisher, result placement or output shaping.
func passesResult(st *flow.State) bool {
	return st.Finish == nil && !st.DiscardResult && st.Result == nil && st.Output == nil
}

// attemptBound is what bounds an attempt: the timeout, or the heartbeat
// when it is shorter (a routine sends no heartbeats).
func attemptBound(timeout, heartbeat time.Duration) (bound time.Duration, byHeartbeat bool) {
	if heartbeat > 0 && (timeout == 0 || heartbeat < timeout) {
		return heartbeat, true
	}
	return timeout, false
}

// timeoutError is the error of a task whose attempt ran out of its
// timeout, or of its heartbeat, named as the workflow's dialect says.
func timeoutError(st *flow.State, dialect flow.Dialect, byHeartbeat bool, timeout, heartbeat time.Duration) *flow.Error {
	switch {
	case dialect != nil:
		return dialect.TimedOut(st, byHeartbeat)
	case byHeartbeat:
		return flow.Errorf(flow.ErrHeartbeat, "state %s: the routine gave no sign of life within the heartbeat of %s", st.Name, heartbeat)
	}
	return flow.Errorf(flow.ErrTimeout, "state %s timed out after %s", st.Name, timeout)
}

// decodeResult reads a routine's result given as JSON text
// (json.RawMessage: the body as its service wrote it) into a value.
func decodeResult(res any) (any, *flow.Error) {
	raw, ok := res.(json.RawMessage)
	if !ok {
		return res, nil
	}
	var v any
	if err := flow.UnmarshalJSON(raw, &v); err != nil {
		return nil, flow.Errorf(flow.ErrTaskFailed, "the routine's result is not JSON: %v", err)
	}
	return v, nil
}

// attemptBounds are a task's timeout and heartbeat for one attempt: its
// own, or those its TimeoutFrom and HeartbeatFrom read from data (the
// state's input as it entered) in seconds.
func attemptBounds(st *flow.State, data any, c *flow.Context) (timeout, heartbeat time.Duration, fe *flow.Error) {
	timeout, heartbeat = st.Timeout, st.Heartbeat
	if st.TimeoutFrom != nil {
		if timeout, fe = boundFrom(st, st.TimeoutFrom, "timeout", data, c); fe != nil {
			return 0, 0, fe
		}
	}
	if st.HeartbeatFrom != nil {
		if heartbeat, fe = boundFrom(st, st.HeartbeatFrom, "heartbeat", data, c); fe != nil {
			return 0, 0, fe
		}
	}
	return timeout, heartbeat, nil
}

// boundFrom reads one of a task's bounds (what) from data in seconds. It
// is a function of its own, not a loop over both bounds, so that a task
// without them costs no allocation.
func boundFrom(st *flow.State, from flow.Expr, what string, data any, c *flow.Context) (time.Duration, *flow.Error) {
	v, err := from.Eval(data, c)
	if err != nil {
		return 0, flow.AsError(err, flow.ErrRuntime)
	}
	sec, ok := flow.Number(v)
	if !ok || sec <= 0 || sec > float64(math.MaxInt64/int64(time.Second)) {
		return 0, flow.Errorf(flow.ErrRuntime, "state %s: the %s is %s, not a positive number of seconds", st.Name, what, flow.TypeName(v))
	}
	return time.Duration(sec * float64(time.Second)), nil
}

// stepContext bounds one attempt by the state's timeout and the workflow's
// deadline, and lets a cancel message interrupt it.
func (d *driver) stepContext(timeout time.Duration) (context.Context, context.CancelFunc) {
	var ctx context.Context
	var cancel context.CancelFunc
	deadline := time.Time{}
	if timeout > 0 {
		deadline = d.e.clock.Now().Add(timeout)
	}
	if dl := d.inst.Deadline; dl != nil && (deadline.IsZero() || dl.Before(deadline)) {
		deadline = *dl
	}
	if deadline.IsZero() {
		ctx, cancel = context.WithCancel(context.Background())
	} else {
		ctx, cancel = d.e.boundContext(context.Background(), deadline.Sub(d.e.clock.Now()))
	}
	d.e.mu.Lock()
	d.cancelStep = cancel
	d.e.mu.Unlock()
	return ctx, cancel
}

// boundContext ends after wait. The deadline is wall time, so that a
// fake clock cannot keep a real HTTP call from being stopped; it follows
// the engine's clock too, so that a routine waiting on that clock is
// stopped when it says so. A deadline that passed is in context.Cause.
func (e *Engine) boundContext(parent context.Context, wait time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(parent, wait)
	if _, real := e.clock.(clock.Real); real {
		return ctx, cancel
	}
	cctx, cancelCause := context.WithCancelCause(ctx)
	t := e.clock.AfterFunc(wait, func() { cancelCause(context.DeadlineExceeded) })
	return cctx, func() {
		t.Stop()
		cancelCause(context.Canceled)
		cancel()
	}
}

func (d *driver) cancelPending() bool {
	d.e.mu.Lock()
	defer d.e.mu.Unlock()
	for _, m := range d.mailbox {
		if m.kind == msgCancel {
			return true
		}
	}
	return false
}

func (d *driver) choose(st *flow.State, in any, c *flow.Context) {
	next, finish, fe := chooseRule(st, in, c)
	if fe != nil {
		d.raise(st, fe)
		return
	}
	d.finish(st, finish, next, d.data, in, c)
}

// chooseRule picks a choice's next state: the first rule that holds, else
// the default; finish is what shapes the state's output.
func chooseRule(st *flow.State, in any, c *flow.Context) (next string, finish flow.Finisher, fe *flow.Error) {
	finish = st.Finish
	for i := range st.Rules {
		r := &st.Rules[i]
		ok, err := r.When.Test(in, c)
		if err != nil {
			return "", nil, flow.AsError(err, flow.ErrRuntime)
		}
		if ok {
			if r.Finish != nil {
				finish = r.Finish
			}
			return r.Next, finish, nil
		}
	}
	if st.Default == "" {
		return "", nil, flow.Errorf(flow.ErrNoChoiceMatched, "no rule of choice %s matched and it has no default", st.Name)
	}
	return st.Default, finish, nil
}

// finish leaves st for next with what the state makes of its input and
// result (see outputOf).
func (d *driver) finish(st *flow.State, f flow.Finisher, next string, input, result any, c *flow.Context) {
	out, vars, err := outputOf(st, f, input, result, c)
	if err != nil {
		d.raise(st, flow.AsError(err, flow.ErrRuntime))
		return
	}
	if fe := d.assign(vars); fe != nil {
		d.raise(st, fe)
		return
	}
	d.exit(st, next, out)
}

// outputOf is what state st leaves behind, given the data it was entered
// with and its result: f's output and variables when f is set, else the
// result placed by Result (or discarded) and shaped by Output. A choice's
// result is its input.
func outputOf(st *flow.State, f flow.Finisher, data, result any, c *flow.Context) (any, map[string]any, error) {
	if f != nil {
		return f.Finish(data, result, c)
	}
	merged := result
	switch {
	case st.DiscardResult:
		merged = data
	case st.Result != nil && !st.Result.IsRoot():
		var err error
		if merged, err = st.Result.Set(data, result); err != nil {
			return nil, nil, err
		}
	}
	if st.DiscardResult || st.Result != nil {
		c.Report(flow.StepAfterResultPath, merged)
	}
	out, err := eval(st.Output, merged, c)
	return out, nil, err
}

func (d *driver) wait(st *flow.State, in any, c *flow.Context) {
	until, fe := waitEnd(st, in, c)
	if fe != nil {
		d.raise(st, fe)
		return
	}
	d.event(store.Event{Type: store.EventTimerStarted, State: st.Name, DelayMS: until.Sub(c.Now).Milliseconds()})
	d.park(&store.WaitingFor{Kind: store.WaitTimer, Until: timePtr(until)})
}

// waitEnd is when a wait state entered now with input in ends.
func waitEnd(st *flow.State, in any, c *flow.Context) (time.Time, *flow.Error) {
	if st.Until == nil {
		return c.Now.Add(st.WaitFor), nil
	}
	v, err := st.Until.Eval(in, c)
	if err != nil {
		return time.Time{}, flow.AsError(err, flow.ErrRuntime)
	}
	s, _ := v.(string)
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, flow.Errorf(flow.ErrRuntime, "wait %s: until %v is not an RFC 3339 time", st.Name, v)
	}
	return t, nil
}

func (d *driver) await(st *flow.State, in any) {
	if d.takeEvent(st) {
		return
	}
	w := &store.WaitingFor{Kind: store.WaitEvent, Event: st.Event}
	if st.Timeout > 0 {
		w.Until = timePtr(d.e.clock.Now().Add(st.Timeout))
	}
	d.event(store.Event{Type: store.EventEventAwaited, State: st.Name, Event: st.Event})
	d.park(w)
}

// takeEvent consumes a kept event for the await state, if one is there.
func (d *driver) takeEvent(st *flow.State) bool {
	p, err := d.pending(st.Event)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			d.e.log.Error("read kept events", d.logArgs("err", err)...)
		}
		return false
	}
	var payload any
	if len(p.Payload) > 0 {
		if err := flow.UnmarshalJSON(p.Payload, &payload); err != nil {
			d.raise(st, flow.Errorf(flow.ErrRuntime, "event %s: %v", st.Event, err))
			return true
		}
	}
	d.batch.DelPending = append(d.batch.DelPending, *p)
	if d.inst.Status == store.Waiting {
		d.unpark()
	}
	d.event(store.Event{Type: store.EventEventReceived, State: st.Name, Event: st.Event, Output: p.Payload})
	d.complete(st, payload)
	return true
}

// recheck looks at what a waiting instance waits for and moves it on when
// that has happened. It returns false when there is nothing to do yet.
func (d *driver) recheck() bool {
	w := d.inst.Waiting
	if w == nil {
		d.inst.Status = store.Running
		return true
	}
	now := d.e.clock.Now()
	due := w.Until != nil && !now.Before(*w.Until)
	st, fe := d.state()
	if fe != nil {
		d.unpark()
		d.fail(fe)
		return true
	}
	switch w.Kind {
	case store.WaitTimer:
		if !due {
			return false
		}
		d.unpark()
		d.event(store.Event{Type: store.EventTimerFired, State: st.Name})
		in, err := eval(st.Input, d.data, d.context())
		if err != nil {
			d.raise(st, flow.AsError(err, flow.ErrRuntime))
			return true
		}
		d.complete(st, in)
		return true
	case store.WaitRetry:
		if !due {
			return false
		}
		d.unpark()
		return true
	case store.WaitEvent:
		if d.takeEvent(st) {
			return true
		}
		if !due {
			return false
		}
		d.unpark()
		d.raise(st, flow.Errorf(flow.ErrTimeout, "await %s: event %s did not arrive within %s", st.Name, st.Event, st.Timeout))
		return true
	case store.WaitChild:
		return d.collect(st)
	}
	return false
}

// complete places a state's result into the data and leaves the state.
func (d *driver) complete(st *flow.State, res any) {
	d.finish(st, st.Finish, st.Next, d.data, res, d.context())
}

// exit leaves st with output out for next (empty: the machine ends).
func (d *driver) exit(st *flow.State, next string, out any) {
	enc, fe := d.encode(out)
	if fe != nil {
		d.raise(st, fe)
		return
	}
	d.leave(st, next, out, enc)
}

// exitCaught is exit for a catcher's result. An error there is not caught
// again: the same catcher would catch it again, for ever; the machine
// fails with it.
func (d *driver) exitCaught(st *flow.State, next string, out any) {
	enc, fe := d.encode(out)
	if fe != nil {
		d.fail(fe)
		return
	}
	d.leave(st, next, out, enc)
}

// leave records the exit from st with out (encoded as enc) and enters next.
func (d *driver) leave(st *flow.State, next string, out any, enc json.RawMessage) {
	d.data = out // observers of StateExited see the output
	d.event(store.Event{Type: store.EventStateExited, State: st.Name, Output: enc})
	if next == "" {
		d.end(store.Succeeded, store.EventExecutionSucceeded, enc, nil)
		return
	}
	d.enter(next, out, enc)
}

// enter moves the instance into state name with data.
func (d *driver) enter(name string, data any, enc json.RawMessage) {
	in := d.inst
	if in.Visits == nil {
		in.Visits = map[string]int{}
	}
	in.State = name
	in.Visits[name]++
	in.Attempt = 1
	in.Data, d.dataEnc, d.data = enc, enc, data
	d.event(store.Event{Type: store.EventStateEntered, State: name, Input: enc})
	in.Entered, in.EnteredAt = in.Seq, d.e.clock.Now()
}

// encode marshals data once for the record and its events, enforcing
// the payload limit.
func (d *driver) encode(v any) (json.RawMessage, *flow.Error) { return d.encodeAs("data", v) }

// encodeAs is encode for what the message calls what ("data", "input").
// The value is written into the driver's scratch buffer, and only what
// is kept is copied out of it, at its size.
func (d *driver) encodeAs(what string, v any) (json.RawMessage, *flow.Error) {
	b, err := jsonenc.AppendValue(d.scratch[:0], v)
	if cap(b) <= maxScratch {
		d.scratch = b
	}
	if err != nil {
		return nil, flow.Errorf(flow.ErrRuntime, "state %s: %s is not JSON: %v", d.inst.State, what, err)
	}
	if len(b) > d.e.maxPayload {
		return nil, d.tooLarge(what, len(b))
	}
	if err := store.CheckDepth(b); err != nil {
		return nil, flow.Errorf(flow.ErrRuntime, "state %s: %s: %v", d.inst.State, what, err)
	}
	return bytes.Clone(b), nil
}

// maxScratch bounds the encoding buffer a driver keeps between steps.
const maxScratch = 64 << 10

// tooLarge is the error of the current state's data, input or variables
// (what) of size bytes over the payload limit, named as the workflow's
// dialect names it.
func (d *driver) tooLarge(what string, size int) *flow.Error {
	st := d.machine.States[d.inst.State]
	if st == nil {
		st = &flow.State{Name: d.inst.State}
	}
	return tooLarge(d.wf.Dialect, st, what, size, d.e.maxPayload)
}

// tooLarge is the error of state st's data, input or variables (what) of
// size bytes over limit, named as dialect names it.
func tooLarge(dialect flow.Dialect, st *flow.State, what string, size, limit int) *flow.Error {
	if dialect != nil {
		return dialect.PayloadTooLarge(st, what, size, limit)
	}
	return flow.Errorf(flow.ErrPayloadTooLarge, "state %s: %s of %d bytes exceeds the limit of %d", st.Name, what, size, limit)
}

// raise handles an error of state st: retry, catch, or fail the machine.
func (d *driver) raise(st *flow.State, fe *flow.Error) {
	fe = fe.Bounded(d.e.maxCause) // a catch puts it into the data
	d.stepFailed(fe)
	in := d.inst
	if fe.Terminal {
		d.fail(fe)
		return
	}
	if r := matchRetrier(st.Retry, fe.Name); r != nil && in.Attempt-1 < r.MaxAttempts {
		delay := r.Delay(in.Attempt, d.e.random())
		in.Attempt++
		d.clearFanOut()
		d.event(store.Event{Type: store.EventTaskRetryScheduled, State: st.Name, Error: fe.Name, Cause: fe.Cause,
			Attempt: in.Attempt, DelayMS: delay.Milliseconds()})
		if delay <= 0 {
			d.touch()
			return
		}
		until := d.e.clock.Now().Add(delay)
		d.park(&store.WaitingFor{Kind: store.WaitRetry, Attempt: in.Attempt, Error: fe.Name, Until: &until})
		return
	}
	for i := range st.Catch {
		c := &st.Catch[i]
		if !c.Handles(fe.Name) {
			continue
		}
		d.clearFanOut()
		d.event(store.Event{Type: store.EventErrorCaught, State: st.Name, Error: fe.Name, Cause: fe.Cause})
		// A catcher's own failure is not caught again: the machine fails
		// with it.
		out, vars, err := caughtOutput(c, d.data, fe, d.context())
		fe := flow.AsError(err, flow.ErrRuntime)
		if fe == nil {
			fe = d.assign(vars)
		}
		if fe != nil {
			d.fail(fe)
			return
		}
		d.exitCaught(st, c.Next, out)
		return
	}
	d.fail(fe)
}

// caughtOutput is what catcher c passes on for error fe of a state
// entered with data: {"error", "cause"} placed by its Result, or what its
// Finish makes of them, with the variables it assigns.
func caughtOutput(c *flow.Catcher, data any, fe *flow.Error, ctx *flow.Context) (any, map[string]any, error) {
	var caught any = map[string]any{"error": fe.Name, "cause": fe.Cause}
	if c.Finish != nil {
		return c.Finish.Finish(data, caught, ctx)
	}
	if c.Result != nil && !c.Result.IsRoot() {
		out, err := c.Result.Set(data, caught)
		return out, nil, err
	}
	return caught, nil, nil
}

func matchRetrier(rs []flow.Retrier, name string) *flow.Retrier {
	for i := range rs {
		if rs[i].Handles(name) {
			return &rs[i]
		}
	}
	return nil
}

// fail ends the instance as FAILED, keeping its state and data for redrive.
func (d *driver) fail(fe *flow.Error) {
	d.stepFailed(fe)
	d.end(store.Failed, store.EventExecutionFailed, nil, fe)
}

func itoa(n int) string { return strconv.Itoa(n) }
