package flow

import (
	"fmt"
	"strings"

	"github.com/orbit-sidecar/orbit/store"
)

// DOT draws the workflow as a Graphviz digraph: `orbit graph` and
// GET /v1/workflows/{name}/graph?format=dot serve it as is. Observers of
// the workflow's states, when given, are drawn beside the states they
// watch.
func DOT(w *Workflow, observers ...*Observer) string {
	d := newDiagram(w, observers)
	var b strings.Builder
	fmt.Fprintf(&b, "digraph %s {\n", dotQuote(w.Name))
	b.WriteString("  node [shape=box, style=rounded];\n")
	d.root.dot(&b, "  ")
	for _, e := range d.edges {
		fmt.Fprintf(&b, "  %s -> %s", e.from, e.to)
		var attrs []string
		switch e.style {
		case styleDashed:
			attrs = append(attrs, "style=dashed")
		case styleDotted:
			attrs = append(attrs, "style=dotted")
		}
		if e.label != "" {
			attrs = append(attrs, "label="+dotQuote(e.label))
		}
		if len(attrs) > 0 {
			fmt.Fprintf(&b, " [%s]", strings.Join(attrs, ", "))
		}
		b.WriteString(";\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// Mermaid draws the workflow as a Mermaid flowchart, which renders inline in
// GitHub and most documentation sites (format=mermaid). A flowchart rather
// than a stateDiagram because only flowcharts draw dashed edges for catches.
func Mermaid(w *Workflow, observers ...*Observer) string {
	d := newDiagram(w, observers)
	var b strings.Builder
	b.WriteString("flowchart TD\n")
	d.root.mermaid(&b, "  ")
	for _, e := range d.edges {
		arrow := "-->"
		if e.style != styleSolid {
			arrow = "-.->"
		}
		if e.label != "" {
			arrow += "|" + mermaidQuote(e.label) + "|"
		}
		fmt.Fprintf(&b, "  %s %s %s\n", e.from, arrow, e.to)
	}
	return b.String()
}

// diagram is the drawing both formats render, so that DOT and Mermaid
// cannot disagree about what a workflow looks like. Nodes get generated ids
// (s0, s1, ...; m0_start, m0_end): state names may hold any character and
// repeat across nested machines.
type diagram struct {
	root     *cluster
	edges    []edge
	machines int
	states   int
	nobs     int
	ids      map[string]string // state name to node id, first machine that has it first
}

// cluster is one machine: the body, a parallel branch or a map iterator.
type cluster struct {
	id    string // m0 for the body
	label string // empty for the body
	nodes []node
	subs  []*cluster
}

type marker uint8

const (
	noMarker marker = iota
	startMarker
	endMarker
)

type node struct {
	id       string
	name     string
	kind     Kind
	marker   marker
	observer bool
}

type edgeStyle uint8

const (
	styleSolid  edgeStyle = iota
	styleDashed           // catch
	styleDotted           // into a nested machine
)

type edge struct {
	from, to string
	label    string
	style    edgeStyle
}

func newDiagram(w *Workflow, observers []*Observer) *diagram {
	d := &diagram{}
	d.root = d.machine(&w.Machine, "")
	d.observers(w, observers)
	return d
}

// observers draws each observer of a state of w as a node of its own,
// joined to the state by a dotted edge saying when it runs. Observers of
// the whole instance (no state) have no state to stand beside.
func (d *diagram) observers(w *Workflow, observers []*Observer) {
	for _, o := range observers {
		if o == nil || o.State == "" || (o.Workflow != "*" && o.Workflow != w.Name) {
			continue
		}
		from, ok := d.ids[o.State]
		if !ok {
			continue
		}
		id := fmt.Sprintf("o%d", d.nobs)
		d.nobs++
		name := cmpOr(o.Name, o.RoutineName)
		d.root.nodes = append(d.root.nodes, node{id: id, name: name, observer: true})
		label := string(o.On)
		switch {
		case o.Before:
			label = "before"
		case o.On == store.EventStateExited:
			label = "after"
		}
		d.edges = append(d.edges, edge{from: from, to: id, label: label, style: styleDotted})
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (d *diagram) machine(m *Machine, label string) *cluster {
	c := &cluster{id: fmt.Sprintf("m%d", d.machines), label: label}
	d.machines++
	names, _ := stateNames(m)
	// Ids first, so edges can point forward and nested machines number
	// their states after this one's.
	ids := make(map[string]string, len(names))
	if d.ids == nil {
		d.ids = map[string]string{}
	}
	for _, n := range names {
		ids[n] = fmt.Sprintf("s%d", d.states)
		d.states++
		if _, seen := d.ids[n]; !seen {
			d.ids[n] = ids[n]
		}
	}
	start, end := c.id+"_start", c.id+"_end"
	c.nodes = append(c.nodes, node{id: start, marker: startMarker})
	if id, ok := ids[m.Start]; ok {
		d.edges = append(d.edges, edge{from: start, to: id})
	}
	ends := false
	for _, n := range names {
		s := m.States[n]
		id := ids[n]
		c.nodes = append(c.nodes, node{id: id, name: n, kind: s.Kind})
		for _, t := range transitions(s) {
			to, ok := ids[t.To]
			if !ok {
				continue // Validate reports it; draw what is sound
			}
			e := edge{from: id, to: to}
			switch t.Kind {
			case edgeRule:
				e.label = s.Rules[t.N-1].Label(t.N)
			case edgeDefault:
				e.label = "default"
			case edgeCatch:
				e.label, e.style = strings.Join(t.Errors, ", "), styleDashed
			}
			d.edges = append(d.edges, e)
		}
		if terminal(s) {
			d.edges = append(d.edges, edge{from: id, to: end})
			ends = true
		}
		for i, br := range s.Branches {
			if br != nil {
				d.nest(c, id, br, fmt.Sprintf("%s: branch %d", n, i+1))
			}
		}
		if s.Iterator != nil {
			d.nest(c, id, s.Iterator, n+": iterator")
		}
	}
	if ends {
		c.nodes = append(c.nodes, node{id: end, marker: endMarker})
	}
	return c
}

// nest draws a nested machine inside c, entered from the state that runs it.
func (d *diagram) nest(c *cluster, from string, m *Machine, label string) {
	sub := d.machine(m, label)
	c.subs = append(c.subs, sub)
	d.edges = append(d.edges, edge{from: from, to: sub.id + "_start", style: styleDotted})
}

// dot writes the cluster's nodes before any edge: Graphviz puts a node in
// the subgraph where it first appears.
func (c *cluster) dot(b *strings.Builder, indent string) {
	if c.label != "" {
		fmt.Fprintf(b, "%ssubgraph cluster_%s {\n", indent, c.id)
		indent += "  "
		fmt.Fprintf(b, "%slabel=%s;\n", indent, dotQuote(c.label))
	}
	for _, n := range c.nodes {
		switch {
		case n.marker == startMarker:
			fmt.Fprintf(b, "%s%s [shape=point, width=0.2];\n", indent, n.id)
		case n.marker == endMarker:
			fmt.Fprintf(b, "%s%s [shape=doublecircle, label=\"\", width=0.12, style=filled, fillcolor=black];\n", indent, n.id)
		case n.observer:
			fmt.Fprintf(b, "%s%s [shape=note, label=%s];\n", indent, n.id, dotQuote(n.name+"\nobserver"))
		case n.kind == Choice:
			fmt.Fprintf(b, "%s%s [shape=diamond, label=%s];\n", indent, n.id, dotQuote(n.name+"\n"+n.kind.String()))
		default:
			fmt.Fprintf(b, "%s%s [label=%s];\n", indent, n.id, dotQuote(n.name+"\n"+n.kind.String()))
		}
	}
	for _, s := range c.subs {
		s.dot(b, indent)
	}
	if c.label != "" {
		fmt.Fprintf(b, "%s}\n", indent[:len(indent)-2])
	}
}

func (c *cluster) mermaid(b *strings.Builder, indent string) {
	if c.label != "" {
		fmt.Fprintf(b, "%ssubgraph %s [%s]\n", indent, c.id, mermaidQuote(c.label))
		indent += "  "
	}
	for _, n := range c.nodes {
		switch {
		case n.marker == startMarker:
			fmt.Fprintf(b, "%s%s((\"start\"))\n", indent, n.id)
		case n.marker == endMarker:
			fmt.Fprintf(b, "%s%s(((\"end\")))\n", indent, n.id)
		case n.observer:
			fmt.Fprintf(b, "%s%s[/%s/]\n", indent, n.id, mermaidLabel(n))
		case n.kind == Choice:
			fmt.Fprintf(b, "%s%s{%s}\n", indent, n.id, mermaidLabel(n))
		default:
			fmt.Fprintf(b, "%s%s(%s)\n", indent, n.id, mermaidLabel(n))
		}
	}
	for _, s := range c.subs {
		s.mermaid(b, indent)
	}
	if c.label != "" {
		fmt.Fprintf(b, "%send\n", indent[:len(indent)-2])
	}
}

// mermaidLabel puts the kind on a second line; the <br/> is added after
// quoting so that it stays markup while a '<' in a name does not.
func mermaidLabel(n node) string {
	q := mermaidQuote(n.name)
	kind := n.kind.String()
	if n.observer {
		kind = "observer"
	}
	return q[:len(q)-1] + "<br/>" + kind + `"`
}

// dotQuote makes s one DOT quoted string. Backslashes are doubled so that a
// name never turns into a Graphviz escape such as \l or \N.
func dotQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// mermaidQuote makes s one Mermaid quoted string. Mermaid has no backslash
// escapes; it decodes #<code>; entities instead, so '#' itself and the
// characters that would end the string or start markup become entities.
func mermaidQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '#' || r == '<' || r == '>' || r == '&' || r == '`' || r < ' ':
			fmt.Fprintf(&b, "#%d;", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
