// Package diagram draws workflows: one model of a workflow's drawing
// (New), marked with what an instance did (Trail), rendered as DOT,
// Mermaid or SVG. Every format renders the same model, so they cannot
// disagree about what a workflow looks like. SVG is laid out in-process
// (package layered), with no external program.
package diagram

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/store"
)

// Diagram is the drawing of one workflow.
type Diagram struct {
	Name string
	Root *Cluster
	// Edges are every edge in the order they were made, nested machines'
	// and the dotted edges into them included: the order DOT and Mermaid
	// write them in.
	Edges []*Edge
	// Marked is true once a trail was applied: the drawing is of an
	// instance, not only of its workflow.
	Marked bool
}

// Cluster is one machine: the body, a parallel branch or a map iterator.
type Cluster struct {
	ID    string // m0 for the body
	Key   string // the machine's key in the workflow (flow.Workflow.Machines)
	Label string // "Fan out: branch 1"; empty for the body
	Nodes []*Node
	// Edges are the edges between this cluster's nodes.
	Edges []*Edge
}

// Marker tells the start and end markers from states.
type Marker uint8

// The kinds of node.
const (
	NoMarker Marker = iota // a state
	StartMarker
	EndMarker
)

// Mark is what an instance did at a node or edge; marks combine.
type Mark uint8

// The marks a trail sets.
const (
	Visited Mark = 1 << iota // the instance passed here
	Current                  // the instance is here now
	Failed                   // an error here ended the machine or was caught
	Retried                  // an attempt here failed and was retried
)

// Node is a state, a start or end marker, or an observer.
type Node struct {
	ID     string // s0, s1, ...; m0_start, m0_end; o0, o1, ...
	Name   string
	Kind   flow.Kind
	Marker Marker
	// Observer is true for an observer of a state, drawn beside it: its
	// name (or routine) is Name, and Kind means nothing.
	Observer bool
	// Detail says what the state does in a few words: the routine, the
	// event, the wait, the called workflow.
	Detail string
	// Subs are the machines the state runs: a parallel state's branches or
	// a map state's iterator.
	Subs []*Cluster
	Mark Mark
	// Visits is how often the instance entered the state (with a trail).
	Visits int
}

// EdgeStyle tells transitions from catches and from the way into a nested
// machine.
type EdgeStyle uint8

// The edge styles.
const (
	Solid  EdgeStyle = iota
	Dashed           // a catch
	// Dotted joins a state to an observer, or (in DOT and Mermaid only,
	// which draw nested machines apart) a parallel or map state to its
	// machine.
	Dotted
)

// Edge is a transition between two nodes of one cluster.
type Edge struct {
	From, To *Node
	Label    string
	Style    EdgeStyle
	Taken    bool // the instance went this way
}

// New makes the drawing of a workflow. Observers of its states, when
// given, are drawn beside the states they watch.
func New(w *flow.Workflow, observers ...*flow.Observer) *Diagram {
	b := &builder{d: &Diagram{Name: w.Name}, homes: map[string]*Cluster{}}
	b.d.Root = b.machine(&w.Machine, "", "")
	b.observers(w, observers)
	return b.d
}

type builder struct {
	d        *Diagram
	machines int
	states   int
	// homes finds a state by name for its observers: the first machine
	// that has a state of that name, body first.
	homes map[string]*Cluster
}

// observers draws each observer of a state of w as a node in the state's
// machine, joined to it by a dotted edge saying when it runs. Observers of
// the whole instance (no state) have no state to stand beside.
func (b *builder) observers(w *flow.Workflow, observers []*flow.Observer) {
	n := 0
	for _, o := range observers {
		if o == nil || o.State == "" || (o.Workflow != "*" && o.Workflow != w.Name) {
			continue
		}
		c := b.homes[o.State]
		if c == nil {
			continue
		}
		var state *Node
		for _, nd := range c.Nodes {
			if nd.Marker == NoMarker && !nd.Observer && nd.Name == o.State {
				state = nd
				break
			}
		}
		name := o.Name
		if name == "" {
			name = o.RoutineName
		}
		obs := &Node{ID: "o" + strconv.Itoa(n), Name: name, Observer: true}
		n++
		c.Nodes = append(c.Nodes, obs)
		label := string(o.On)
		switch {
		case o.Before:
			label = "before"
		case o.On == store.EventStateExited:
			label = "after"
		}
		b.edge(c, &Edge{From: state, To: obs, Label: label, Style: Dotted})
	}
}

// machine draws m and, inside its states, the machines they run.
func (b *builder) machine(m *flow.Machine, key, label string) *Cluster {
	c := &Cluster{ID: "m" + strconv.Itoa(b.machines), Key: key, Label: label}
	b.machines++
	names := m.Names()
	// Ids first, so that edges can point forward and nested machines
	// number their states after this one's.
	nodes := make(map[string]*Node, len(names))
	for _, n := range names {
		s := m.States[n]
		nodes[n] = &Node{ID: "s" + strconv.Itoa(b.states), Name: n, Kind: s.Kind, Detail: detail(s)}
		b.states++
		if b.homes[n] == nil {
			b.homes[n] = c
		}
	}
	start := &Node{ID: c.ID + "_start", Marker: StartMarker}
	end := &Node{ID: c.ID + "_end", Marker: EndMarker}
	c.Nodes = append(c.Nodes, start)
	if to := nodes[m.Start]; to != nil {
		b.edge(c, &Edge{From: start, To: to})
	}
	ends := false
	for _, n := range names {
		s := m.States[n]
		node := nodes[n]
		c.Nodes = append(c.Nodes, node)
		for _, t := range s.Transitions() {
			to := nodes[t.To]
			if to == nil {
				continue // Validate reports it; draw what is sound
			}
			e := &Edge{From: node, To: to}
			switch t.Kind {
			case flow.TransitionRule:
				e.Label = s.Rules[t.N-1].Label(t.N)
			case flow.TransitionDefault:
				e.Label = "default"
			case flow.TransitionCatch:
				e.Label, e.Style = strings.Join(t.Errors, ", "), Dashed
			}
			b.edge(c, e)
		}
		if s.Ends() {
			b.edge(c, &Edge{From: node, To: end})
			ends = true
		}
		for i, br := range s.Branches {
			if br != nil {
				b.nest(node, br, flow.BranchKey(key, n, i), fmt.Sprintf("%s: branch %d", n, i+1))
			}
		}
		if s.Iterator != nil {
			b.nest(node, s.Iterator, flow.IteratorKey(key, n), n+": iterator")
		}
	}
	if ends {
		c.Nodes = append(c.Nodes, end)
	}
	return c
}

func (b *builder) edge(c *Cluster, e *Edge) {
	c.Edges = append(c.Edges, e)
	b.d.Edges = append(b.d.Edges, e)
}

// nest draws a machine that node's state runs.
func (b *builder) nest(node *Node, m *flow.Machine, key, label string) {
	sub := b.machine(m, key, label)
	node.Subs = append(node.Subs, sub)
	b.d.Edges = append(b.d.Edges, &Edge{From: node, To: sub.Nodes[0], Style: Dotted})
}

// detail says in a few words what a state does.
func detail(s *flow.State) string {
	switch s.Kind {
	case flow.Task:
		return s.RoutineName
	case flow.Await:
		return s.Event
	case flow.Wait:
		if s.WaitFor > 0 {
			return s.WaitFor.String()
		}
		if p, ok := s.Until.(*flow.Path); ok {
			return "until " + p.String()
		}
	case flow.Call:
		if s.Version != "" {
			return s.Workflow + " " + s.Version
		}
		return s.Workflow
	case flow.Map:
		var parts []string
		if p, ok := s.Items.(*flow.Path); ok {
			parts = append(parts, p.String())
		}
		if s.MaxConcurrency > 0 {
			parts = append(parts, fmt.Sprintf("%d at once", s.MaxConcurrency))
		}
		return strings.Join(parts, ", ")
	case flow.Parallel:
		if len(s.Branches) == 1 {
			return "1 branch"
		}
		return fmt.Sprintf("%d branches", len(s.Branches))
	}
	return ""
}

// Walk calls fn for every cluster, the body first, each state's machines
// after the cluster that holds the state.
func (d *Diagram) Walk(fn func(*Cluster)) {
	var walk func(c *Cluster)
	walk = func(c *Cluster) {
		fn(c)
		for _, n := range c.Nodes {
			for _, s := range n.Subs {
				walk(s)
			}
		}
	}
	walk(d.Root)
}
