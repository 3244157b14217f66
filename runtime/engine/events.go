package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/store"
)

// How events reach instances. An event is sent to one instance (the
// addressee) and kept under its id until an await takes it. The awaits that
// may take it are the addressee's own and those of every instance running
// inside it — its parallel branches, map items and called workflows, at any
// depth — whichever awaits that name first. A branch, an item or a called
// workflow that finds no kept event of its own looks at its ancestors',
// nearest first, and moves the oldest one there into its own keeping before
// it takes it; the move is serialised per ancestor, so two siblings never
// take the same event. An event that neither the addressee's workflow
// version nor anything it runs can ever await is refused (ErrNotAwaitable),
// so that a misspelt name is not kept for ever.

// Delivery says what became of a delivered event.
type Delivery string

// The outcomes of Deliver.
const (
	// Consumed: the addressee, or an instance running inside it, waits for
	// the event now and takes it at once.
	Consumed Delivery = "consumed"
	// Kept: nothing waits for the event now; it is kept until an await of
	// the addressee (or of an instance inside it) takes it.
	Kept Delivery = "kept"
)

// Send delivers an event; see Deliver.
func (e *Engine) Send(ctx context.Context, id, event string, payload json.RawMessage) error {
	_, err := e.Deliver(ctx, id, event, payload)
	return err
}

// Deliver delivers an event to an instance and says whether it is taken at
// once or kept for a later await. It is kept durably either way before
// Deliver returns.
func (e *Engine) Deliver(ctx context.Context, id, event string, payload json.RawMessage) (Delivery, error) {
	if err := e.Ready(); err != nil {
		return "", err
	}
	if len(payload) > e.maxPayload {
		return "", fmt.Errorf("%w: payload of %d bytes exceeds %d", ErrPayloadTooLarge, len(payload), e.maxPayload)
	}
	if err := checkEventName(event); err != nil {
		return "", err
	}
	if len(bytes.TrimSpace(payload)) == 0 {
		payload = json.RawMessage("null")
	} else if err := flow.UnmarshalJSON(payload, new(any)); err != nil {
		// Refused now rather than failing the await that would take it.
		return "", fmt.Errorf("%w: event payload is not usable JSON: %v", ErrBadInput, err)
	} else if err := store.CheckDepth(payload); err != nil {
		return "", fmt.Errorf("%w: event payload: %v", ErrBadInput, err)
	} else {
		// Kept compact, as the API serves it, so that a client hashing
		// the history it reads gets the chain's hashes (store.ChainHash).
		var buf bytes.Buffer
		json.Compact(&buf, payload) // valid: it was just decoded
		payload = buf.Bytes()
	}
	inst, err := e.store.Instance(id)
	if err != nil {
		return "", err
	}
	if inst.Status.Terminal() {
		return "", ErrEnded
	}
	inside, err := e.checkAwaitable(inst, event)
	if err != nil {
		return "", err
	}
	awaited := awaits(inst, event)
	if !awaited {
		// Kept for later: bounded, counted and kept by one Send at a time
		// per instance so that concurrent ones cannot overshoot together.
		unlock := e.sends.lock(id)
		defer unlock()
		n, size, err := e.store.PendingSize(id)
		if err != nil {
			return "", fmt.Errorf("count kept events of %s: %w", id, err)
		}
		if n >= e.maxPending || size+int64(len(payload)) > int64(e.maxPendBy) {
			return "", fmt.Errorf("%w: instance %s keeps %d events (%d bytes) it does not await yet, at most %d events and %d bytes; send more once it has taken some",
				ErrTooManyEvents, id, n, size, e.maxPending, e.maxPendBy)
		}
	}
	batch := &store.Batch{AddPending: []store.PendingEvent{{Instance: id, Name: event, Payload: payload}}}
	if e.coord != nil {
		// Whichever sidecar takes the wake-up runs the instance.
		batch.Wake = append(batch.Wake, id)
	}
	if err := e.store.Commit(ctx, batch); err != nil {
		return "", unwritten("keep event "+event+" for "+id, err)
	}
	if e.coord == nil {
		e.post(id, message{kind: msgWake})
	}
	if inside && len(inst.Children) > 0 && e.wakeInside(inst, event) {
		awaited = true
	}
	if awaited {
		return Consumed, nil
	}
	return Kept, nil
}

// awaits reports whether in waits for event right now.
func awaits(in *store.Instance, event string) bool {
	w := in.Waiting
	return in.Status == store.Waiting && w != nil && w.Kind == store.WaitEvent && w.Event == event
}

// checkAwaitable refuses an event that in's workflow version can never
// await, naming those it can. inside reports whether an instance running
// inside in (and not in itself) may await it. A workflow that cannot be
// resolved lets every event through: refusing one for want of code would
// lose it.
func (e *Engine) checkAwaitable(in *store.Instance, event string) (inside bool, err error) {
	b, err := e.bundle(in.Bundle)
	if err != nil {
		e.log.Warn("cannot tell which events an instance awaits", "instance", in.ID, "err", err)
		return true, nil
	}
	wf := b.Workflows[in.Workflow]
	if wf == nil || wf.Machines[in.Machine] == nil {
		return true, nil
	}
	aw := e.awaitable(b, wf, wf.Machines[in.Machine])
	if slices.Contains(aw.own, event) {
		return slices.Contains(aw.inside, event), nil
	}
	if slices.Contains(aw.inside, event) {
		return true, nil
	}
	all := append(slices.Clone(aw.own), aw.inside...)
	slices.Sort(all)
	all = slices.Compact(all)
	what := "it awaits no events"
	if len(all) > 0 {
		q := make([]string, len(all))
		for i, n := range all {
			q[i] = strconv.Quote(n)
		}
		what = "it can await " + strings.Join(q, ", ")
	}
	return false, fmt.Errorf("%w: instance %s (workflow %s version %s) can never await event %q; %s",
		ErrNotAwaitable, in.ID, in.Workflow, in.Version, event, what)
}

// awaitableEvents are the event names a machine can await: in its own
// await states, and inside it (its branches, iterators and called
// workflows, at any depth).
type awaitableEvents struct{ own, inside []string }

// awaitable lists what machine m of workflow wf in bundle b can await. A
// called workflow counts as the engine would start it now (the current
// bundle, or the newest kept one with the version the call names).
func (e *Engine) awaitable(b *flow.Bundle, wf *flow.Workflow, m *flow.Machine) awaitableEvents {
	var aw awaitableEvents
	seen := map[*flow.Machine]bool{m: true}
	var walk func(m *flow.Machine, into *[]string)
	walk = func(m *flow.Machine, into *[]string) {
		for _, name := range m.Order {
			st := m.States[name]
			var subs []*flow.Machine
			switch st.Kind {
			case flow.Await:
				*into = append(*into, st.Event)
			case flow.Parallel:
				subs = st.Branches
			case flow.Map:
				subs = []*flow.Machine{st.Iterator}
			case flow.Call:
				if _, called, err := e.bundleFor(st.Workflow, st.Version); err == nil {
					subs = []*flow.Machine{&called.Machine}
				}
			}
			for _, sub := range subs {
				if sub != nil && !seen[sub] {
					seen[sub] = true
					walk(sub, &aw.inside)
				}
			}
		}
	}
	walk(m, &aw.own)
	return aw
}

// wakeInside wakes the unfinished instances running inside in (at any
// depth), so that one that awaits event, or is about to, looks at the
// event just kept for in. It reports whether one of them waits for it now.
func (e *Engine) wakeInside(in *store.Instance, event string) (awaited bool) {
	queue := slices.Clone(in.Children)
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		c, err := e.store.Instance(id)
		if err != nil || c.Status.Terminal() {
			continue
		}
		awaited = awaited || awaits(c, event)
		e.post(id, message{kind: msgWake})
		queue = append(queue, c.Children...)
	}
	return awaited
}

// pending finds the oldest kept event for the await of st: the
// instance's own, or else one kept for an ancestor, which it first moves
// into its own keeping.
func (d *driver) pending(event string) (*store.PendingEvent, error) {
	p, err := d.e.store.Pending(d.id, event)
	if !errors.Is(err, store.ErrNotFound) {
		return p, err
	}
	for parent := d.inst.Parent; parent != ""; {
		moved, err := d.e.moveDown(parent, d.id, event)
		if err != nil || moved {
			if err != nil {
				return nil, err
			}
			return d.e.store.Pending(d.id, event)
		}
		up, err := d.e.store.Instance(parent)
		if err != nil {
			return nil, err
		}
		parent = up.Parent
	}
	return nil, store.ErrNotFound
}

// moveDown moves the oldest event of that name kept for ancestor into the
// keeping of instance id, in one commit. One move per ancestor runs at a
// time, so an event moves once.
func (e *Engine) moveDown(ancestor, id, event string) (bool, error) {
	unlock := e.sends.lock(ancestor)
	defer unlock()
	p, err := e.store.Pending(ancestor, event)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	batch := &store.Batch{DelPending: []store.PendingEvent{*p},
		AddPending: []store.PendingEvent{{Instance: id, Name: event, Payload: p.Payload}}}
	if err := e.store.Commit(context.Background(), batch); err != nil {
		return false, fmt.Errorf("move event %s from %s to %s: %w", event, ancestor, id, err)
	}
	return true, nil
}
