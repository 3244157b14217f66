package layered

import (
	"math"
	"reflect"
	"testing"
)

func box(n int) []Node {
	nodes := make([]Node, n)
	for i := range nodes {
		nodes[i] = Node{W: 80, H: 40}
	}
	return nodes
}

func near(a, b float64) bool { return math.Abs(a-b) < 0.01 }

func TestChainRunsStraightDown(t *testing.T) {
	g := &Graph{Nodes: box(4), Edges: []Edge{{From: 0, To: 1}, {From: 1, To: 2}, {From: 2, To: 3}}}
	l := Lay(g, Options{})
	for i := 1; i < 4; i++ {
		if !near(l.Nodes[i].X, l.Nodes[0].X) || l.Nodes[i].Y <= l.Nodes[i-1].Y {
			t.Errorf("node %d at %v after %v: want straight below", i, l.Nodes[i], l.Nodes[i-1])
		}
	}
	for i, r := range l.Edges {
		from, to := l.Nodes[g.Edges[i].From], l.Nodes[g.Edges[i].To]
		first, last := r.Points[0], r.Points[len(r.Points)-1]
		if !near(first.Y, from.Y+20) || !near(last.Y, to.Y-20) || r.Back || r.Self {
			t.Errorf("edge %d runs %v, want from the bottom of %v to the top of %v", i, r.Points, from, to)
		}
	}
	if !near(l.Width, 80) || !near(l.Height, l.Nodes[3].Y+20) {
		t.Errorf("size %v x %v", l.Width, l.Height)
	}
}

// TestBoxesNeverOverlap lays a graph shaped like an order workflow (a
// choice fanning out, catches jumping ahead, a loop back, one end) and
// checks that no two boxes and no label overlap.
func TestBoxesNeverOverlap(t *testing.T) {
	g := &Graph{Nodes: append(box(9), Node{W: 16, H: 16}), Edges: []Edge{
		{From: 0, To: 1}, {From: 1, To: 2}, {From: 1, To: 7, LabelW: 90, LabelH: 14},
		{From: 2, To: 3, LabelW: 40, LabelH: 14}, {From: 2, To: 5, LabelW: 50, LabelH: 14},
		{From: 3, To: 4}, {From: 3, To: 7, LabelW: 80, LabelH: 14}, {From: 4, To: 5}, {From: 4, To: 8},
		{From: 5, To: 6}, {From: 6, To: 9}, {From: 7, To: 9}, {From: 8, To: 9}, {From: 6, To: 2},
	}}
	l := Lay(g, Options{NodeSep: 20})
	type rect struct{ x0, y0, x1, y1 float64 }
	var rs []rect
	for i, n := range g.Nodes {
		p := l.Nodes[i]
		rs = append(rs, rect{p.X - n.W/2, p.Y - n.H/2, p.X + n.W/2, p.Y + n.H/2})
	}
	for i, e := range g.Edges {
		if e.LabelW > 0 {
			p := l.Edges[i].Label
			rs = append(rs, rect{p.X - e.LabelW/2, p.Y - e.LabelH/2, p.X + e.LabelW/2, p.Y + e.LabelH/2})
		}
	}
	for i := range rs {
		a := rs[i]
		if a.x0 < -0.01 || a.y0 < -0.01 || a.x1 > l.Width+0.01 || a.y1 > l.Height+0.01 {
			t.Errorf("box %d %v is outside %v x %v", i, a, l.Width, l.Height)
		}
		for j := i + 1; j < len(rs); j++ {
			b := rs[j]
			if a.x0 < b.x1-0.01 && b.x0 < a.x1-0.01 && a.y0 < b.y1-0.01 && b.y0 < a.y1-0.01 {
				t.Errorf("boxes %d %v and %d %v overlap", i, a, j, b)
			}
		}
	}
	back := l.Edges[len(g.Edges)-1]
	if !back.Back {
		t.Fatal("the loop from 6 back to 2 is not a back edge")
	}
	if p := back.Points; !near(p[0].Y, l.Nodes[6].Y-20) || !near(p[len(p)-1].Y, l.Nodes[2].Y+20) {
		t.Errorf("the loop back runs %v: want from the top of 6 to the bottom of 2", p)
	}
	for i, e := range g.Edges {
		if e.LabelW > 0 {
			from, to := l.Nodes[e.From], l.Nodes[e.To]
			if y := l.Edges[i].Label.Y; y <= from.Y || y >= to.Y {
				t.Errorf("label of edge %d at y %v is not between its ends (%v, %v)", i, y, from.Y, to.Y)
			}
		}
	}
	if again := Lay(g, Options{NodeSep: 20}); !reflect.DeepEqual(again, l) {
		t.Error("a second layout of the same graph differs")
	}
}

// TestLongEdgeKeepsItsSide checks that an edge spanning layers passes the
// layer between on the side of its source, crossing nothing.
func TestLongEdgeKeepsItsSide(t *testing.T) {
	g := &Graph{Nodes: box(5), Edges: []Edge{{From: 0, To: 2}, {From: 2, To: 3}, {From: 3, To: 4}, {From: 0, To: 1}, {From: 1, To: 4}}}
	l := Lay(g, Options{})
	long := l.Edges[4].Points[1] // the dummy of 1 -> 4, in 3's layer
	if !near(long.Y, l.Nodes[3].Y) {
		t.Fatalf("edge 1 -> 4 runs %v; want a point in the layer of 3 %v", l.Edges[4].Points, l.Nodes[3])
	}
	if (l.Nodes[1].X < l.Nodes[2].X) != (long.X < l.Nodes[3].X) {
		t.Errorf("edges cross: 1 %v, 2 %v; below them 1 -> 4 at %v, 3 at %v", l.Nodes[1], l.Nodes[2], long, l.Nodes[3])
	}
}

func TestSelfLoopAndEmpty(t *testing.T) {
	g := &Graph{Nodes: box(2), Edges: []Edge{{From: 0, To: 1}, {From: 1, To: 1, LabelW: 30, LabelH: 14}}}
	l := Lay(g, Options{})
	r := l.Edges[1]
	if !r.Self || len(r.Points) != 4 || r.Points[1].X <= l.Nodes[1].X+40 || r.Label.X <= r.Points[1].X {
		t.Errorf("self loop %+v", r)
	}
	if l.Width < r.Label.X+15-0.01 {
		t.Errorf("width %v leaves out the loop's label at %v", l.Width, r.Label)
	}
	if e := Lay(&Graph{}, Options{}); e.Width != 0 || len(e.Nodes) != 0 {
		t.Errorf("empty graph: %+v", e)
	}
}
