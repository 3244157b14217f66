package layered

import (
	"math"
	"slices"
)

// portStep is the most room between the ends of edges that leave or enter
// one side of a box.
const portStep = 14

// loopW is how far a self loop reaches right of its node.
const loopW = 22

// route sets node centres and edge routes in out, shifted so that the
// drawing starts at (0, 0).
func (l *layout) route(g *Graph, out *Layout) {
	ys := l.ys()
	minX, maxX := math.Inf(1), math.Inf(-1)
	for i := range l.vs {
		v := &l.vs[i]
		minX = math.Min(minX, v.x-v.w/2)
		maxX = math.Max(maxX, v.x+v.w/2)
	}
	for _, e := range g.Edges {
		if e.From == e.To {
			v := &l.vs[e.From]
			maxX = math.Max(maxX, v.x+v.w/2+loopW+e.LabelW+4)
		}
	}
	pos := func(v int) Point { return Point{l.vs[v].x - minX, ys[l.vs[v].rank]} }
	for i := range g.Nodes {
		out.Nodes[i] = pos(i)
	}
	out.Width = maxX - minX
	if n := len(ys); n > 0 {
		for _, v := range l.layers[n-1] {
			out.Height = math.Max(out.Height, ys[n-1]+l.vs[v].h/2)
		}
	}

	// Spread the ends of the edges on each side of a box, in the order of
	// where they come from or go, so that they do not cross at the box.
	type end struct {
		edge   int
		first  bool    // the chain's top end (else its bottom)
		toward float64 // x of the chain's next point
	}
	bottoms := map[int][]end{}
	tops := map[int][]end{}
	for i, c := range l.chains {
		if len(c.nodes) < 2 {
			continue
		}
		top, bottom := c.nodes[0], c.nodes[len(c.nodes)-1]
		bottoms[top] = append(bottoms[top], end{i, true, l.vs[c.nodes[1]].x})
		tops[bottom] = append(tops[bottom], end{i, false, l.vs[c.nodes[len(c.nodes)-2]].x})
	}
	ports := make([][2]float64, len(l.chains)) // x of the top end, x of the bottom end
	spread := func(node int, ends []end) {
		slices.SortStableFunc(ends, func(a, b end) int {
			switch {
			case a.toward < b.toward:
				return -1
			case a.toward > b.toward:
				return 1
			}
			return 0
		})
		v := &l.vs[node]
		step := 0.0
		if len(ends) > 1 {
			step = math.Min(portStep, v.w*0.7/float64(len(ends)-1))
		}
		for k, e := range ends {
			x := v.x + (float64(k)-float64(len(ends)-1)/2)*step
			if e.first {
				ports[e.edge][0] = x
			} else {
				ports[e.edge][1] = x
			}
		}
	}
	for v, ends := range bottoms {
		spread(v, ends)
	}
	for v, ends := range tops {
		spread(v, ends)
	}

	for i, c := range l.chains {
		r := Route{Back: c.back}
		if len(c.nodes) == 1 { // self loop on the right side
			v := l.vs[c.nodes[0]]
			p := pos(c.nodes[0])
			x := p.X + v.w/2
			r.Self = true
			r.Points = []Point{{x, p.Y - v.h/4}, {x + loopW, p.Y - v.h/4}, {x + loopW, p.Y + v.h/4}, {x, p.Y + v.h/4}}
			if e := g.Edges[i]; e.LabelW > 0 {
				r.Label = Point{x + loopW + 4 + e.LabelW/2, p.Y}
			}
			out.Edges[i] = r
			continue
		}
		top, bottom := c.nodes[0], c.nodes[len(c.nodes)-1]
		r.Points = append(r.Points, Point{ports[i][0] - minX, ys[l.vs[top].rank] + l.vs[top].h/2})
		for _, d := range c.nodes[1 : len(c.nodes)-1] {
			r.Points = append(r.Points, pos(d))
		}
		r.Points = append(r.Points, Point{ports[i][1] - minX, ys[l.vs[bottom].rank] - l.vs[bottom].h/2})
		if c.label >= 0 {
			r.Label = pos(c.label)
		}
		if c.back {
			slices.Reverse(r.Points)
		}
		out.Edges[i] = r
	}
}
