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
// A segment is the line of pixels across an edge, p3 p2 p1 p0 | q0 q1 q2 q3, which the filters
// below take as an [8]byte: in place for a vertical edge, where the segment lies along a pixel
// row, and gathered and scattered back for a horizontal edge. A macroblock's top edge straddles
// the two row buffers of decode.go, which need not be adjacent, so the rows above a horizontal
// edge are found from p (the offset of the first p0 pixel) and those below it from q.

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

// The kinds of segment filter.
const (
	simpleSegment   = iota // the simple filter (section 15.2), on every edge
	subblockSegment        // the normal filter's inter-subblock filter (section 15.3)
	mbSegment              // the normal filter's inter-macroblock filter (section 15.3)
)

// filterRow loop-filters macroblock row mby. y, cb and cr hold its pixels at yq, cq (pixel 0 of
// the row) with strides ys and cs; yp and cp are the offsets of the last pixel row of the
// macroblock row above (in any place of the same slices), used for the top edges when mby > 0.
func filterRow(kind int, limits *[64]edgeLimits, info []mbFilterInfo, mby int,
	y []byte, yq, yp, ys int, cb, cr []byte, cq, cp, cs int) {
	for mbx, mi := range info {
		if mi.level == 0 {
			continue
		}
		l := &limits[mi.level]
		yx, cx := yq+16*mbx, cq+8*mbx
		if kind == filterSimple {
			if mbx > 0 {
				verticalEdge(simpleSegment, y, yx, ys, 16, l.mbEdge, l)
			}
			if mi.inner {
				for x := 4; x < 16; x += 4 {
					verticalEdge(simpleSegment, y, yx+x, ys, 16, l.subEdge, l)
				}
			}
			if mby > 0 {
				horizontalEdge(simpleSegment, y, yp+16*mbx, yx, ys, 16, l.mbEdge, l)
			}
			if mi.inner {
				for r := 4; r < 16; r += 4 {
					horizontalEdge(simpleSegment, y, yx+(r-1)*ys, yx+r*ys, ys, 16, l.subEdge, l)
				}
			}
			continue
		}
		if mbx > 0 {
			verticalEdge(mbSegment, y, yx, ys, 16, l.mbEdge, l)
			verticalEdge(mbSegment, cb, cx, cs, 8, l.mbEdge, l)
			verticalEdge(mbSegment, cr, cx, cs, 8, l.mbEdge, l)
		}
		if mi.inner {
			for x := 4; x < 16; x += 4 {
				verticalEdge(subblockSegment, y, yx+x, ys, 16, l.subEdge, l)
			}
			verticalEdge(subblockSegment, cb, cx+4, cs, 8, l.subEdge, l)
			verticalEdge(subblockSegment, cr, cx+4, cs, 8, l.subEdge, l)
		}
		if mby > 0 {
			horizontalEdge(mbSegment, y, yp+16*mbx, yx, ys, 16, l.mbEdge, l)
			horizontalEdge(mbSegment, cb, cp+8*mbx, cx, cs, 8, l.mbEdge, l)
			horizontalEdge(mbSegment, cr, cp+8*mbx, cx, cs, 8, l.mbEdge, l)
		}
		if mi.inner {
			for r := 4; r < 16; r += 4 {
				horizontalEdge(subblockSegment, y, yx+(r-1)*ys, yx+r*ys, ys, 16, l.subEdge, l)
			}
			horizontalEdge(subblockSegment, cb, cx+3*cs, cx+4*cs, cs, 8, l.subEdge, l)
			horizontalEdge(subblockSegment, cr, cx+3*cs, cx+4*cs, cs, 8, l.subEdge, l)
		}
	}
}

// verticalEdge filters the n segments across a vertical edge, one per pixel row of stride
// stride, the first of whose q0 pixels is pix[q]; edge is the edge limit.
func verticalEdge(kind int, pix []byte, q, stride, n, edge int, l *edgeLimits) {
	edgeSegments(kind, pix, q-1, q, 1, stride, n, edge, l)
}

// horizontalEdge filters the n segments across a horizontal edge, one per pixel column: the
// first of their p0 pixels is pix[p], with p1..p3 in the rows above it, and the first of their
// q0 pixels pix[q], with q1..q3 in the rows below it.
func horizontalEdge(kind int, pix []byte, p, q, stride, n, edge int, l *edgeLimits) {
	edgeSegments(kind, pix, p, q, stride, 1, n, edge, l)
}

// edgeSegments filters n segments with the filter kind and the edge limit edge. Segment i's
// pixels before the edge are pix[p + i*along - k*across] (p0 for k = 0 out to p3 for k = 3),
// and those after it pix[q + i*along + k*across].
func edgeSegments(kind int, pix []byte, p, q, across, along, n, edge int, l *edgeLimits) {
	for ; n > 0; n, p, q = n-1, p+along, q+along {
		p1, p0 := int(pix[p-across]), int(pix[p])
		q0, q1 := int(pix[q]), int(pix[q+across])
		if 2*abs(p0-q0)+abs(p1-q1)>>1 > edge {
			continue
		}
		if kind == simpleSegment {
			pix[p], pix[q] = commonAdjust(p1, p0, q0, q1)
			continue
		}
		p3, p2 := int(pix[p-3*across]), int(pix[p-2*across])
		q2, q3 := int(pix[q+2*across]), int(pix[q+3*across])
		if max(abs(p3-p2), abs(p2-p1), abs(p1-p0), abs(q1-q0), abs(q2-q1), abs(q3-q2)) > l.interior {
			continue
		}
		if max(abs(p1-p0), abs(q1-q0)) > l.hev {
			// High edge variance: only p0 and q0 move, as in the simple filter.
			pix[p], pix[q] = commonAdjust(p1, p0, q0, q1)
			continue
		}
		if kind == subblockSegment {
			// Without the outer taps; p1 and q1 move by half as much as p0 and q0.
			a := clamp127(3 * (q0 - p0))
			b := clamp127(a+3) >> 3
			a = clamp127(a+4) >> 3
			pix[p], pix[q] = clamp255i(p0+b), clamp255i(q0-a)
			a = (a + 1) >> 1
			pix[p-across], pix[q+across] = clamp255i(p1+a), clamp255i(q1-a)
			continue
		}
		// w is about twice the edge difference; the three pixels either side move by about
		// 3/7, 2/7 and 1/7 of it. |w| <= 128, so the adjustments need no clamping.
		w := clamp127(clamp127(p1-q1) + 3*(q0-p0))
		a := (27*w + 63) >> 7
		pix[p], pix[q] = clamp255i(p0+a), clamp255i(q0-a)
		a = (18*w + 63) >> 7
		pix[p-across], pix[q+across] = clamp255i(p1+a), clamp255i(q1-a)
		a = (9*w + 63) >> 7
		pix[p-2*across], pix[q+2*across] = clamp255i(p2+a), clamp255i(q2-a)
	}
}

// commonAdjust is the RFC's common_adjust with the outer taps (section 15.2): it returns p0 and
// q0 moved towards each other by about a quarter of the edge difference.
func commonAdjust(p1, p0, q0, q1 int) (byte, byte) {
	a := clamp127(clamp127(p1-q1) + 3*(q0-p0))
	return clamp255i(p0 + clamp127(a+3)>>3), clamp255i(q0 - clamp127(a+4)>>3)
}

// abs returns |x|, without a branch: the signs of pixel differences are unpredictable.
func abs(x int) int {
	m := x >> 63
	return (x ^ m) - m
}

// clamp127 is the RFC's c(): saturation to a signed byte.
func clamp127(x int) int {
	return min(max(x, -128), 127)
}

// clamp255i saturates x to a pixel value.
func clamp255i(x int) byte {
	return byte(min(max(x, 0), 255))
}
