package pngscale

import "github.com/thumbq/thumbq/worker/thumb/internal/box"

// An adder adds one unfiltered row into the block sums acc of the output row (four per output
// pixel; output pixel ox takes source pixels xend[ox-1] to xend[ox]).
type adder func(row []byte, acc []uint64, xend []int)

// adder chooses how rows are summed (package box), the mode box.Emit reads the sums with, and
// unit, what one full-scale sample adds divided by 255. Colour is premultiplied by alpha before it is summed,
// so that transparent pixels lend no colour to their block.
func (st *state) adder(h *header) (adder, box.Mode, uint64) {
	switch {
	case h.depth == 16:
		return add16(h), box.RGBA, 65535 * 257
	case h.colorType == ctGrey && h.depth == 8 && !h.trns:
		return box.AddGrey8, box.Grey, 1
	case h.colorType == ctRGB && !h.trns:
		return box.AddRGB8, box.RGB, 1
	case h.colorType == ctRGB:
		return box.AddRGBKey8(uint8(h.key[0]), uint8(h.key[1]), uint8(h.key[2])), box.RGBA, 1
	case h.colorType == ctGreyAlpha:
		return box.AddGreyAlpha8, box.GreyAlpha, 255
	case h.colorType == ctRGBA:
		return box.AddNRGBA8, box.RGBA, 255
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
		return func(row []byte, acc []uint64, xend []int) { box.AddTable(row, acc, xend, lut) }, box.RGBA, 255
	}
	depth := uint(h.depth)
	return func(row []byte, acc []uint64, xend []int) {
		st.idx = expand(st.idx, row, xend[len(xend)-1], depth)
		box.AddTable(st.idx, acc, xend, lut)
	}, box.RGBA, 255
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
