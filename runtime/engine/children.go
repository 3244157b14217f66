package engine

import (
	"encoding/json"
	"strings"

	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/store"
)

// Parallel branches, map items and called workflows all run as child
// instances: durable like any instance, with the parent parked until they
// end. The parent's record counts the children and collects their outputs,
// so a restart at any point loses nothing.

// fanOut starts the children of a parallel, map or call state.
func (d *driver) fanOut(st *flow.State, in any, c *flow.Context) {
	n := 1
	var lim flow.MapLimits
	switch st.Kind {
	case flow.Parallel:
		n = len(st.Branches)
	case flow.Map:
		items, l, fe := mapRun(st, in, c)
		if fe != nil {
			d.raise(st, fe)
			return
		}
		in, lim = items, l
		n = len(items)
	}
	if n == 0 {
		d.complete(st, []any{})
		return
	}
	// The last child's id is the longest: every other shares its prefix.
	if id := childID(d.inst, n-1); len(id) > MaxChildIDLen {
		d.raise(st, flow.Errorf(flow.ErrRuntime, "state %s: the id of its child would be %d bytes, over %d: "+
			"branches, map items and calls are nested too deep (does a workflow call itself without end?)", st.Name, len(id), MaxChildIDLen))
		return
	}
	d.inst.Items, d.inst.NextItem, d.inst.Collected, d.inst.Failed = n, 0, map[int]json.RawMessage{}, 0
	if !d.startChildren(st, in, lim.MaxConcurrency) {
		return
	}
	d.park(&store.WaitingFor{Kind: store.WaitChild, Instance: d.inst.Children[0]})
}

// mapRun is what a map state runs over: its items and its limits, the
// state's own or those its Limits yields from the input.
func mapRun(st *flow.State, in any, c *flow.Context) ([]any, flow.MapLimits, *flow.Error) {
	lim := flow.MapLimits{MaxConcurrency: st.MaxConcurrency, Tolerance: st.Tolerance}
	v, err := eval(st.Items, in, c)
	if err != nil {
		return nil, lim, flow.AsError(err, flow.ErrRuntime)
	}
	items, ok := v.([]any)
	if !ok {
		return nil, lim, flow.Errorf(flow.ErrRuntime, "map %s: items is a %s, not an array", st.Name, flow.TypeName(v))
	}
	if st.Limits != nil {
		if lim, err = st.Limits.Limits(in, c); err != nil {
			return nil, lim, flow.AsError(err, flow.ErrRuntime)
		}
	}
	return items, lim, nil
}

// startChildren starts children until maxConcurrency (0: all) run. For a
// map, in is the item array. It returns false when it raised.
func (d *driver) startChildren(st *flow.State, in any, maxConcurrency int) bool {
	p := d.inst
	limit := p.Items
	if st.Kind == flow.Map && maxConcurrency > 0 {
		limit = maxConcurrency
	}
	now := d.e.clock.Now()
	for p.NextItem < p.Items && len(p.Children) < limit {
		i := p.NextItem
		child := &store.Instance{
			Public: store.Public{ID: childID(p, i), Workflow: p.Workflow, Version: p.Version,
				Status: store.Running, StartedAt: now, UpdatedAt: now, Parent: p.ID},
			Bundle: p.Bundle, Index: i, Attempt: 1, TraceParent: d.traceParent(),
		}
		input := in
		var m *flow.Machine
		b := d.bundle
		switch st.Kind {
		case flow.Parallel:
			child.Machine = flow.BranchKey(p.Machine, st.Name, i)
			m = st.Branches[i]
		case flow.Map:
			child.Machine = flow.IteratorKey(p.Machine, st.Name)
			child.MapItem = true
			input = in.([]any)[i]
			m = st.Iterator
		case flow.Call:
			called, wf, err := d.e.bundleFor(st.Workflow, st.Version)
			if err != nil {
				d.raise(st, flow.Errorf(flow.ErrRuntime, "call %s: %v", st.Name, err))
				return false
			}
			b = called
			child.Workflow, child.Version, child.Bundle = wf.Name, wf.Version, b.Hash
			child.Express = wf.Mode == flow.Express
			m = &wf.Machine
			if wf.Timeout > 0 { // a called workflow keeps its own timeout
				at := now.Add(wf.Timeout)
				child.Deadline = &at
				d.batch.SetTimers = append(d.batch.SetTimers, store.Timer{At: at, Instance: child.ID, Kind: timerDeadline})
			}
		}
		enc, fe := d.encode(input)
		if fe != nil {
			d.raise(st, fe)
			return false
		}
		if st.Kind != flow.Call {
			// A called workflow is an execution of its own; branches and
			// items share their parent's.
			if fe := d.childScope(child); fe != nil {
				d.raise(st, fe)
				return false
			}
		}
		child.State, child.Data, child.Input = m.Start, enc, enc
		child.Visits = map[string]int{m.Start: 1}
		child.Seq, child.Entered, child.EnteredAt = 2, 2, now
		d.batch.Instances = append(d.batch.Instances, child)
		d.childEvent(b, child, store.Event{Instance: child.ID, Seq: 1, Type: store.EventExecutionStarted, Time: now, Input: enc})
		d.childEvent(b, child, store.Event{Instance: child.ID, Seq: 2, Type: store.EventStateEntered, Time: now, State: m.Start, Input: enc})
		d.event(store.Event{Type: store.EventChildStarted, State: st.Name, Child: child.ID})
		p.Children = append(p.Children, child.ID)
		p.NextItem++
		d.wake = append(d.wake, child.ID)
	}
	return true
}

// childEvent adds one of a new child's first events to the checkpoint that
// starts it, owing its observers (those of the child's bundle b) as the
// child's own driver would.
func (d *driver) childEvent(b *flow.Bundle, child *store.Instance, ev store.Event) {
	ev.Hash = d.hasher.Hash(child.Chain, &ev)
	child.Chain = ev.Hash
	d.batch.Events = append(d.batch.Events, ev)
	d.oweFor(b, child, &d.batch.Events[len(d.batch.Events)-1])
}

// MaxChildIDLen bounds the id of a child instance, which grows with every
// level of nesting: a workflow that calls itself without end would start
// children for ever, until an id is longer than a store's key may be and
// every checkpoint of the deepest one fails, which the engine must take
// for a store that cannot write. The bound leaves room for the rest of a
// store's keys (event names, sequence numbers) within what a bbolt key
// (32 KiB) and a NATS server's control line (4 KiB by default) hold.
const MaxChildIDLen = 1024

// childID names child i of the current state visit and attempt, so a
// re-run after a crash finds the same children instead of starting twins.
func childID(p *store.Instance, i int) string {
	var b strings.Builder
	b.WriteString(p.ID)
	b.WriteByte(':')
	for _, r := range p.State {
		if r < 128 && (r == '.' || r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	b.WriteByte(':')
	b.WriteString(itoa(p.Visits[p.State]))
	b.WriteByte('.')
	b.WriteString(itoa(p.Attempt))
	b.WriteByte(':')
	b.WriteString(itoa(i))
	return b.String()
}

// collect gathers ended children. It returns false while the parent still
// waits with nothing changed.
func (d *driver) collect(st *flow.State) bool {
	p := d.inst
	if p.Collected == nil {
		p.Collected = map[int]json.RawMessage{}
	}
	changed := false
	var failure *flow.Error
	// A map's limits are read again from its input when they are needed:
	// to start more items, or to judge a failed one.
	var items []any
	var lim *flow.MapLimits
	limits := func() *flow.Error {
		if lim != nil || st.Kind != flow.Map {
			return nil
		}
		its, l, fe := mapRun(st, d.mustInput(st), d.context())
		items, lim = its, &l
		return fe
	}
	kept := p.Children[:0]
	for _, id := range p.Children {
		c, err := d.e.store.Instance(id)
		if err != nil {
			d.e.log.Error("read child instance", d.logArgs("child", id, "err", err)...)
			kept = append(kept, id)
			continue
		}
		switch {
		case !c.Status.Terminal():
			kept = append(kept, id)
			continue
		case c.Status == store.Succeeded:
			p.Collected[c.Index] = c.Output
			d.event(store.Event{Type: store.EventChildCompleted, State: st.Name, Child: id, Output: c.Output})
		default:
			d.event(store.Event{Type: store.EventChildCompleted, State: st.Name, Child: id, Error: c.Error, Cause: c.Cause})
			if failure == nil {
				failure = d.childFailure(st, c, limits, &lim)
			}
		}
		changed = true
	}
	p.Children = kept
	if failure != nil {
		d.unpark()
		d.raise(st, failure)
		return true
	}
	if p.NextItem < p.Items {
		if fe := limits(); fe != nil {
			d.unpark()
			d.raise(st, fe)
			return true
		}
		var in any = items
		maxConcurrency := 0
		if lim != nil {
			maxConcurrency = lim.MaxConcurrency
		}
		before := len(p.Children)
		if !d.startChildren(st, in, maxConcurrency) {
			return true
		}
		changed = changed || len(p.Children) != before
	}
	if len(p.Children) > 0 {
		if changed {
			p.Waiting.Instance = p.Children[0]
			d.touch()
		}
		return changed
	}
	results := make([]any, p.Items)
	for i := range results {
		if raw := p.Collected[i]; len(raw) > 0 {
			if err := flow.UnmarshalJSON(raw, &results[i]); err != nil {
				d.unpark()
				d.raise(st, flow.Errorf(flow.ErrRuntime, "child output: %v", err))
				return true
			}
		}
	}
	d.unpark()
	d.clearFanOut()
	if st.Kind == flow.Call {
		d.complete(st, results[0])
	} else {
		d.complete(st, results)
	}
	return true
}

// childFailure judges a failed child c: nil when a map tolerates it (it
// leaves null at its place), else the error the state raises: the child's
// own, or ErrToleranceExceeded when a tolerance is exceeded.
func (d *driver) childFailure(st *flow.State, c *store.Instance, limits func() *flow.Error, lim **flow.MapLimits) *flow.Error {
	own := &flow.Error{Name: c.Error, Cause: c.Cause}
	if own.Name == "" && d.wf.Dialect == nil {
		own.Name = flow.ErrTaskFailed
	}
	if st.Kind != flow.Map || st.Tolerance == nil && st.Limits == nil {
		return own
	}
	if fe := limits(); fe != nil {
		return fe
	}
	t := (*lim).Tolerance
	if t == nil {
		return own
	}
	p := d.inst
	p.Failed++
	p.Collected[c.Index] = nil
	if t.Exceeded(p.Failed, p.Items) {
		return &flow.Error{Name: flow.ErrToleranceExceeded, Cause: toleranceCause}
	}
	return nil
}

// toleranceCause is AWS's cause of ErrToleranceExceeded.
const toleranceCause = "The specified tolerated failure threshold was exceeded"

// mustInput is the state's input again (for a map that starts more items).
func (d *driver) mustInput(st *flow.State) any {
	v, err := eval(st.Input, d.data, d.context())
	if err != nil {
		return nil
	}
	return v
}

// clearFanOut forgets a finished or abandoned fan-out, cancelling children
// that still run.
func (d *driver) clearFanOut() {
	p := d.inst
	d.cancel = append(d.cancel, p.Children...)
	p.Children, p.Items, p.NextItem, p.Collected, p.Failed = nil, 0, 0, nil, 0
}
