package vp8

import "encoding/binary"

// Intra prediction (RFC 6386, section 12) into the reconstruction workspace.
//
// One macroblock is reconstructed at a time in a small fixed array, the workspace, that also
// holds the pixels prediction reads around it: the row above (with, for luma, the four pixels
// above and to the right), the column to the left and the pixel above-left, all as reconstructed
// and not yet loop-filtered (section 12: prediction reads unfiltered pixels). Working in a fixed
// array with a constant stride keeps the inner loops free of bounds checks and lets the frame
// edges be plain pixel values:
//
//	row 0       luma: above-left (column 3), above (4..19), above-right (20..23)
//	rows 1..16  luma: left (column 3), the 16x16 block (4..19); rows 4, 8 and 12 also hold a copy
//	            of the above-right pixels at columns 20..23, for subblocks 7, 11 and 15
//	row 17      chroma: Cb above-left (3) and above (4..11); Cr above-left (15) and above (16..23)
//	rows 18..25 chroma: Cb left (3) and block (4..11); Cr left (15) and block (16..23)
//
// At the frame's edges the pixels outside it read as x/image/vp8 (and libwebp) has them, which is
// what section 12.2 describes: 127 above the top row, including the above-left pixel and the
// above-right pixels of the top row of macroblocks; 129 left of the left column, including the
// above-left pixel of the macroblocks below the top row; and, for the rightmost macroblock below
// the top row, above-right pixels that repeat the last pixel of the row above (section 12.3).
const (
	wsStride = 32
	wsY      = 1*wsStride + 4  // luma pixel (0, 0)
	wsCb     = 18*wsStride + 4 // Cb pixel (0, 0)
	wsCr     = 18*wsStride + 16
	wsSize   = 26 * wsStride
)

// A workspace holds the macroblock being reconstructed and the pixels around it that prediction
// reads; see the layout above.
type workspace [wsSize]byte

// loadEdges fills the workspace's borders for the macroblock at (mbx, mby). The left column
// comes from the macroblock reconstructed just before, still in the workspace (or is 129 at the
// frame's left edge); the row above comes from above, the unfiltered bottom rows of the
// macroblock row above (127s for the top row): aboveY[16*mbx-1..16*mbx+19] and
// aboveCb/aboveCr[8*mbx..8*mbx+7].
func (ws *workspace) loadEdges(mbx, mby int, aboveY, aboveCb, aboveCr []byte) {
	if mbx == 0 {
		aboveLeft := byte(129)
		if mby == 0 {
			aboveLeft = 127
		}
		ws[wsY-wsStride-1] = aboveLeft
		ws[wsCb-wsStride-1] = aboveLeft
		ws[wsCr-wsStride-1] = aboveLeft
		for r := range 16 {
			ws[wsY+r*wsStride-1] = 129
		}
		for r := range 8 {
			ws[wsCb+r*wsStride-1] = 129
			ws[wsCr+r*wsStride-1] = 129
		}
	} else {
		// The previous macroblock's right column becomes the left one, and the last pixel of
		// its row above (still in row -1) the above-left one.
		for r := -1; r < 16; r++ {
			ws[wsY+r*wsStride-1] = ws[wsY+r*wsStride+15]
		}
		for r := -1; r < 8; r++ {
			ws[wsCb+r*wsStride-1] = ws[wsCb+r*wsStride+7]
			ws[wsCr+r*wsStride-1] = ws[wsCr+r*wsStride+7]
		}
	}
	copy(ws[wsY-wsStride:wsY-wsStride+20], aboveY[16*mbx:16*mbx+20])
	copy(ws[wsCb-wsStride:wsCb-wsStride+8], aboveCb[8*mbx:8*mbx+8])
	copy(ws[wsCr-wsStride:wsCr-wsStride+8], aboveCr[8*mbx:8*mbx+8])
}

// reconstruct predicts the macroblock mb in the workspace, whose borders loadEdges has filled,
// and adds its residue. hasAbove and hasLeft report whether the macroblock has neighbours above
// and to the left in the frame, which the DC modes of whole-block prediction need to know.
func (ws *workspace) reconstruct(mb *macroblock, hasAbove, hasLeft bool) {
	if mb.ymode == modeB {
		// Subblocks 7, 11 and 15 take their above-right pixels from the row above the
		// macroblock, as subblock 3 does: the pixels to their right are not decoded yet.
		ar := ws[wsY-wsStride+16 : wsY-wsStride+20]
		copy(ws[wsY+3*wsStride+16:], ar)
		copy(ws[wsY+7*wsStride+16:], ar)
		copy(ws[wsY+11*wsStride+16:], ar)
		for n := range 16 {
			off := wsY + (n>>2)*4*wsStride + (n&3)*4
			predictSubblock(ws, off, mb.bmodes[n])
			addResidue(&mb.coeffs[blockY+n], ws[off:])
		}
	} else {
		if mb.coeffs[blockY2] != ([16]int16{}) {
			inverseWHT(&mb.coeffs)
		}
		predictBlock(ws, wsY, 16, mb.ymode, hasAbove, hasLeft)
		for n := range 16 {
			addResidue(&mb.coeffs[blockY+n], ws[wsY+(n>>2)*4*wsStride+(n&3)*4:])
		}
	}
	predictBlock(ws, wsCb, 8, mb.uvmode, hasAbove, hasLeft)
	predictBlock(ws, wsCr, 8, mb.uvmode, hasAbove, hasLeft)
	for n := range 4 {
		d := (n>>1)*4*wsStride + (n&1)*4
		addResidue(&mb.coeffs[blockCb+n], ws[wsCb+d:])
		addResidue(&mb.coeffs[blockCr+n], ws[wsCr+d:])
	}
}

// predictBlock predicts the size x size block (16 for luma, 8 for chroma) at ws[off] with a
// whole-block mode (sections 12.2 and 12.3). DC_PRED averages the row above and the column to
// the left where the frame has them: only one of them at the frame's top or left edge, and
// neither (giving 128) at its top-left corner. The other modes read the edge values of the
// workspace's borders.
func predictBlock(ws *workspace, off, size int, mode uint8, hasAbove, hasLeft bool) {
	above := ws[off-wsStride : off-wsStride+size]
	switch mode {
	case modeDC:
		sum, shift := 0, 3
		if size == 16 {
			shift = 4
		}
		if hasAbove {
			for _, v := range above {
				sum += int(v)
			}
		}
		if hasLeft {
			for r := range size {
				sum += int(ws[off+r*wsStride-1])
			}
		}
		switch {
		case hasAbove && hasLeft:
			shift++
		case !hasAbove && !hasLeft:
			sum, shift = 128, 0
		}
		fill := uint64((sum+(1<<shift>>1))>>shift) * 0x0101010101010101
		for r := range size {
			row := ws[off+r*wsStride : off+r*wsStride+size]
			for c := 0; c < size; c += 8 {
				binary.LittleEndian.PutUint64(row[c:], fill)
			}
		}
	case modeV:
		for r := range size {
			copy(ws[off+r*wsStride:off+r*wsStride+size], above)
		}
	case modeH:
		for r := range size {
			fill := uint64(ws[off+r*wsStride-1]) * 0x0101010101010101
			row := ws[off+r*wsStride : off+r*wsStride+size]
			for c := 0; c < size; c += 8 {
				binary.LittleEndian.PutUint64(row[c:], fill)
			}
		}
	case modeTM:
		aboveLeft := int32(ws[off-wsStride-1])
		for r := range size {
			left := int32(ws[off+r*wsStride-1]) - aboveLeft
			row := ws[off+r*wsStride : off+r*wsStride+size]
			for c, a := range above {
				row[c] = clamp255(left + int32(a))
			}
		}
	}
}

// predictSubblock predicts the 4x4 luma subblock at ws[off] with the subblock mode mode
// (section 12.3). It reads the pixel above-left (P), the eight above (A0..A3) and above-right
// (A4..A7), and the four to the left (L0..L3).
func predictSubblock(ws *workspace, off int, mode uint8) {
	// t[0] is P, t[1+c] is A[c], t[(1+r)*wsStride] is L[r] and t[(1+r)*wsStride+1+c] is the
	// pixel at row r, column c of the subblock.
	t := (*[4*wsStride + 5]byte)(ws[off-wsStride-1:])
	const s = wsStride
	// put writes the four pixels of row r, leftmost first.
	put := func(r int, c0, c1, c2, c3 byte) {
		binary.LittleEndian.PutUint32(t[(1+r)*s+1:], uint32(c0)|uint32(c1)<<8|uint32(c2)<<16|uint32(c3)<<24)
	}
	p := int(t[0])
	a0, a1, a2, a3 := int(t[1]), int(t[2]), int(t[3]), int(t[4])
	l0, l1, l2, l3 := int(t[1*s]), int(t[2*s]), int(t[3*s]), int(t[4*s])

	switch mode {
	case bDC:
		v := byte((a0 + a1 + a2 + a3 + l0 + l1 + l2 + l3 + 4) >> 3)
		for r := range 4 {
			put(r, v, v, v, v)
		}
	case bTM:
		for r, l := range [4]int{l0, l1, l2, l3} {
			d := int32(l - p)
			put(r, clamp255(d+int32(a0)), clamp255(d+int32(a1)), clamp255(d+int32(a2)), clamp255(d+int32(a3)))
		}
	case bVE: // each column is its above pixel smoothed with its neighbours
		a4 := int(t[5])
		c0, c1, c2, c3 := avg3(p, a0, a1), avg3(a0, a1, a2), avg3(a1, a2, a3), avg3(a2, a3, a4)
		for r := range 4 {
			put(r, c0, c1, c2, c3)
		}
	case bHE: // each row is its left pixel smoothed with its neighbours; L[4] is taken as L[3]
		for r, v := range [4]byte{avg3(p, l0, l1), avg3(l0, l1, l2), avg3(l1, l2, l3), avg3(l2, l3, l3)} {
			put(r, v, v, v, v)
		}
	case bLD: // down-left diagonals, from the smoothed above and above-right row
		a4, a5, a6, a7 := int(t[5]), int(t[6]), int(t[7]), int(t[8])
		e := [7]byte{avg3(a0, a1, a2), avg3(a1, a2, a3), avg3(a2, a3, a4), avg3(a3, a4, a5),
			avg3(a4, a5, a6), avg3(a5, a6, a7), avg3(a6, a7, a7)}
		for r := range 4 {
			put(r, e[r], e[r+1], e[r+2], e[r+3])
		}
	case bRD: // down-right diagonals, from the left column, P and the row above, smoothed
		// e runs from the bottom of the left column, round P, to the right of the row above.
		e := [7]byte{avg3(l3, l2, l1), avg3(l2, l1, l0), avg3(l1, l0, p), avg3(l0, p, a0),
			avg3(p, a0, a1), avg3(a0, a1, a2), avg3(a1, a2, a3)}
		for r := range 4 {
			put(r, e[3-r], e[4-r], e[5-r], e[6-r])
		}
	case bVR: // steep diagonals leaning right
		pa, ab, bc, cd := avg2(p, a0), avg2(a0, a1), avg2(a1, a2), avg2(a2, a3)
		lpa, pab, abc, bcd := avg3(l0, p, a0), avg3(p, a0, a1), avg3(a0, a1, a2), avg3(a1, a2, a3)
		put(0, pa, ab, bc, cd)
		put(1, lpa, pab, abc, bcd)
		put(2, avg3(l1, l0, p), pa, ab, bc)
		put(3, avg3(l2, l1, l0), lpa, pab, abc)
	case bVL: // steep diagonals leaning left
		a4, a5, a6, a7 := int(t[5]), int(t[6]), int(t[7]), int(t[8])
		put(0, avg2(a0, a1), avg2(a1, a2), avg2(a2, a3), avg2(a3, a4))
		put(1, avg3(a0, a1, a2), avg3(a1, a2, a3), avg3(a2, a3, a4), avg3(a3, a4, a5))
		put(2, avg2(a1, a2), avg2(a2, a3), avg2(a3, a4), avg3(a4, a5, a6))
		put(3, avg3(a1, a2, a3), avg3(a2, a3, a4), avg3(a3, a4, a5), avg3(a5, a6, a7))
	case bHD: // shallow diagonals going down
		lp, l10, l21, l32 := avg2(l0, p), avg2(l1, l0), avg2(l2, l1), avg2(l3, l2)
		l1p, l20, l31 := avg3(l1, l0, p), avg3(l2, l1, l0), avg3(l3, l2, l1)
		lpa := avg3(l0, p, a0)
		put(0, lp, lpa, avg3(p, a0, a1), avg3(a0, a1, a2))
		put(1, l10, l1p, lp, lpa)
		put(2, l21, l20, l10, l1p)
		put(3, l32, l31, l21, l20)
	case bHU: // shallow diagonals going up, running out into L[3]
		l33 := byte(l3)
		put(0, avg2(l0, l1), avg3(l0, l1, l2), avg2(l1, l2), avg3(l1, l2, l3))
		put(1, avg2(l1, l2), avg3(l1, l2, l3), avg2(l2, l3), avg3(l2, l3, l3))
		put(2, avg2(l2, l3), avg3(l2, l3, l3), l33, l33)
		put(3, l33, l33, l33, l33)
	}
}

// avg2 and avg3 are the RFC's averages of two pixels and of three centred on y (section 12.3).
func avg2(x, y int) byte    { return byte((x + y + 1) >> 1) }
func avg3(x, y, z int) byte { return byte((x + 2*y + z + 2) >> 2) }
