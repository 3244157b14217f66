package engine

import (
	"time"

	"github.com/orbit-sidecar/orbit/runtime/flow"
)

// runStep runs the current state once (step), timing it for Config.OnStep
// and tracing it for Config.Tracer when they are set. With neither, it is
// step itself.
func (d *driver) runStep() bool {
	e := d.e
	if e.onStep == nil && e.tracer == nil {
		return d.step()
	}
	in := d.inst
	workflow, state := in.Workflow, in.State // step may drop in
	st := d.machine.States[state]
	var t0 time.Time
	if e.onStep != nil {
		t0 = time.Now()
	}
	if e.tracer != nil {
		d.openStep(st)
	}
	ok := d.step()
	if d.stepSpan != nil {
		d.stepSpan.End()
		d.stepSpan, d.stepTP = nil, ""
	}
	if e.onStep != nil && st != nil {
		e.onStep(workflow, state, stepKind(st), time.Since(t0))
	}
	return ok
}

// stepKind is the kind a step is measured under: a task's routine kind,
// or the state's type.
func stepKind(st *flow.State) string {
	if st.Kind == flow.Task {
		return flow.KindOfRoutine(st.Routine)
	}
	return st.Kind.String()
}

// openStep opens the span of a step, under the run segment's span, which
// opens with the segment's first step under the instance's traceparent:
// after a restart too, so that a resumed instance goes on in its trace.
func (d *driver) openStep(st *flow.State) {
	in := d.inst
	if d.segment == nil {
		d.segment = d.e.tracer.Start(in.TraceParent, "run "+in.Workflow, flow.SpanInternal)
		d.segment.SetString(flow.AttrInstance, in.ID)
		d.segment.SetString(flow.AttrWorkflow, in.Workflow)
		d.segment.SetString(flow.AttrVersion, in.Version)
	}
	s := d.segment.Child("step "+in.State, flow.SpanInternal)
	s.SetString(flow.AttrState, in.State)
	s.SetInt(flow.AttrAttempt, int64(max(in.Attempt, 1)))
	if st != nil && st.Kind == flow.Task {
		s.SetString(flow.AttrRoutine, st.RoutineName)
	}
	d.stepSpan, d.stepTP = s, s.TraceParent()
}

// stepFailed marks the running step's span failed, if it is traced.
func (d *driver) stepFailed(fe *flow.Error) {
	if d.stepSpan != nil {
		d.stepSpan.Fail(fe.Name, fe.Cause)
	}
}

// endSegment closes the run segment's span, once the instance has gone as
// far as it can for now.
func (d *driver) endSegment() {
	if d.segment != nil {
		d.segment.End()
		d.segment = nil
	}
}

// traceParent is what the calls made now carry, and what a child started
// now keeps: the running step's span, or without one the instance's.
func (d *driver) traceParent() string {
	if d.stepTP != "" {
		return d.stepTP
	}
	return d.inst.TraceParent
}
