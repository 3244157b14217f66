// Package flowtest builds workflow definitions from Go values, so tests of
// the engine and the API stay short and need no scripts, and holds the
// helpers those tests share.
package flowtest

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/orbit-sidecar/orbit/runtime/flow"
)

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

// Gate holds the routines it makes until it is opened, so that a test can
// act while a step runs.
type Gate struct {
	once sync.Once
	ch   chan struct{}
}

// NewGate makes a closed gate.
func NewGate() *Gate { return &Gate{ch: make(chan struct{})} }

// Open lets every held routine through, now and later; opening an open
// gate does nothing.
func (g *Gate) Open() { g.once.Do(func() { close(g.ch) }) }

// Routine returns its input once the gate is open, or the context's error
// if the step is stopped first.
func (g *Gate) Routine() flow.Routine {
	return flow.RoutineFunc(func(ctx context.Context, in any, _ *flow.Context) (any, error) {
		select {
		case <-g.ch:
			return in, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	})
}

// WantError fails t unless err is a *flow.Error named name, and returns
// it.
func WantError(t testing.TB, err error, name string) *flow.Error {
	t.Helper()
	var fe *flow.Error
	if !errors.As(err, &fe) || fe.Name != name {
		t.Fatalf("error = %v, want one named %s", err, name)
	}
	return fe
}
