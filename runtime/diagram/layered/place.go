package layered

import "math"

// placeRounds is how many times x positions are refitted to the layers
// above and below.
const placeRounds = 6

// dummySep is the gap beside a bare dummy: edges may run closer to each
// other than boxes.
const dummySep = 10

// place gives every vnode its x and every layer its y.
func (l *layout) place() {
	for _, layer := range l.layers {
		off := l.offsets(layer)
		mid := off[len(off)-1] / 2
		for i, v := range layer {
			l.vs[v].x = off[i] - mid
		}
	}
	up := func(v *vnode) []link { return v.up }
	down := func(v *vnode) []link { return v.down }
	both := func(v *vnode) []link { return append(v.up[:len(v.up):len(v.up)], v.down...) }
	for range placeRounds {
		for r := 1; r < len(l.layers); r++ {
			l.fit(l.layers[r], up)
		}
		for r := len(l.layers) - 2; r >= 0; r-- {
			l.fit(l.layers[r], down)
		}
	}
	for range 2 {
		for _, layer := range l.layers {
			l.fit(layer, both)
		}
	}
}

// sep is the least distance between the centres of neighbours a and b.
func (l *layout) sep(a, b int) float64 {
	va, vb := &l.vs[a], &l.vs[b]
	gap := l.opt.NodeSep
	if (va.dummy && va.w == 0) || (vb.dummy && vb.w == 0) {
		gap = dummySep
	}
	return va.w/2 + gap + vb.w/2
}

// offsets are the positions a layer would take packed tight from 0.
func (l *layout) offsets(layer []int) []float64 {
	off := make([]float64, len(layer))
	for i := 1; i < len(layer); i++ {
		off[i] = off[i-1] + l.sep(layer[i-1], layer[i])
	}
	return off
}

// fit moves the layer's nodes as close as their separation allows to the
// weighted mean x of their neighbours (nbrs): the least squares fit under
// "each node at least sep right of the previous", solved exactly by pool
// adjacent violators on x minus the packed offsets.
func (l *layout) fit(layer []int, nbrs func(*vnode) []link) {
	if len(layer) == 0 {
		return
	}
	off := l.offsets(layer)
	type block struct {
		w, wv float64
		n     int
	}
	blocks := make([]block, 0, len(layer))
	for i, v := range layer {
		vn := &l.vs[v]
		want, weight := vn.x, 0.01 // without neighbours: stay, weakly
		if ns := nbrs(vn); len(ns) > 0 {
			sum, ws := 0.0, 0.0
			for _, k := range ns {
				sum += k.w * l.vs[k.to].x
				ws += k.w
			}
			want, weight = sum/ws, ws
		}
		b := block{w: weight, wv: weight * (want - off[i]), n: 1}
		for len(blocks) > 0 {
			last := blocks[len(blocks)-1]
			if last.wv/last.w <= b.wv/b.w {
				break
			}
			b = block{w: last.w + b.w, wv: last.wv + b.wv, n: last.n + b.n}
			blocks = blocks[:len(blocks)-1]
		}
		blocks = append(blocks, b)
	}
	i := 0
	for _, b := range blocks {
		y := b.wv / b.w
		for range b.n {
			l.vs[layer[i]].x = y + off[i]
			i++
		}
	}
}

// ys gives each layer's centre line: layers are as tall as their tallest
// box, and a layer that holds only edge labels sits closer to its
// neighbours.
func (l *layout) ys() []float64 {
	heights := make([]float64, len(l.layers))
	labelsOnly := make([]bool, len(l.layers))
	for r, layer := range l.layers {
		labelsOnly[r] = true
		for _, v := range layer {
			heights[r] = math.Max(heights[r], l.vs[v].h)
			if !l.vs[v].dummy {
				labelsOnly[r] = false
			}
		}
	}
	ys := make([]float64, len(l.layers))
	for r := range l.layers {
		if r == 0 {
			ys[r] = heights[0] / 2
			continue
		}
		gap := l.opt.RankSep
		if labelsOnly[r] || labelsOnly[r-1] {
			gap /= 2
		}
		ys[r] = ys[r-1] + heights[r-1]/2 + gap + heights[r]/2
	}
	return ys
}
