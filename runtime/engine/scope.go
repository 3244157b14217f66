package engine

import (
	"encoding/json"
	"fmt"
	"maps"

	"github.com/orbit-sidecar/orbit/internal/jsonenc"
	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/store"
)

// An instance's scope is what its states see beyond their data: the
// variables they and the machines around them assigned, and the top-level
// execution. Workflows that assign no variables pay nothing for it: the
// records' Vars and Outer stay empty and no map is built.

// scope holds the decoded variables of the driver's instance.
type scope struct {
	own   map[string]any // assigned by this instance's states (inst.Vars)
	outer map[string]any // seen from the machines around it (inst.Outer)
	all   map[string]any // own over outer; what ctx.Vars shows
	exec  *flow.Execution
}

// loadScope decodes the record's variables.
func (d *driver) loadScope() error {
	d.scope = scope{}
	if len(d.inst.Vars) > 0 {
		if err := flow.UnmarshalJSON(d.inst.Vars, &d.scope.own); err != nil {
			return fmt.Errorf("decode variables: %w", err)
		}
	}
	if len(d.inst.Outer) > 0 {
		if err := flow.UnmarshalJSON(d.inst.Outer, &d.scope.outer); err != nil {
			return fmt.Errorf("decode outer variables: %w", err)
		}
	}
	d.scope.merge()
	return nil
}

func (s *scope) merge() {
	switch {
	case len(s.outer) == 0:
		s.all = s.own
	case len(s.own) == 0:
		s.all = s.outer
	default:
		s.all = maps.Clone(s.outer)
		maps.Copy(s.all, s.own)
	}
}

// assign sets variables a state assigned; they are checkpointed with the
// state's exit.
func (d *driver) assign(vars map[string]any) *flow.Error {
	if len(vars) == 0 {
		return nil
	}
	own := maps.Clone(d.scope.own)
	if own == nil {
		own = make(map[string]any, len(vars))
	}
	maps.Copy(own, vars)
	enc, err := jsonenc.AppendValue(nil, own) // as json.Marshal writes it
	if err != nil {
		return flow.Errorf(flow.ErrRuntime, "state %s: variables are not JSON: %v", d.inst.State, err)
	}
	if len(enc) > d.e.maxPayload {
		return d.tooLarge("variables", len(enc))
	}
	if err := store.CheckDepth(enc); err != nil {
		return flow.Errorf(flow.ErrRuntime, "state %s: variables: %v", d.inst.State, err)
	}
	d.inst.Vars = enc
	d.scope.own = own
	d.scope.merge()
	return nil
}

// childScope is what a child of the current state inherits: every
// variable in force, and the top-level instance.
func (d *driver) childScope(child *store.Instance) *flow.Error {
	child.Root = d.inst.Root
	if child.Root == "" {
		child.Root = d.inst.ID
	}
	if len(d.scope.all) == 0 {
		return nil
	}
	enc, err := json.Marshal(d.scope.all)
	if err != nil {
		return flow.Errorf(flow.ErrRuntime, "state %s: variables are not JSON: %v", d.inst.State, err)
	}
	child.Outer = enc
	return nil
}

// execution describes the top-level instance, read once per driver.
func (d *driver) execution() (flow.Execution, error) {
	if d.scope.exec != nil {
		return *d.scope.exec, nil
	}
	in := d.inst
	if in.Root != "" {
		root, err := d.e.store.Instance(in.Root)
		if err != nil {
			return flow.Execution{}, fmt.Errorf("read top-level instance %s: %w", in.Root, err)
		}
		in = root
	}
	d.scope.exec = &flow.Execution{ID: in.ID, Workflow: in.Workflow, Input: in.Input, StartedAt: in.StartedAt, Express: in.Express}
	return *d.scope.exec, nil
}
