// Package flowtest builds workflow definitions from Go values, so tests of
// the engine and the API stay short and need no scripts.
package flowtest

import "github.com/orbit-sidecar/orbit/runtime/flow"

// Bundle wraps workflows in a bundle with hash "test"; a workflow without a
// version gets "v1". Each workflow is indexed.
func Bundle(wfs ...*flow.Workflow) *flow.Bundle {
	b := &flow.Bundle{Hash: "test", Workflows: map[string]*flow.Workflow{}}
	for _, w := range wfs {
		if w.Version == "" {
			w.Version = "v1"
		}
		w.Index()
		b.Workflows[w.Name] = w
	}
	return b
}

// Machine makes a machine of states, in the order given.
func Machine(start string, states ...*flow.State) flow.Machine {
	m := flow.Machine{Start: start, States: map[string]*flow.State{}}
	for _, s := range states {
		m.States[s.Name] = s
		m.Order = append(m.Order, s.Name)
	}
	return m
}

// Workflow makes a workflow whose body is Machine(start, states...).
func Workflow(name, start string, states ...*flow.State) *flow.Workflow {
	return &flow.Workflow{Name: name, Machine: Machine(start, states...)}
}
