package layered

import "testing"

// TestUncrossSwapsCrossingNodes starts from an order whose edges cross
// (the children of 0 in one order, theirs in the other) and checks that
// ordering removes every crossing.
func TestUncrossSwapsCrossingNodes(t *testing.T) {
	g := &Graph{Nodes: make([]Node, 7), Edges: []Edge{
		{From: 0, To: 1}, {From: 0, To: 2}, {From: 0, To: 3}, {From: 1, To: 4}, {From: 2, To: 5}, {From: 3, To: 6},
	}}
	l := &layout{}
	back := backEdges(g)
	l.build(g, back, rank(g, back))
	l.firstOrder()
	l.restore([][]int{{0}, {1, 2, 3}, {6, 4, 5}})
	if c := l.crossings(); c != 2 {
		t.Fatalf("the crossed order has %d crossings, want 2", c)
	}
	l.uncross()
	if c := l.crossings(); c != 0 {
		t.Errorf("after ordering %d crossings remain: %v", c, l.layers)
	}
}
