package diagram

import (
	"fmt"
	"strings"

	"github.com/orbit-sidecar/orbit/runtime/flow"
)

// Colours of the marks, shared by every format.
const (
	colourPath    = "#2563eb"
	colourCurrent = "#dbeafe"
	colourFailed  = "#dc2626"
	colourRetried = "#d97706"
)

// DOT renders the diagram as a Graphviz digraph: `orbit graph` and the
// graph endpoints serve it as is.
func DOT(d *Diagram) string {
	var b strings.Builder
	fmt.Fprintf(&b, "digraph %s {\n", dotQuote(d.Name))
	b.WriteString("  node [shape=box, style=rounded];\n")
	d.Root.dot(&b, "  ")
	for _, e := range d.Edges {
		fmt.Fprintf(&b, "  %s -> %s", e.From.ID, e.To.ID)
		var attrs []string
		switch e.Style {
		case Dashed:
			attrs = append(attrs, "style=dashed")
		case Dotted:
			attrs = append(attrs, "style=dotted")
		}
		if e.Label != "" {
			attrs = append(attrs, "label="+dotQuote(e.Label))
		}
		if e.Taken {
			attrs = append(attrs, `color="`+colourPath+`"`, "penwidth=2")
		}
		if len(attrs) > 0 {
			fmt.Fprintf(&b, " [%s]", strings.Join(attrs, ", "))
		}
		b.WriteString(";\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// Mermaid renders the diagram as a Mermaid flowchart, which renders inline
// in GitHub and most documentation sites. A flowchart rather than a
// stateDiagram because only flowcharts draw dashed edges for catches.
func Mermaid(d *Diagram) string {
	var b strings.Builder
	b.WriteString("flowchart TD\n")
	d.Root.mermaid(&b, "  ")
	var taken []string
	for i, e := range d.Edges {
		arrow := "-->"
		if e.Style != Solid {
			arrow = "-.->"
		}
		if e.Label != "" {
			arrow += "|" + mermaidQuote(e.Label) + "|"
		}
		fmt.Fprintf(&b, "  %s %s %s\n", e.From.ID, arrow, e.To.ID)
		if e.Taken {
			taken = append(taken, fmt.Sprint(i))
		}
	}
	if d.Marked {
		fmt.Fprintf(&b, "  classDef visited stroke:%s,stroke-width:2px\n", colourPath)
		fmt.Fprintf(&b, "  classDef current stroke:%s,stroke-width:3px,fill:%s\n", colourPath, colourCurrent)
		fmt.Fprintf(&b, "  classDef failed stroke:%s,stroke-width:2px\n", colourFailed)
		fmt.Fprintf(&b, "  classDef retried stroke:%s,stroke-width:2px\n", colourRetried)
		classes := map[string][]string{}
		d.Walk(func(c *Cluster) {
			for _, n := range c.Nodes {
				if cl := n.Mark.class(); cl != "" {
					classes[cl] = append(classes[cl], n.ID)
				}
			}
		})
		for _, cl := range []string{"visited", "current", "failed", "retried"} {
			if ids := classes[cl]; len(ids) > 0 {
				fmt.Fprintf(&b, "  class %s %s\n", strings.Join(ids, ","), cl)
			}
		}
		if len(taken) > 0 {
			fmt.Fprintf(&b, "  linkStyle %s stroke:%s,stroke-width:2px\n", strings.Join(taken, ","), colourPath)
		}
	}
	return b.String()
}

// class is the one style a mark draws with where a format has room for
// one: failure outranks the current state, which outranks a retry and a
// plain visit.
func (m Mark) class() string {
	switch {
	case m&Failed != 0:
		return "failed"
	case m&Current != 0:
		return "current"
	case m&Retried != 0:
		return "retried"
	case m&Visited != 0:
		return "visited"
	}
	return ""
}

// dot writes the cluster's nodes before any edge: Graphviz puts a node in
// the subgraph where it first appears.
func (c *Cluster) dot(b *strings.Builder, indent string) {
	if c.Label != "" {
		fmt.Fprintf(b, "%ssubgraph cluster_%s {\n", indent, c.ID)
		indent += "  "
		fmt.Fprintf(b, "%slabel=%s;\n", indent, dotQuote(c.Label))
	}
	for _, n := range c.Nodes {
		var marks string
		switch n.Mark.class() {
		case "failed":
			marks = `, color="` + colourFailed + `", penwidth=2`
		case "current":
			marks = `, color="` + colourPath + `", penwidth=3, style="rounded,filled", fillcolor="` + colourCurrent + `"`
		case "retried":
			marks = `, color="` + colourRetried + `", penwidth=2`
		case "visited":
			marks = `, color="` + colourPath + `", penwidth=2`
		}
		switch {
		case n.Marker == StartMarker:
			fmt.Fprintf(b, "%s%s [shape=point, width=0.2%s];\n", indent, n.ID, marks)
		case n.Marker == EndMarker:
			fmt.Fprintf(b, "%s%s [shape=doublecircle, label=\"\", width=0.12, style=filled, fillcolor=black%s];\n", indent, n.ID, marks)
		case n.Observer:
			fmt.Fprintf(b, "%s%s [shape=note, label=%s];\n", indent, n.ID, dotQuote(n.Name+"\nobserver"))
		case n.Kind == flow.Choice:
			fmt.Fprintf(b, "%s%s [shape=diamond, label=%s%s];\n", indent, n.ID, dotQuote(n.Name+"\n"+n.Kind.String()), marks)
		default:
			fmt.Fprintf(b, "%s%s [label=%s%s];\n", indent, n.ID, dotQuote(n.Name+"\n"+n.Kind.String()), marks)
		}
	}
	for _, n := range c.Nodes {
		for _, s := range n.Subs {
			s.dot(b, indent)
		}
	}
	if c.Label != "" {
		fmt.Fprintf(b, "%s}\n", indent[:len(indent)-2])
	}
}

func (c *Cluster) mermaid(b *strings.Builder, indent string) {
	if c.Label != "" {
		fmt.Fprintf(b, "%ssubgraph %s [%s]\n", indent, c.ID, mermaidQuote(c.Label))
		indent += "  "
	}
	for _, n := range c.Nodes {
		switch {
		case n.Marker == StartMarker:
			fmt.Fprintf(b, "%s%s((\"start\"))\n", indent, n.ID)
		case n.Marker == EndMarker:
			fmt.Fprintf(b, "%s%s(((\"end\")))\n", indent, n.ID)
		case n.Observer:
			fmt.Fprintf(b, "%s%s[/%s/]\n", indent, n.ID, mermaidLabel(n))
		case n.Kind == flow.Choice:
			fmt.Fprintf(b, "%s%s{%s}\n", indent, n.ID, mermaidLabel(n))
		default:
			fmt.Fprintf(b, "%s%s(%s)\n", indent, n.ID, mermaidLabel(n))
		}
	}
	for _, n := range c.Nodes {
		for _, s := range n.Subs {
			s.mermaid(b, indent)
		}
	}
	if c.Label != "" {
		fmt.Fprintf(b, "%send\n", indent[:len(indent)-2])
	}
}

// mermaidLabel puts the kind on a second line; the <br/> is added after
// quoting so that it stays markup while a '<' in a name does not.
func mermaidLabel(n *Node) string {
	q := mermaidQuote(n.Name)
	kind := n.Kind.String()
	if n.Observer {
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
