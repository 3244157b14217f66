package flow

import (
	"fmt"
)

// TransitionKind says why a state moves to another; diagrams style edges
// by it.
type TransitionKind uint8

// The ways out of a state.
const (
	TransitionNext    TransitionKind = iota // next
	TransitionRule                          // a choice rule
	TransitionDefault                       // a choice's default
	TransitionCatch                         // a catcher
)

// Transition is one way out of a state, shared by validation (targets,
// reachability) and diagrams so that both read the model the same way.
type Transition struct {
	Kind   TransitionKind
	To     string
	N      int      // 1-based rule or catch number
	Errors []string // catch matchers
	Pos    Pos      // the rule or catcher, when known
}

// where names the part of the state a transition comes from, for messages:
// the rule or catcher as a scope suffix, and the field that holds the target.
func (t Transition) where() (suffix, field string) {
	switch t.Kind {
	case TransitionRule:
		return fmt.Sprintf(", rule %d", t.N), "next"
	case TransitionDefault:
		return "", "default"
	case TransitionCatch:
		return fmt.Sprintf(", catch %d", t.N), "next"
	}
	return "", "next"
}

// Transitions lists the ways out of s in drawing order. Choice, succeed and
// fail have no next (SPEC 1.1), so a stray Next on them is not followed.
func (s *State) Transitions() []Transition {
	var ts []Transition
	switch s.Kind {
	case Choice:
		for i, r := range s.Rules {
			ts = append(ts, Transition{Kind: TransitionRule, To: r.Next, N: i + 1, Pos: r.Pos})
		}
		if s.Default != "" {
			ts = append(ts, Transition{Kind: TransitionDefault, To: s.Default})
		}
	case Succeed, Fail:
	default:
		if s.Next != "" {
			ts = append(ts, Transition{Kind: TransitionNext, To: s.Next})
		}
	}
	for i, c := range s.Catch {
		ts = append(ts, Transition{Kind: TransitionCatch, To: c.Next, N: i + 1, Errors: c.Errors, Pos: c.Pos})
	}
	return ts
}

// Ends reports whether s ends its machine: succeed, fail, or any other
// state but choice without a next.
func (s *State) Ends() bool {
	switch s.Kind {
	case Succeed, Fail:
		return true
	case Choice:
		return false
	}
	return s.Next == ""
}

// Names lists the machine's states in definition order, then any the order
// leaves out sorted by name, each once: the order tools walk a machine in.
func (m *Machine) Names() []string {
	names, _ := stateNames(m)
	return names
}
