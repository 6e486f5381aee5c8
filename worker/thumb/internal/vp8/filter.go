package vp8

// The loop filter (RFC 6386, section 15), applied one macroblock row at a time.
//
// Each macroblock filters, in this order: its left edge, its inner vertical edges, its top edge,
// its inner horizontal edges (section 15.1), and macroblocks are taken in raster order. Filtering
// a row after all of it is reconstructed, and before the next row is, gives the same result as
// filtering the whole frame at the end, as long as prediction reads unfiltered pixels (the
// workspace's borders are kept from before filtering, see predict.go): the only pixels of row
// r-1 that filtering row r touches are its last three rows, across the top edges.
//
// A segment is the line of pixels across an edge: p3 p2 p1 p0 | q0 q1 q2 q3. The functions
// below filter n segments along one edge. Segment i's pixels before the edge are
// pix[p + i*along - k*across] (p0 for k = 0 out to p3 for k = 3), and those after it
// pix[q + i*along + k*across]. Giving p and q separately lets the top edge of a macroblock
// straddle the two row buffers of decode.go, which need not be adjacent.
//
// Each filter transcribes its RFC function, in unsigned pixel values where the RFC converts to
// signed ones (u2s, s2u): the differences, and so the results, are the same. Two ways of making
// them faster were tried with BenchmarkLoopFilter and dropped: choosing the filters' outcomes
// without branches was slower, and loops specialised to each edge direction (without the
// strides' multiplications) were no faster.

// edgeLimits are the thresholds that one loop_filter_level gives (section 15.4).
type edgeLimits struct {
	mbEdge   int // edge limit for the edges between macroblocks: (level+2)*2 + interior
	subEdge  int // edge limit for the edges between subblocks: level*2 + interior
	interior int // limit on the differences between the pixels on one side of an edge
	hev      int // high edge variance threshold (key frames)
}

// newEdgeLimits computes the limits of a loop_filter_level, 1..63, under a sharpness_level.
func newEdgeLimits(level, sharpness int) edgeLimits {
	interior := level
	if sharpness > 0 {
		if sharpness > 4 {
			interior >>= 2
		} else {
			interior >>= 1
		}
		interior = min(interior, 9-sharpness)
	}
	interior = max(interior, 1)
	hev := 0
	switch {
	case level >= 40:
		hev = 2
	case level >= 15:
		hev = 1
	}
	return edgeLimits{
		mbEdge:   (level+2)*2 + interior,
		subEdge:  level*2 + interior,
		interior: interior,
		hev:      hev,
	}
}

// mbFilterInfo is what the loop filter needs to know of a macroblock.
type mbFilterInfo struct {
	level uint8 // loop_filter_level, 0 for none
	inner bool  // whether to filter the edges between its subblocks
}

// filterRow loop-filters macroblock row mby with the filter kind (filterNormal or
// filterSimple). y, cb and cr hold its pixels at yq, cq (pixel 0 of the row) with strides ys
// and cs; yp and cp are the offsets of the last pixel row of the macroblock row above (in any
// place of the same slices), used for the top edges when mby > 0.
func filterRow(kind int, limits *[64]edgeLimits, info []mbFilterInfo, mby int,
	y []byte, yq, yp, ys int, cb, cr []byte, cq, cp, cs int) {
	for mbx, mi := range info {
		if mi.level == 0 {
			continue
		}
		l := &limits[mi.level]
		yx, cx := yq+16*mbx, cq+8*mbx
		if kind == filterSimple { // luma only (section 15.2)
			if mbx > 0 {
				simpleEdge(y, yx-1, yx, 1, ys, 16, l.mbEdge)
			}
			if mi.inner {
				for x := 4; x < 16; x += 4 {
					simpleEdge(y, yx+x-1, yx+x, 1, ys, 16, l.subEdge)
				}
			}
			if mby > 0 {
				simpleEdge(y, yp+16*mbx, yx, ys, 1, 16, l.mbEdge)
			}
			if mi.inner {
				for r := 4; r < 16; r += 4 {
					simpleEdge(y, yx+(r-1)*ys, yx+r*ys, ys, 1, 16, l.subEdge)
				}
			}
			continue
		}
		if mbx > 0 {
			mbEdge(y, yx-1, yx, 1, ys, 16, l)
			mbEdge(cb, cx-1, cx, 1, cs, 8, l)
			mbEdge(cr, cx-1, cx, 1, cs, 8, l)
		}
		if mi.inner {
			for x := 4; x < 16; x += 4 {
				subblockEdge(y, yx+x-1, yx+x, 1, ys, 16, l)
			}
			subblockEdge(cb, cx+3, cx+4, 1, cs, 8, l)
			subblockEdge(cr, cx+3, cx+4, 1, cs, 8, l)
		}
		if mby > 0 {
			mbEdge(y, yp+16*mbx, yx, ys, 1, 16, l)
			mbEdge(cb, cp+8*mbx, cx, cs, 1, 8, l)
			mbEdge(cr, cp+8*mbx, cx, cs, 1, 8, l)
		}
		if mi.inner {
			for r := 4; r < 16; r += 4 {
				subblockEdge(y, yx+(r-1)*ys, yx+r*ys, ys, 1, 16, l)
			}
			subblockEdge(cb, cx+3*cs, cx+4*cs, cs, 1, 8, l)
			subblockEdge(cr, cx+3*cs, cx+4*cs, cs, 1, 8, l)
		}
	}
}

// simpleEdge applies the simple filter (section 15.2, simple_segment) to n segments, with the
// edge limit edge.
func simpleEdge(pix []byte, p, q, across, along, n, edge int) {
	for ; n > 0; n, p, q = n-1, p+along, q+along {
		p1, p0 := int(pix[p-across]), int(pix[p])
		q0, q1 := int(pix[q]), int(pix[q+across])
		if 2*abs(p0-q0)+abs(p1-q1)>>1 <= edge {
			pix[p], pix[q] = commonAdjust(p1, p0, q0, q1)
		}
	}
}

// subblockEdge applies the normal filter's inter-subblock filter (section 15.3,
// subblock_filter) to n segments.
func subblockEdge(pix []byte, p, q, across, along, n int, l *edgeLimits) {
	edge, interior, hev := l.subEdge, l.interior, l.hev
	for ; n > 0; n, p, q = n-1, p+along, q+along {
		p3, p2, p1, p0 := int(pix[p-3*across]), int(pix[p-2*across]), int(pix[p-across]), int(pix[p])
		q0, q1, q2, q3 := int(pix[q]), int(pix[q+across]), int(pix[q+2*across]), int(pix[q+3*across])
		if 2*abs(p0-q0)+abs(p1-q1)>>1 > edge ||
			max(abs(p3-p2), abs(p2-p1), abs(p1-p0), abs(q1-q0), abs(q2-q1), abs(q3-q2)) > interior {
			continue
		}
		if max(abs(p1-p0), abs(q1-q0)) > hev {
			// High edge variance: only p0 and q0 move, as in the simple filter.
			pix[p], pix[q] = commonAdjust(p1, p0, q0, q1)
			continue
		}
		// Without the outer taps; p1 and q1 move by half as much as p0 and q0.
		a := clamp127(3 * (q0 - p0))
		b := clamp127(a+3) >> 3
		a = clamp127(a+4) >> 3
		pix[p], pix[q] = clamp255(p0+b), clamp255(q0-a)
		a = (a + 1) >> 1
		pix[p-across], pix[q+across] = clamp255(p1+a), clamp255(q1-a)
	}
}

// mbEdge applies the normal filter's inter-macroblock filter (section 15.3, MBfilter) to n
// segments.
func mbEdge(pix []byte, p, q, across, along, n int, l *edgeLimits) {
	edge, interior, hev := l.mbEdge, l.interior, l.hev
	for ; n > 0; n, p, q = n-1, p+along, q+along {
		p3, p2, p1, p0 := int(pix[p-3*across]), int(pix[p-2*across]), int(pix[p-across]), int(pix[p])
		q0, q1, q2, q3 := int(pix[q]), int(pix[q+across]), int(pix[q+2*across]), int(pix[q+3*across])
		if 2*abs(p0-q0)+abs(p1-q1)>>1 > edge ||
			max(abs(p3-p2), abs(p2-p1), abs(p1-p0), abs(q1-q0), abs(q2-q1), abs(q3-q2)) > interior {
			continue
		}
		if max(abs(p1-p0), abs(q1-q0)) > hev {
			pix[p], pix[q] = commonAdjust(p1, p0, q0, q1)
			continue
		}
		// w is about twice the edge difference; the three pixels either side move by about
		// 3/7, 2/7 and 1/7 of it. |w| <= 128, so the adjustments need no clamping.
		w := clamp127(clamp127(p1-q1) + 3*(q0-p0))
		a := (27*w + 63) >> 7
		pix[p], pix[q] = clamp255(p0+a), clamp255(q0-a)
		a = (18*w + 63) >> 7
		pix[p-across], pix[q+across] = clamp255(p1+a), clamp255(q1-a)
		a = (9*w + 63) >> 7
		pix[p-2*across], pix[q+2*across] = clamp255(p2+a), clamp255(q2-a)
	}
}

// commonAdjust is the RFC's common_adjust with the outer taps (section 15.2): it returns p0 and
// q0 moved towards each other by about a quarter of the edge difference.
func commonAdjust(p1, p0, q0, q1 int) (byte, byte) {
	a := clamp127(clamp127(p1-q1) + 3*(q0-p0))
	return clamp255(p0 + clamp127(a+3)>>3), clamp255(q0 - clamp127(a+4)>>3)
}

// abs returns |x| without a branch: the signs of pixel differences are unpredictable.
func abs(x int) int {
	m := x >> 63
	return (x ^ m) - m
}

// clamp127 is the RFC's c(): saturation to a signed byte.
func clamp127(x int) int {
	return min(max(x, -128), 127)
}
