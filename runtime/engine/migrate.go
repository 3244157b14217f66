package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/store"
)

// Migration moves a waiting instance to another version of its workflow:
// to the state of the same name (or the one the target workflow's migrate
// function picks), with its data passed through that function. Only an
// instance that waits can move — a running step belongs to the code that
// started it — and only to a state that waits for the same thing.

// Migration is the outcome, or with a dry run the forecast, for one instance.
type Migration struct {
	Instance  string `json:"instance"`
	From      string `json:"from_version"`
	To        string `json:"to_version"`
	State     string `json:"state,omitempty"`      // the state it moves (or would move) to
	Moved     bool   `json:"moved"`                // false in a dry run, which moves nothing
	WouldMove bool   `json:"would_move,omitempty"` // a dry run's forecast: it would move
	Reason    string `json:"reason,omitempty"`
}

// Movable reports whether the instance moved or, in a dry run, would move.
func (m *Migration) Movable() bool { return m.Moved || m.WouldMove }

type migrateRequest struct {
	version string
	dryRun  bool
	result  *Migration
}

// Migrate moves one instance to the newest kept bundle whose workflow has
// the label version. With dryRun nothing changes.
func (e *Engine) Migrate(id, version string, dryRun bool) (*Migration, error) {
	if !dryRun {
		if err := e.Ready(); err != nil {
			return nil, err
		}
	}
	res := &Migration{Instance: id, To: version}
	reply := make(chan error, 1)
	e.post(id, message{kind: msgMigrate, migrate: &migrateRequest{version: version, dryRun: dryRun, result: res}, reply: reply})
	if err := <-reply; err != nil && !errors.Is(err, ErrCannotMigrate) {
		return nil, err
	}
	return res, nil
}

// MigrateWorkflow migrates every waiting instance of a workflow, reporting
// for each whether it moved (or would) and why not.
func (e *Engine) MigrateWorkflow(ctx context.Context, workflow, version string, dryRun bool) ([]*Migration, error) {
	if _, _, err := e.bundleFor(workflow, version); err != nil {
		return nil, err
	}
	var out []*Migration
	cursor := ""
	for {
		page, next, err := e.store.List(store.Query{Workflow: workflow, Cursor: cursor, Limit: 500})
		if err != nil {
			return out, err
		}
		for _, in := range page {
			if in.Status.Terminal() || in.Parent != "" {
				continue
			}
			m, err := e.Migrate(in.ID, version, dryRun)
			if err != nil {
				m = &Migration{Instance: in.ID, From: in.Version, To: version, Reason: err.Error()}
			}
			out = append(out, m)
		}
		if next == "" || ctx.Err() != nil {
			return out, ctx.Err()
		}
		cursor = next
	}
}

// migrate carries out a migration request on the driver's instance.
func (d *driver) migrate(req *migrateRequest) error {
	in, res := d.inst, req.result
	res.From, res.State = in.Version, in.State
	refuse := func(format string, args ...any) error {
		// The migrate function's error is part of it, cut as a recorded
		// cause is: a workflow's migration answers one per instance.
		res.Reason = flow.BoundCause(fmt.Sprintf(format, args...), d.e.maxCause)
		return fmt.Errorf("%w: %s", ErrCannotMigrate, res.Reason)
	}
	switch {
	case in.Status.Terminal():
		return refuse("instance has ended (%s)", in.Status)
	case in.Status == store.Running:
		return refuse("instance is running a step; only waiting instances move")
	case in.Parent != "":
		return refuse("instance is a child of %s; migrate the parent", in.Parent)
	case len(in.Children) > 0:
		return refuse("instance waits for child instances")
	}
	b, wf, err := d.e.bundleFor(in.Workflow, req.version)
	if err != nil {
		return refuse("%v", err)
	}
	if b.Hash == in.Bundle {
		return refuse("instance already runs version %s", req.version)
	}
	state, data := in.State, d.data
	if wf.Migrate != nil {
		if state, data, err = wf.Migrate(in.Version, in.State, d.data); err != nil {
			return refuse("migrate function: %v", err)
		}
	}
	res.State = state
	target := wf.Machine.States[state]
	if target == nil {
		return refuse("version %s of %s has no state %q", req.version, in.Workflow, state)
	}
	w := in.Waiting
	if in.Status == store.Paused {
		w = in.PausedWaiting
	}
	if w != nil {
		old := d.machine.States[in.State]
		if why := compatible(old, target, w); why != "" {
			return refuse("%s", why)
		}
	}
	enc, fe := d.encode(data)
	if fe != nil {
		return refuse("%s", fe.Cause)
	}
	if req.dryRun {
		res.WouldMove = true
		return nil
	}
	res.Moved = true
	from := in.Version
	in.Bundle, in.Version, in.State, in.Data = b.Hash, wf.Version, state, enc
	d.bundle, d.wf, d.machine, d.data, d.dataEnc = b, wf, &wf.Machine, data, enc
	if in.Visits[state] == 0 {
		in.Visits[state] = 1
	}
	d.event(store.Event{Type: store.EventMigrated, State: state, From: from, To: wf.Version, Input: enc})
	return nil
}

// compatible says why a waiting instance cannot wait in target instead of
// old, or "" when it can.
func compatible(old, target *flow.State, w *store.WaitingFor) string {
	switch w.Kind {
	case store.WaitTimer:
		if target.Kind != flow.Wait {
			return fmt.Sprintf("it waits on a timer but state %q is a %s", target.Name, target.Kind)
		}
	case store.WaitEvent:
		if target.Kind != flow.Await || target.Event != w.Event {
			return fmt.Sprintf("it waits for event %q but state %q does not await it", w.Event, target.Name)
		}
	case store.WaitRetry:
		if old != nil && target.Kind != old.Kind {
			return fmt.Sprintf("it waits to retry a %s but state %q is a %s", old.Kind, target.Name, target.Kind)
		}
	}
	return ""
}
