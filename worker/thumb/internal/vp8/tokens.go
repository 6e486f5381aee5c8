package vp8

// readCoefficients reads the tokens of the blocks of macroblock mbx (RFC 6386, section 13) from
// the token partition d into mb.coeffs, dequantized and in natural order, and updates the
// contexts of the blocks around it. mb.coeffs must be all zero and mb.ymode set.
//
// It returns whether the macroblock counts as having no non-zero coefficient, decided as
// golang.org/x/image/vp8 decides whether to filter its inner edges: no luma or chroma block had
// a token before its end of block, and the inverse Walsh-Hadamard transform of the Y2 block, if
// any, gives every luma block a DC of 0. The Y2 block's own tokens do not count, only what its
// transform gives.
func (p *parser) readCoefficients(d *boolDecoder, mbx int, mb *macroblock) (skip bool) {
	q := &p.quantizers[p.segment]
	above, left := &p.aboveNZ[mbx], &p.leftNZ

	yType, yFirst := typeYOnly, 0
	y2 := false
	if mb.ymode != modeB {
		nz := p.readBlock(d, typeY2, int(above.y2+left.y2), 0, q, &mb.coeffs[blockY2])
		above.y2, left.y2 = nz, nz
		y2 = nz != 0
		yType, yFirst = typeYAfterY2, 1
	}

	any := uint8(0)
	for y := range 4 {
		l := left.y[y]
		for x := range 4 {
			l = p.readBlock(d, yType, int(above.y[x]+l), yFirst, q, &mb.coeffs[blockY+4*y+x])
			above.y[x] = l
			any |= l
		}
		left.y[y] = l
	}
	for y := range 2 {
		l := left.cb[y]
		for x := range 2 {
			l = p.readBlock(d, typeChroma, int(above.cb[x]+l), 0, q, &mb.coeffs[blockCb+2*y+x])
			above.cb[x] = l
			any |= l
		}
		left.cb[y] = l
	}
	for y := range 2 {
		l := left.cr[y]
		for x := range 2 {
			l = p.readBlock(d, typeChroma, int(above.cr[x]+l), 0, q, &mb.coeffs[blockCr+2*y+x])
			above.cr[x] = l
			any |= l
		}
		left.cr[y] = l
	}
	if any != 0 {
		return false
	}
	return !y2 || whtIsZero(&mb.coeffs[blockY2])
}

// readBlock reads the tokens of one block of type typ, whose first token has the context ctx
// (0..2: how many of the blocks above and to the left had a token before their end of block),
// from position first (1 for luma blocks after a Y2 block, 0 otherwise), and writes the
// dequantized coefficients to out in natural order. It returns 1 if the block had a token before
// its end of block, even one of value 0, and 0 if not: the context this block gives the blocks
// below and to its right.
//
// The walk of the token tree (coeffTree) is written out for speed.
func (p *parser) readBlock(d *boolDecoder, typ, ctx, first int, q *quantizer, out *[16]int16) uint8 {
	probs := &p.coeffProbs[typ]
	factors := &q[typ]
	n := first
	pr := &probs[coeffBands[n]][ctx]
	if !d.readBit(pr[0]) {
		return 0 // dctEOB
	}
	for {
		// A token other than dctEOB at position n.
		if !d.readBit(pr[1]) {
			// dct0, which no dctEOB can follow.
			n++
			if n == 16 {
				return 1
			}
			pr = &probs[coeffBands[n]][0]
			continue
		}
		var v int32
		next := 2 // the context of the next token: 1 after a dct1, 2 after a larger one
		if !d.readBit(pr[2]) {
			v, next = 1, 1
		} else {
			v = readLarge(d, pr)
		}
		if d.readBit(128) {
			v = -v
		}
		f := factors[1]
		if n == 0 {
			f = factors[0]
		}
		// The product is stored in 16 bits, wrapping as the reference decoders do.
		out[zigzag[n]] = int16(v * f)
		n++
		if n == 16 {
			return 1
		}
		pr = &probs[coeffBands[n]][next]
		if !d.readBit(pr[0]) {
			return 1 // dctEOB
		}
	}
}

// readLarge reads the rest of a token known to be dct2 or larger, with its extra bits, and
// returns its value (section 13.2).
func readLarge(d *boolDecoder, pr *[11]uint8) int32 {
	if !d.readBit(pr[3]) {
		if !d.readBit(pr[4]) {
			return 2
		}
		if !d.readBit(pr[5]) {
			return 3
		}
		return 4
	}
	var cat int
	if !d.readBit(pr[6]) {
		cat = 0 // dctCat1 or dctCat2
		if d.readBit(pr[7]) {
			cat = 1
		}
	} else {
		b := 0
		if d.readBit(pr[8]) {
			b = 1
		}
		cat = 2 + 2*b // dctCat3 or dctCat4, or dctCat5 or dctCat6
		if d.readBit(pr[9+b]) {
			cat++
		}
	}
	extra := int32(0)
	for _, prob := range catProbs[cat] {
		extra <<= 1
		if d.readBit(prob) {
			extra |= 1
		}
	}
	return catBase[cat] + extra
}

// whtIsZero reports whether the inverse Walsh-Hadamard transform of the Y2 block (section 14.3)
// gives every luma block a DC of 0. The sums are done in 32 bits and the results kept in 16, as
// golang.org/x/image/vp8 does; reconstruction does the transform itself.
func whtIsZero(c *[16]int16) bool {
	var m [16]int32
	for i := range 4 {
		a := int32(c[i]) + int32(c[12+i])
		b := int32(c[4+i]) + int32(c[8+i])
		e := int32(c[4+i]) - int32(c[8+i])
		f := int32(c[i]) - int32(c[12+i])
		m[i], m[4+i], m[8+i], m[12+i] = a+b, f+e, a-b, f-e
	}
	for i := range 4 {
		r := m[4*i : 4*i+4]
		a := r[0] + r[3] + 3
		b := r[1] + r[2]
		e := r[1] - r[2]
		f := r[0] - r[3] + 3
		if int16((a+b)>>3) != 0 || int16((f+e)>>3) != 0 || int16((a-b)>>3) != 0 || int16((f-e)>>3) != 0 {
			return false
		}
	}
	return true
}
