package layered

import "slices"

// sweeps bounds the barycentre passes over the layers; small graphs settle
// in a few.
const sweeps = 24

// order fills the layers and orders each to cut edge crossings: a first
// order by depth-first search from node 0 (so that definition order reads
// left to right), then alternating barycentre sweeps down and up, each
// followed by swaps of neighbours that cross less, keeping the best order
// seen.
func (l *layout) order() {
	l.firstOrder()
	l.uncross()
}

func (l *layout) firstOrder() {
	seen := make([]bool, len(l.vs))
	var visit func(v int)
	visit = func(v int) {
		seen[v] = true
		r := l.vs[v].rank
		l.vs[v].order = len(l.layers[r])
		l.layers[r] = append(l.layers[r], v)
		for _, k := range l.vs[v].down {
			if !seen[k.to] {
				visit(k.to)
			}
		}
	}
	for v := range l.vs {
		if !seen[v] && !l.vs[v].dummy {
			visit(v)
		}
	}
	for v := range l.vs { // dummies of edges between unvisited parts
		if !seen[v] {
			visit(v)
		}
	}
}

func (l *layout) uncross() {
	best := l.crossings()
	bestOrder := l.snapshot()
	for i := 0; i < sweeps && best > 0; i++ {
		if i%2 == 0 {
			for r := 1; r < len(l.layers); r++ {
				l.sortBy(r, func(v *vnode) []link { return v.up })
			}
		} else {
			for r := len(l.layers) - 2; r >= 0; r-- {
				l.sortBy(r, func(v *vnode) []link { return v.down })
			}
		}
		l.transpose()
		if c := l.crossings(); c < best {
			best, bestOrder = c, l.snapshot()
		}
	}
	l.restore(bestOrder)
}

// sortBy orders layer r by the mean position of each node's neighbours
// that nbrs names; a node without any keeps its place.
func (l *layout) sortBy(r int, nbrs func(*vnode) []link) {
	layer := l.layers[r]
	keys := make(map[int]float64, len(layer))
	for _, v := range layer {
		ns := nbrs(&l.vs[v])
		if len(ns) == 0 {
			keys[v] = float64(l.vs[v].order)
			continue
		}
		sum := 0.0
		for _, k := range ns {
			sum += float64(l.vs[k.to].order)
		}
		keys[v] = sum / float64(len(ns))
	}
	slices.SortStableFunc(layer, func(a, b int) int {
		switch ka, kb := keys[a], keys[b]; {
		case ka < kb:
			return -1
		case ka > kb:
			return 1
		}
		return 0
	})
	for i, v := range layer {
		l.vs[v].order = i
	}
}

// transpose swaps neighbours in a layer while that removes crossings.
func (l *layout) transpose() {
	for pass, improved := 0, true; improved && pass < 8; pass++ {
		improved = false
		for _, layer := range l.layers {
			for i := 0; i+1 < len(layer); i++ {
				a, b := layer[i], layer[i+1]
				if l.pairCrossings(b, a) < l.pairCrossings(a, b) {
					layer[i], layer[i+1] = b, a
					l.vs[a].order, l.vs[b].order = i+1, i
					improved = true
				}
			}
		}
	}
}

// pairCrossings counts the crossings between the edges of a and of b, with
// a placed left of b.
func (l *layout) pairCrossings(a, b int) int {
	n := 0
	count := func(as, bs []link) {
		for _, x := range as {
			for _, y := range bs {
				if l.vs[x.to].order > l.vs[y.to].order {
					n++
				}
			}
		}
	}
	count(l.vs[a].up, l.vs[b].up)
	count(l.vs[a].down, l.vs[b].down)
	return n
}

// crossings counts the edge crossings between every pair of neighbouring
// layers.
func (l *layout) crossings() int {
	n := 0
	var segs [][2]int
	for r := 0; r+1 < len(l.layers); r++ {
		segs = segs[:0]
		for _, v := range l.layers[r] {
			for _, k := range l.vs[v].down {
				segs = append(segs, [2]int{l.vs[v].order, l.vs[k.to].order})
			}
		}
		for i := range segs {
			for j := i + 1; j < len(segs); j++ {
				if (segs[i][0]-segs[j][0])*(segs[i][1]-segs[j][1]) < 0 {
					n++
				}
			}
		}
	}
	return n
}

func (l *layout) snapshot() [][]int {
	out := make([][]int, len(l.layers))
	for r, layer := range l.layers {
		out[r] = slices.Clone(layer)
	}
	return out
}

func (l *layout) restore(layers [][]int) {
	l.layers = layers
	for _, layer := range layers {
		for i, v := range layer {
			l.vs[v].order = i
		}
	}
}
