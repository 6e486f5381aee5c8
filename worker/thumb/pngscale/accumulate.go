package pngscale

// An adder adds one unfiltered row into the block sums acc of the output row (four per output
// pixel; output pixel ox takes source pixels xend[ox-1] to xend[ox]).
type adder func(row []byte, acc []uint64, xend []int)

// adder chooses how rows are summed, the mode emit reads the sums with, and unit, what one
// full-scale sample adds divided by 255. Colour is premultiplied by alpha before it is summed,
// so that transparent pixels lend no colour to their block.
func (st *state) adder(h *header) (adder, mode, uint64) {
	switch {
	case h.depth == 16:
		return add16(h), modeRGBA, 65535 * 257
	case h.colorType == ctGrey && h.depth == 8 && !h.trns:
		return addGrey8, modeGrey, 1
	case h.colorType == ctRGB && !h.trns:
		return addRGB8, modeRGB, 1
	case h.colorType == ctRGB:
		return addRGBKey8(uint8(h.key[0]), uint8(h.key[1]), uint8(h.key[2])), modeRGBA, 1
	case h.colorType == ctGreyAlpha:
		return addGreyAlpha8, modeGreyAlpha, 255
	case h.colorType == ctRGBA:
		return addRGBA8, modeRGBA, 255
	}
	// Grey below 8 bits or with a colour key, and palettes: look each sample up in a table of
	// premultiplied colours (in units of 255*255).
	for i := range st.lut {
		c := h.palette[i]
		if h.colorType == ctGrey {
			scale := uint8(255 / (1<<h.depth - 1))
			v := uint8(i) * scale
			c = [4]uint8{v, v, v, 0xff}
			if h.trns && v == uint8(h.key[0])*scale { // as image/png: the key's low byte, scaled
				c[3] = 0
			}
		}
		a := uint32(c[3])
		st.lut[i] = [4]uint32{uint32(c[0]) * a, uint32(c[1]) * a, uint32(c[2]) * a, a * 255}
	}
	lut := &st.lut
	if h.depth == 8 {
		return func(row []byte, acc []uint64, xend []int) { addTable(row, acc, xend, lut) }, modeRGBA, 255
	}
	depth := uint(h.depth)
	return func(row []byte, acc []uint64, xend []int) {
		st.idx = expand(st.idx, row, xend[len(xend)-1], depth)
		addTable(st.idx, acc, xend, lut)
	}, modeRGBA, 255
}

// expand unpacks the first w samples of depth bits of row into a byte each.
func expand(idx, row []byte, w int, depth uint) []byte {
	if cap(idx) < w {
		idx = make([]byte, w)
	}
	idx = idx[:w]
	perByte := 8 / depth
	mask := byte(1<<depth - 1)
	for x := range idx {
		b := row[uint(x)/perByte]
		shift := 8 - depth*(uint(x)%perByte+1)
		idx[x] = b >> shift & mask
	}
	return idx
}

func addGrey8(row []byte, acc []uint64, xend []int) {
	x := 0
	for ox, end := range xend {
		var s uint64
		for _, v := range row[x:end] {
			s += uint64(v)
		}
		x = end
		acc[4*ox] += s
	}
}

func addRGB8(row []byte, acc []uint64, xend []int) {
	x := 0
	for ox, end := range xend {
		var r, g, b uint64
		p := row[3*x : 3*end]
		for len(p) >= 3 {
			r += uint64(p[0])
			g += uint64(p[1])
			b += uint64(p[2])
			p = p[3:]
		}
		x = end
		a := acc[4*ox : 4*ox+3 : 4*ox+3]
		a[0] += r
		a[1] += g
		a[2] += b
	}
}

func addRGBKey8(kr, kg, kb uint8) adder {
	return func(row []byte, acc []uint64, xend []int) {
		x := 0
		for ox, end := range xend {
			var r, g, b, a uint64
			p := row[3*x : 3*end]
			for len(p) >= 3 {
				if p[0] != kr || p[1] != kg || p[2] != kb {
					r += uint64(p[0])
					g += uint64(p[1])
					b += uint64(p[2])
					a += 255
				}
				p = p[3:]
			}
			x = end
			s := acc[4*ox : 4*ox+4 : 4*ox+4]
			s[0] += r
			s[1] += g
			s[2] += b
			s[3] += a
		}
	}
}

func addGreyAlpha8(row []byte, acc []uint64, xend []int) {
	x := 0
	for ox, end := range xend {
		var v, a uint64
		p := row[2*x : 2*end]
		for len(p) >= 2 {
			pa := uint64(p[1])
			v += uint64(p[0]) * pa
			a += pa
			p = p[2:]
		}
		x = end
		acc[4*ox] += v
		acc[4*ox+3] += a * 255
	}
}

func addRGBA8(row []byte, acc []uint64, xend []int) {
	x := 0
	for ox, end := range xend {
		var r, g, b, a uint64
		p := row[4*x : 4*end]
		for len(p) >= 4 {
			pa := uint64(p[3])
			r += uint64(p[0]) * pa
			g += uint64(p[1]) * pa
			b += uint64(p[2]) * pa
			a += pa
			p = p[4:]
		}
		x = end
		s := acc[4*ox : 4*ox+4 : 4*ox+4]
		s[0] += r
		s[1] += g
		s[2] += b
		s[3] += a * 255
	}
}

func addTable(idx []byte, acc []uint64, xend []int, lut *[256][4]uint32) {
	x := 0
	for ox, end := range xend {
		var r, g, b, a uint64
		for _, i := range idx[x:end] {
			c := &lut[i]
			r += uint64(c[0])
			g += uint64(c[1])
			b += uint64(c[2])
			a += uint64(c[3])
		}
		x = end
		s := acc[4*ox : 4*ox+4 : 4*ox+4]
		s[0] += r
		s[1] += g
		s[2] += b
		s[3] += a
	}
}

// add16 sums 16-bit samples premultiplied in units of 65535*65535.
func add16(h *header) adder {
	nc := channels(h.colorType)
	ct, trns, key := h.colorType, h.trns, h.key
	return func(row []byte, acc []uint64, xend []int) {
		x := 0
		for ox, end := range xend {
			var r, g, b, a uint64
			p := row[2*nc*x : 2*nc*end]
			for len(p) >= 2*nc {
				var s [4]uint64
				for c := range nc {
					s[c] = uint64(p[2*c])<<8 | uint64(p[2*c+1])
				}
				p = p[2*nc:]
				switch ct {
				case ctGrey:
					s[1], s[2], s[3] = s[0], s[0], 0xffff
					if trns && s[0] == uint64(key[0]) {
						s[3] = 0
					}
				case ctGreyAlpha:
					s[3], s[1], s[2] = s[1], s[0], s[0]
				case ctRGB:
					s[3] = 0xffff
					if trns && s[0] == uint64(key[0]) && s[1] == uint64(key[1]) && s[2] == uint64(key[2]) {
						s[3] = 0
					}
				}
				r += s[0] * s[3]
				g += s[1] * s[3]
				b += s[2] * s[3]
				a += s[3]
			}
			x = end
			s := acc[4*ox : 4*ox+4 : 4*ox+4]
			s[0] += r
			s[1] += g
			s[2] += b
			s[3] += a * 0xffff
		}
	}
}
