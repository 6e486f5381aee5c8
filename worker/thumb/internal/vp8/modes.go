package vp8

import "fmt"

// parseMB reads macroblock (mbx, mby) into mb, overwriting all of it: its segment, modes and
// dequantized coefficients, whether it has no non-zero coefficient and its loop filter level.
// It must be called for every macroblock in raster order, since each macroblock's contexts are
// those its neighbours above and to the left leave. It returns an error wrapping
// io.ErrUnexpectedEOF when a partition ends before the macroblock is whole; the parser must not
// be used after an error.
func (p *parser) parseMB(mbx, mby int, mb *macroblock) error {
	if mbx == 0 {
		p.leftModes = [4]uint8{}
		p.leftNZ = nonZero{}
	}
	d := &p.first

	// The prediction record (section 19.3, macroblock_header, and section 11).
	if p.updateMap {
		p.segment = int(d.readTree(segmentTree[:], p.segProbs[:]))
	}
	skipped := p.useSkip && d.readBit(p.skipProb)
	mb.ymode = d.readTree(kfYmodeTree[:], kfYmodeProbs[:])
	above := p.aboveModes[4*mbx : 4*mbx+4]
	if mb.ymode == modeB {
		for y := range 4 {
			left := p.leftModes[y]
			for x := range 4 {
				m := d.readTree(bmodeTree[:], kfBmodeProbs[above[x]][left][:])
				mb.bmodes[4*y+x] = m
				above[x] = m
				left = m
			}
			p.leftModes[y] = left
		}
	} else {
		m := impliedBmode[mb.ymode]
		for i := range mb.bmodes {
			mb.bmodes[i] = m
		}
		copy(above, mb.bmodes[:4])
		p.leftModes = [4]uint8{m, m, m, m}
	}
	mb.uvmode = d.readTree(uvModeTree[:], kfUVModeProbs[:])

	// The coefficients (section 13).
	mb.coeffs = [25][16]int16{}
	part := &p.parts[mby&(p.nparts-1)]
	if skipped {
		// The macroblock's blocks all end at once; a B_PRED macroblock has no Y2 block, and
		// leaves the Y2 contexts as they were.
		y2above, y2left := p.aboveNZ[mbx].y2, p.leftNZ.y2
		p.aboveNZ[mbx], p.leftNZ = nonZero{}, nonZero{}
		if mb.ymode == modeB {
			p.aboveNZ[mbx].y2, p.leftNZ.y2 = y2above, y2left
		}
		mb.skip = true
	} else {
		mb.skip = p.readCoefficients(part, mbx, mb)
	}

	bpred := 0
	if mb.ymode == modeB {
		bpred = 1
	}
	mb.filterLevel = p.filterLevel[p.segment][bpred]

	if d.eof {
		return truncated(fmt.Sprintf("first partition at macroblock (%d, %d)", mbx, mby))
	}
	if part.eof {
		return truncated(fmt.Sprintf("token partition %d at macroblock (%d, %d)", mby&(p.nparts-1), mbx, mby))
	}
	return nil
}
