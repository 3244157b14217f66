package diagram

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/orbit-sidecar/orbit/runtime/diagram/layered"
	"github.com/orbit-sidecar/orbit/runtime/flow"
)

// Sizes of the SVG drawing, in pixels.
const (
	fontName    = 12.5 // state names
	fontSmall   = 11   // kinds, details, edge labels
	nodeH       = 44   // a state: name and kind on two lines
	nodePadX    = 14
	minNodeW    = 84
	choiceTip   = 12 // how far a choice's pointed sides reach
	startR      = 6
	endR        = 8
	headerH     = 44 // a parallel or map state above its machines
	groupPad    = 12
	groupGap    = 12
	groupLabelH = 18
	labelLineH  = 14
	labelChars  = 32 // edge labels wrap past this many characters
	labelLines  = 4
	margin      = 16
	legendH     = 30
	stackStep   = 4 // offset of the boxes drawn behind a map state
)

// style is the drawing's stylesheet, scoped to its class so that a page
// holding several drawings, or restyling them (the console's dark theme
// sets the --od-* variables), is not disturbed.
const style = `.od{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
.od .bg{fill:var(--od-bg,#fff)}
.od .box{fill:var(--od-box,#fff);stroke:var(--od-line,#94a3b8);stroke-width:1.2}
.od .stack{fill:var(--od-box,#fff);stroke:var(--od-line,#94a3b8);stroke-width:1}
.od .group{fill:var(--od-group,#f8fafc);stroke:var(--od-line,#94a3b8);stroke-width:1;stroke-dasharray:4 3}
.od .name{font-size:12.5px;font-weight:600;fill:var(--od-text,#0f172a)}
.od .kind,.od .glabel{font-size:11px;fill:var(--od-muted,#64748b)}
.od .edge{fill:none;stroke:var(--od-line,#94a3b8);stroke-width:1.3}
.od .edge.catch{stroke-dasharray:5 3}
.od .edge.observe{stroke-dasharray:1.5 3}
.od .observer .box{fill:var(--od-group,#f8fafc)}
.od .fold{fill:none;stroke:var(--od-line,#94a3b8);stroke-width:1}
.od .arrow{fill:var(--od-line,#94a3b8)}
.od .elabel{font-size:11px;fill:var(--od-muted,#475569)}
.od .lbg{fill:var(--od-bg,#fff);opacity:.92}
.od .start,.od .endo{fill:var(--od-text,#334155)}
.od .endi{fill:var(--od-bg,#fff)}
.od .badge{fill:var(--od-path,#2563eb)}
.od .badget{font-size:10px;font-weight:600;fill:#fff}
.od .edge.taken{stroke:var(--od-path,#2563eb);stroke-width:2.4}
.od .arrow.taken{fill:var(--od-path,#2563eb)}
.od .visited>.box{stroke:var(--od-path,#2563eb);stroke-width:2;fill:var(--od-visited,#eff6ff)}
.od .visited>.start,.od .visited>.endo{fill:var(--od-path,#2563eb)}
.od .retried>.box{stroke:#d97706;stroke-width:2;fill:var(--od-retried,#fffbeb)}
.od .current>.box{stroke:var(--od-path,#2563eb);stroke-width:3.2;fill:var(--od-current,#dbeafe)}
.od .failed>.box{stroke:#dc2626;stroke-width:2.4;fill:var(--od-failed,#fef2f2)}
.od .legend{font-size:11px;fill:var(--od-muted,#475569)}`

// drawing is a cluster laid out: its size, its nodes' boxes and where the
// layout put them.
type drawing struct {
	c      *Cluster
	w, h   float64
	boxes  []nodeBox  // by node index
	labels [][]string // by edge index: the label's lines
	labelW []float64  // by edge index: the label's width
	lay    *layered.Layout
}

// nodeBox is a node's size and, for a parallel or map state, the drawings
// of its machines.
type nodeBox struct {
	w, h float64
	subs []*drawing
}

// SVG renders the diagram as a standalone SVG picture, laid out here, with
// no external program. Parallel and map states are drawn as boxes holding
// their machines; catches are dashed. A marked diagram shows the path
// taken, the current state and failed states, with a legend.
func SVG(d *Diagram) []byte {
	top := lay(d.Root)
	w, h := top.w+2*margin, top.h+2*margin
	if d.Marked {
		h += legendH
		w = math.Max(w, 360)
	}
	id := idPrefix(d.Name)
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="od" width="%s" height="%s" viewBox="0 0 %s %s" role="img" aria-label="%s">`,
		num(w), num(h), num(w), num(h), esc(d.Name))
	fmt.Fprintf(&b, "\n<title>%s</title>\n<style>%s</style>\n", esc(d.Name), style)
	fmt.Fprintf(&b, `<defs><marker id="%[1]s-a" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="9" markerHeight="9" orient="auto"><path class="arrow" d="M0 0L10 5L0 10z"/></marker>`+
		`<marker id="%[1]s-t" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="10" markerHeight="10" orient="auto"><path class="arrow taken" d="M0 0L10 5L0 10z"/></marker></defs>`+"\n", id)
	fmt.Fprintf(&b, `<rect class="bg" width="%s" height="%s" rx="8"/>`+"\n", num(w), num(h))
	r := &renderer{b: &b, id: id}
	r.cluster(top, margin, margin)
	if d.Marked {
		r.legend(margin, h-legendH+6)
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}

// lay sizes a cluster's nodes (laying out nested machines first) and
// places them.
func lay(c *Cluster) *drawing {
	dr := &drawing{c: c, boxes: make([]nodeBox, len(c.Nodes)), labels: make([][]string, len(c.Edges)),
		labelW: make([]float64, len(c.Edges))}
	index := make(map[*Node]int, len(c.Nodes))
	g := &layered.Graph{Nodes: make([]layered.Node, len(c.Nodes))}
	for i, n := range c.Nodes {
		index[n] = i
		dr.boxes[i] = sizeNode(n)
		g.Nodes[i] = layered.Node{W: dr.boxes[i].w, H: dr.boxes[i].h}
	}
	for i, e := range c.Edges {
		le := layered.Edge{From: index[e.From], To: index[e.To]}
		if e.Label != "" {
			dr.labels[i] = wrap(e.Label, labelChars, labelLines)
			for _, line := range dr.labels[i] {
				le.LabelW = math.Max(le.LabelW, textWidth(line, fontSmall, false)+8)
			}
			le.LabelH = float64(len(dr.labels[i])) * labelLineH
			dr.labelW[i] = le.LabelW
		}
		g.Edges = append(g.Edges, le)
	}
	dr.lay = layered.Lay(g, layered.Options{NodeSep: 28, RankSep: 34})
	dr.w, dr.h = dr.lay.Width, dr.lay.Height
	return dr
}

// sizeNode measures a node's box.
func sizeNode(n *Node) nodeBox {
	switch n.Marker {
	case StartMarker:
		return nodeBox{w: 2 * startR, h: 2 * startR}
	case EndMarker:
		return nodeBox{w: 2 * endR, h: 2 * endR}
	}
	w := math.Max(textWidth(n.Name, fontName, true), textWidth(kindLine(n), fontSmall, false)) + 2*nodePadX
	if n.Visits > 1 {
		w += 22 // the visit badge
	}
	if len(n.Subs) == 0 {
		if n.Kind == flow.Choice {
			w += 2 * choiceTip
		}
		return nodeBox{w: math.Max(w, minNodeW), h: nodeH}
	}
	box := nodeBox{}
	inner, tallest := 0.0, 0.0
	for _, s := range n.Subs {
		sd := lay(s)
		box.subs = append(box.subs, sd)
		inner += sd.w + 2*groupPad
		tallest = math.Max(tallest, sd.h+groupLabelH+groupPad)
	}
	inner += float64(len(n.Subs)-1)*groupGap + 2*groupPad
	box.w = math.Max(math.Max(w, minNodeW), inner)
	box.h = headerH + tallest + groupPad
	if n.Kind == flow.Map {
		box.w += 2 * stackStep
		box.h += 2 * stackStep
	}
	return box
}

// kindLine is a state's second line: its kind and what it does.
func kindLine(n *Node) string {
	if n.Observer {
		return "observer"
	}
	if n.Detail == "" {
		return n.Kind.String()
	}
	return n.Kind.String() + " · " + n.Detail
}

type renderer struct {
	b  *bytes.Buffer
	id string
}

// cluster draws a laid-out cluster with its top left corner at (ox, oy):
// edges first, so that boxes cover their ends.
func (r *renderer) cluster(dr *drawing, ox, oy float64) {
	index := make(map[*Node]int, len(dr.c.Nodes))
	for i, n := range dr.c.Nodes {
		index[n] = i
	}
	for i, e := range dr.c.Edges {
		r.edge(e, dr.lay.Edges[i], dr.lay.Nodes[index[e.To]], ox, oy)
	}
	for i := range dr.c.Edges { // labels above every line
		if len(dr.labels[i]) > 0 {
			r.label(dr.lay.Edges[i], dr.labels[i], dr.labelW[i], ox, oy)
		}
	}
	for i, n := range dr.c.Nodes {
		p := dr.lay.Nodes[i]
		r.node(n, dr.boxes[i], ox+p.X, oy+p.Y, dr.c.Key)
	}
}

// edge draws an edge's line; to is the centre of its target, for edges
// into an end marker, which arrive aimed at its centre rather than all
// straight down onto one small circle.
func (r *renderer) edge(e *Edge, rt layered.Route, to layered.Point, ox, oy float64) {
	if len(rt.Points) < 2 {
		return
	}
	class, marker := "edge", r.id+"-a"
	switch e.Style {
	case Dashed:
		class += " catch"
	case Dotted:
		class += " observe"
	}
	if e.Taken {
		class, marker = class+" taken", r.id+"-t"
	}
	var d strings.Builder
	p := rt.Points
	fmt.Fprintf(&d, "M%s %s", num(ox+p[0].X), num(oy+p[0].Y))
	if rt.Self {
		fmt.Fprintf(&d, "C%s %s %s %s %s %s", num(ox+p[1].X), num(oy+p[1].Y), num(ox+p[2].X), num(oy+p[2].Y), num(ox+p[3].X), num(oy+p[3].Y))
		fmt.Fprintf(r.b, `<path class="%s" d="%s" marker-end="url(#%s)"/>`+"\n", class, d.String(), marker)
		return
	}
	for i := 1; i < len(p); i++ {
		a, c := p[i-1], p[i]
		my := (a.Y + c.Y) / 2
		c1, c2 := layered.Point{X: a.X, Y: my}, layered.Point{X: c.X, Y: my}
		if i == len(p)-1 && e.To.Marker == EndMarker && !rt.Back {
			dx, dy := to.X-a.X, to.Y-a.Y
			if l := math.Hypot(dx, dy); l > 0 {
				dx, dy = dx/l, dy/l
				c = layered.Point{X: to.X - dx*endR, Y: to.Y - dy*endR}
				reach := math.Min(18, l/2)
				c2 = layered.Point{X: c.X - dx*reach, Y: c.Y - dy*reach}
			}
		}
		fmt.Fprintf(&d, "C%s %s %s %s %s %s", num(ox+c1.X), num(oy+c1.Y), num(ox+c2.X), num(oy+c2.Y), num(ox+c.X), num(oy+c.Y))
	}
	fmt.Fprintf(r.b, `<path class="%s" d="%s" marker-end="url(#%s)"/>`+"\n", class, d.String(), marker)
}

// label writes an edge's label on a plate of the background colour,
// centred on the slot the layout kept for it, so that the edge seems to
// pass behind it.
func (r *renderer) label(rt layered.Route, lines []string, w, ox, oy float64) {
	x := ox + rt.Label.X
	h := float64(len(lines))*labelLineH + 2
	fmt.Fprintf(r.b, `<rect class="lbg" x="%s" y="%s" width="%s" height="%s" rx="3"/>`+"\n",
		num(x-w/2), num(oy+rt.Label.Y-h/2), num(w), num(h))
	y := oy + rt.Label.Y - float64(len(lines)-1)*labelLineH/2 + 4
	for i, line := range lines {
		fmt.Fprintf(r.b, `<text class="elabel" x="%s" y="%s" text-anchor="middle">%s</text>`+"\n",
			num(x), num(y+float64(i)*labelLineH), esc(line))
	}
}

// node draws a node centred on (x, y); machine is the key of the machine
// that holds it, for the console to find the state.
func (r *renderer) node(n *Node, box nodeBox, x, y float64, machine string) {
	classes := []string{"node"}
	switch {
	case n.Observer:
		classes = append(classes, "observer")
	case n.Marker == NoMarker:
		classes = append(classes, n.Kind.String())
	}
	for _, m := range [...]struct {
		bit  Mark
		name string
	}{{Visited, "visited"}, {Retried, "retried"}, {Current, "current"}, {Failed, "failed"}} {
		if n.Mark&m.bit != 0 {
			classes = append(classes, m.name)
		}
	}
	switch n.Marker {
	case StartMarker:
		fmt.Fprintf(r.b, `<g class="%s"><circle class="start" cx="%s" cy="%s" r="%d"/></g>`+"\n", strings.Join(classes, " "), num(x), num(y), startR)
		return
	case EndMarker:
		fmt.Fprintf(r.b, `<g class="%s"><circle class="endo" cx="%s" cy="%s" r="%d"/><circle class="endi" cx="%[2]s" cy="%[3]s" r="%[5]d"/><circle class="endo" cx="%[2]s" cy="%[3]s" r="%[6]d"/></g>`+"\n",
			strings.Join(classes, " "), num(x), num(y), endR, endR-2, endR-4)
		return
	}
	left, top := x-box.w/2, y-box.h/2
	if n.Observer {
		const fold = 9
		fmt.Fprintf(r.b, `<g class="%s" data-observer="%s"><title>%s</title>`, strings.Join(classes, " "), esc(n.Name), esc(n.Name+" (observer)"))
		fmt.Fprintf(r.b, `<path class="box" d="M%s %sH%sL%s %sV%sH%sZ"/><path class="fold" d="M%s %sV%sH%s"/>`,
			num(left), num(top), num(left+box.w-fold), num(left+box.w), num(top+fold), num(top+box.h), num(left),
			num(left+box.w-fold), num(top), num(top+fold), num(left+box.w))
		fmt.Fprintf(r.b, `<text class="name" x="%s" y="%s" text-anchor="middle">%s</text>`, num(x), num(y-3), esc(n.Name))
		fmt.Fprintf(r.b, `<text class="kind" x="%s" y="%s" text-anchor="middle">observer</text></g>`+"\n", num(x), num(y+12))
		return
	}
	fmt.Fprintf(r.b, `<g class="%s" data-state="%s" data-machine="%s">`, strings.Join(classes, " "), esc(n.Name), esc(machine))
	fmt.Fprintf(r.b, "<title>%s</title>", esc(r.title(n)))
	switch {
	case len(box.subs) > 0:
		w, h := box.w, box.h
		if n.Kind == flow.Map {
			w, h = w-2*stackStep, h-2*stackStep
			for k := 2; k >= 1; k-- {
				off := float64(k * stackStep)
				fmt.Fprintf(r.b, `<rect class="stack" x="%s" y="%s" width="%s" height="%s" rx="10"/>`, num(left+off), num(top+off), num(w), num(h))
			}
		}
		fmt.Fprintf(r.b, `<rect class="box" x="%s" y="%s" width="%s" height="%s" rx="10"/>`, num(left), num(top), num(w), num(h))
		fmt.Fprintf(r.b, `<text class="name" x="%s" y="%s">%s</text>`, num(left+nodePadX), num(top+19), esc(n.Name))
		fmt.Fprintf(r.b, `<text class="kind" x="%s" y="%s">%s</text>`, num(left+nodePadX), num(top+34), esc(kindLine(n)))
		r.badge(n, left+w, top)
		r.b.WriteString("</g>\n")
		inner := -float64(groupGap)
		for _, s := range box.subs {
			inner += s.w + 2*groupPad + groupGap
		}
		gx := x - inner/2
		if n.Kind == flow.Map {
			gx -= stackStep
		}
		for i, s := range box.subs {
			gw, gh := s.w+2*groupPad, s.h+groupLabelH+groupPad
			gy := top + headerH
			fmt.Fprintf(r.b, `<rect class="group" x="%s" y="%s" width="%s" height="%s" rx="8"/>`+"\n", num(gx), num(gy), num(gw), num(gh))
			label := "for each item"
			if n.Kind == flow.Parallel {
				label = "branch " + strconv.Itoa(i+1)
			}
			fmt.Fprintf(r.b, `<text class="glabel" x="%s" y="%s">%s</text>`+"\n", num(gx+8), num(gy+13), label)
			r.cluster(s, gx+groupPad, gy+groupLabelH)
			gx += gw + groupGap
		}
		return
	case n.Kind == flow.Choice:
		t := float64(choiceTip)
		fmt.Fprintf(r.b, `<path class="box" d="M%s %sH%sL%s %sL%s %sH%sL%s %sZ"/>`,
			num(left+t), num(top), num(left+box.w-t), num(left+box.w), num(y), num(left+box.w-t), num(top+box.h),
			num(left+t), num(left), num(y))
	default:
		fmt.Fprintf(r.b, `<rect class="box" x="%s" y="%s" width="%s" height="%s" rx="8"/>`, num(left), num(top), num(box.w), num(box.h))
	}
	fmt.Fprintf(r.b, `<text class="name" x="%s" y="%s" text-anchor="middle">%s</text>`, num(x), num(y-3), esc(n.Name))
	fmt.Fprintf(r.b, `<text class="kind" x="%s" y="%s" text-anchor="middle">%s</text>`, num(x), num(y+12), esc(kindLine(n)))
	r.badge(n, left+box.w, top)
	r.b.WriteString("</g>\n")
}

// badge counts the visits of a state entered more than once, on its top
// right corner.
func (r *renderer) badge(n *Node, right, top float64) {
	if n.Visits < 2 {
		return
	}
	t := "×" + strconv.Itoa(n.Visits)
	w := textWidth(t, 10, true) + 8
	fmt.Fprintf(r.b, `<rect class="badge" x="%s" y="%s" width="%s" height="14" rx="7"/><text class="badget" x="%s" y="%s" text-anchor="middle">%s</text>`,
		num(right-w-4), num(top+4), num(w), num(right-4-w/2), num(top+14.5), t)
}

// title is a state's tooltip.
func (r *renderer) title(n *Node) string {
	t := n.Name + " (" + kindLine(n) + ")"
	if n.Visits > 0 {
		t += fmt.Sprintf(", entered %d×", n.Visits)
	}
	switch n.Mark.class() {
	case "failed":
		t += ", failed"
	case "current":
		t += ", current state"
	case "retried":
		t += ", retried"
	}
	return t
}

// legend explains the marks of an instance's drawing.
func (r *renderer) legend(x, y float64) {
	r.b.WriteString(`<g class="legend">`)
	fmt.Fprintf(r.b, `<path class="edge taken" d="M%s %sh22"/><text x="%s" y="%s">path taken</text>`, num(x), num(y+8), num(x+28), num(y+12))
	x += 100
	for _, it := range [...]struct{ class, text string }{{"current", "current"}, {"failed", "failed"}, {"retried", "retried"}} {
		fmt.Fprintf(r.b, `<g class="%s"><rect class="box" x="%s" y="%s" width="18" height="14" rx="4"/></g><text x="%s" y="%s">%s</text>`,
			it.class, num(x), num(y+1), num(x+24), num(y+12), it.text)
		x += 80
	}
	r.b.WriteString("</g>\n")
}

// num writes a coordinate with at most one decimal.
func num(f float64) string {
	return strconv.FormatFloat(math.Round(f*10)/10, 'f', -1, 64)
}

// esc escapes text for SVG content and attributes.
func esc(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '"':
			b.WriteString("&quot;")
		case '\'':
			b.WriteString("&#39;")
		default:
			if r < ' ' && r != '\t' {
				b.WriteByte(' ') // control characters are not allowed in XML
				continue
			}
			b.WriteRune(r)
		}
	}
	return b.String()
}

// idPrefix makes marker ids unique to the workflow, so that several
// drawings inlined in one page do not share them.
func idPrefix(name string) string {
	var b strings.Builder
	b.WriteString("od-")
	for _, r := range name {
		if r < 128 && (r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}
