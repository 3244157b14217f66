// Package layered lays out a directed graph in layers, top to bottom, as
// Graphviz's dot does (the Sugiyama method): cycles are broken by turning
// back edges around, nodes are ranked by longest path, edges that span
// several layers are split by dummy nodes, each layer is ordered by
// barycentres to cut crossings, and x positions are a weighted least
// squares fit under separation constraints, so that long edges run
// straight. It knows nothing of workflows: the diagram package hands it
// boxes and edges and draws what comes back.
package layered

import (
	"math"
	"slices"
)

// Point is a position; y grows downwards.
type Point struct{ X, Y float64 }

// Node is a box to place, by its size.
type Node struct{ W, H float64 }

// Edge joins two nodes by index. An edge with a label size gets a slot of
// its own one layer below its source, where the label sits on the edge.
type Edge struct {
	From, To       int
	LabelW, LabelH float64
}

// Graph is what Lay places.
type Graph struct {
	Nodes []Node
	Edges []Edge
}

// Options are the gaps between boxes; zero values take the defaults.
type Options struct {
	NodeSep float64 // between neighbours in a layer; 0: 24
	RankSep float64 // between layers; 0: 32
}

// Layout is where Lay put everything, in a box from (0, 0) to
// (Width, Height).
type Layout struct {
	Width, Height float64
	Nodes         []Point // centres, by node index
	Edges         []Route // by edge index
}

// Route is the way an edge is drawn: a polyline from the source's border
// to the target's, in the edge's direction, meant to be drawn as a smooth
// curve through its points.
type Route struct {
	Points []Point
	Label  Point // centre of the label, when the edge has one
	// Back is true for an edge drawn against the flow (a loop back to an
	// earlier layer): it leaves its source's top and enters its target's
	// bottom.
	Back bool
	// Self is true for an edge from a node to itself; Points then trace a
	// loop on the node's right side.
	Self bool
}

// vnode is a node of the layered graph: a real node, or a dummy on a long
// edge (w, h zero, or the label's size).
type vnode struct {
	w, h   float64
	rank   int
	order  int
	x      float64
	dummy  bool
	up     []link // neighbours one layer up
	down   []link // neighbours one layer down
	parent int    // for the initial order
}

// link is one edge segment between neighbouring layers, weighted so that
// segments between dummies pull hardest: long edges run straight.
type link struct {
	to int
	w  float64
}

// chain is an edge of the graph as laid: its vnodes from top to bottom.
type chain struct {
	nodes []int
	back  bool
	label int // vnode holding the label, or -1
}

type layout struct {
	opt    Options
	vs     []vnode
	layers [][]int
	chains []chain
}

// Lay places g's nodes and routes its edges.
func Lay(g *Graph, opt Options) *Layout {
	if opt.NodeSep <= 0 {
		opt.NodeSep = 24
	}
	if opt.RankSep <= 0 {
		opt.RankSep = 32
	}
	l := &layout{opt: opt}
	out := &Layout{Nodes: make([]Point, len(g.Nodes)), Edges: make([]Route, len(g.Edges))}
	if len(g.Nodes) == 0 {
		return out
	}
	back := backEdges(g)
	ranks := rank(g, back)
	l.build(g, back, ranks)
	l.order()
	l.place()
	l.route(g, out)
	return out
}

// backEdges finds the edges that close a cycle, by depth-first search from
// each node in index order (so node 0, the start, is the top), following
// edges in the order given. Self loops are left out of ranking altogether.
func backEdges(g *Graph) []bool {
	out := make([][]int, len(g.Nodes))
	for i, e := range g.Edges {
		out[e.From] = append(out[e.From], i)
	}
	back := make([]bool, len(g.Edges))
	state := make([]uint8, len(g.Nodes)) // 0 new, 1 on the stack, 2 done
	type frame struct{ node, next int }
	for root := range g.Nodes {
		if state[root] != 0 {
			continue
		}
		stack := []frame{{root, 0}}
		state[root] = 1
		for len(stack) > 0 {
			f := &stack[len(stack)-1]
			if f.next == len(out[f.node]) {
				state[f.node] = 2
				stack = stack[:len(stack)-1]
				continue
			}
			ei := out[f.node][f.next]
			f.next++
			to := g.Edges[ei].To
			switch state[to] {
			case 0:
				state[to] = 1
				stack = append(stack, frame{to, 0})
			case 1:
				back[ei] = true
			}
		}
	}
	return back
}

// ends gives an edge's ends as laid: back edges turned around.
func ends(e Edge, back bool) (top, bottom int) {
	if back {
		return e.To, e.From
	}
	return e.From, e.To
}

func minLen(e Edge) int {
	if e.LabelW > 0 {
		return 2
	}
	return 1
}

// rank gives each node its layer: the longest path to it from a node
// without predecessors. Nodes with no predecessors other than node 0 are
// then pulled down next to their successors, so that a stray source does
// not sit on top, far from what it leads to.
func rank(g *Graph, back []bool) []int {
	n := len(g.Nodes)
	indeg := make([]int, n)
	succ := make([][]int, n)
	for i, e := range g.Edges {
		if e.From == e.To {
			continue
		}
		top, bottom := ends(e, back[i])
		indeg[bottom]++
		succ[top] = append(succ[top], i)
	}
	ranks := make([]int, n)
	queue := make([]int, 0, n)
	for v := range n {
		if indeg[v] == 0 {
			queue = append(queue, v)
		}
	}
	topo := make([]int, 0, n)
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		topo = append(topo, v)
		for _, ei := range succ[v] {
			_, w := ends(g.Edges[ei], back[ei])
			ranks[w] = max(ranks[w], ranks[v]+minLen(g.Edges[ei]))
			if indeg[w]--; indeg[w] == 0 {
				queue = append(queue, w)
			}
		}
	}
	hasPred := make([]bool, n)
	for i, e := range g.Edges {
		if e.From != e.To {
			_, bottom := ends(e, back[i])
			hasPred[bottom] = true
		}
	}
	for _, v := range slices.Backward(topo) {
		if v == 0 || hasPred[v] || len(succ[v]) == 0 {
			continue
		}
		r := math.MaxInt
		for _, ei := range succ[v] {
			_, w := ends(g.Edges[ei], back[ei])
			r = min(r, ranks[w]-minLen(g.Edges[ei]))
		}
		ranks[v] = max(r, 0)
	}
	return ranks
}

// build makes the layered graph: real nodes first (vnode i is node i),
// then the dummies of each edge's chain.
func (l *layout) build(g *Graph, back []bool, ranks []int) {
	l.vs = make([]vnode, len(g.Nodes))
	for i, nd := range g.Nodes {
		l.vs[i] = vnode{w: nd.W, h: nd.H, rank: ranks[i], parent: -1}
	}
	l.chains = make([]chain, len(g.Edges))
	for i, e := range g.Edges {
		c := chain{back: back[i], label: -1}
		if e.From == e.To {
			c.nodes = []int{e.From}
			l.chains[i] = c
			continue
		}
		top, bottom := ends(e, back[i])
		c.nodes = append(c.nodes, top)
		span := ranks[bottom] - ranks[top]
		labelAt := -1
		if e.LabelW > 0 {
			labelAt = ranks[top] + span/2
		}
		for r := ranks[top] + 1; r < ranks[bottom]; r++ {
			v := vnode{rank: r, dummy: true, parent: -1}
			if r == labelAt {
				v.w, v.h = e.LabelW, e.LabelH
				c.label = len(l.vs)
			}
			c.nodes = append(c.nodes, len(l.vs))
			l.vs = append(l.vs, v)
		}
		c.nodes = append(c.nodes, bottom)
		for j := 0; j+1 < len(c.nodes); j++ {
			a, b := c.nodes[j], c.nodes[j+1]
			w := 1.0
			switch {
			case l.vs[a].dummy && l.vs[b].dummy:
				w = 8
			case l.vs[a].dummy || l.vs[b].dummy:
				w = 2
			}
			l.vs[a].down = append(l.vs[a].down, link{b, w})
			l.vs[b].up = append(l.vs[b].up, link{a, w})
		}
		l.chains[i] = c
	}
	maxRank := 0
	for _, v := range l.vs {
		maxRank = max(maxRank, v.rank)
	}
	l.layers = make([][]int, maxRank+1)
}
