package vp8l

// The transforms of section 4, in the order of their 2-bit codes.
const (
	predictor = iota
	crossColor
	subtractGreen
	colorIndexing
)

// A transform is one of the image's transforms, with what its inverse needs.
type transform struct {
	kind  int
	width int  // the width of the rows its inverse produces
	bits  uint // predictor, crossColor: log2 of the tile size; colorIndexing: log2 of the indices a pixel packs

	tilesX  int          // predictor, crossColor: tiles per row
	data    []byte       // predictor: a mode a tile; crossColor: red_to_blue, green_to_blue, green_to_red a tile
	palette *[256]uint32 // colorIndexing

	prev []uint32 // predictor: the row above, of width+1 pixels (see predictRow)
	out  []uint32 // colorIndexing: the unpacked row
}

// A pipeline undoes the transforms, last read first, on each row of the stream's pixels.
type pipeline struct {
	ts   []*transform
	emit func(y int, row []uint32) error
}

func (p *pipeline) init() {
	for _, t := range p.ts {
		switch t.kind {
		case predictor:
			t.prev = make([]uint32, t.width+1)
		case colorIndexing:
			if t.bits > 0 {
				t.out = make([]uint32, t.width)
			}
		}
	}
}

// row undoes the transforms on row y (which it may change) and hands it out.
func (p *pipeline) row(y int, row []uint32) error {
	for i := len(p.ts) - 1; i >= 0; i-- {
		t := p.ts[i]
		switch t.kind {
		case predictor:
			t.predictRow(y, row)
		case crossColor:
			t.colorRow(y, row)
		case subtractGreen:
			for x, c := range row {
				g := c >> 8 & 0xff
				row[x] = c&0xff00ff00 | (c&0x00ff00ff+(g<<16|g))&0x00ff00ff
			}
		case colorIndexing:
			row = t.unpackRow(row)
		}
	}
	return p.emit(y, row)
}

// addPixels adds two ARGB pixels channel by channel, modulo 256.
func addPixels(a, b uint32) uint32 {
	return (a&0xff00ff00+b&0xff00ff00)&0xff00ff00 | (a&0x00ff00ff+b&0x00ff00ff)&0x00ff00ff
}

// average2 is the channel-by-channel average of two pixels, rounded down.
func average2(a, b uint32) uint32 { return (a^b)&0xfefefefe>>1 + a&b }

// channel returns the byte of p at shift s.
func channel(p uint32, s uint) int32 { return int32(p >> s & 0xff) }

func abs32(x int32) int32 {
	if x < 0 {
		return -x
	}
	return x
}

func clamp255(x int32) uint32 { return uint32(min(max(x, 0), 255)) }

// selectPixel is the Select predictor: whichever of L and T is nearer the gradient estimate
// L+T-TL, measured as the sum of the channels' distances.
func selectPixel(l, t, tl uint32) uint32 {
	var pl, pt int32 // distance of the estimate to L, to T
	for s := uint(0); s < 32; s += 8 {
		pl += abs32(channel(tl, s) - channel(t, s))
		pt += abs32(channel(tl, s) - channel(l, s))
	}
	if pl < pt {
		return l
	}
	return t
}

// clampAddSubtractFull is L+T-TL, channel by channel, clamped to 0..255.
func clampAddSubtractFull(l, t, tl uint32) uint32 {
	return clamp255(channel(l, 24)+channel(t, 24)-channel(tl, 24))<<24 |
		clamp255(channel(l, 16)+channel(t, 16)-channel(tl, 16))<<16 |
		clamp255(channel(l, 8)+channel(t, 8)-channel(tl, 8))<<8 |
		clamp255(channel(l, 0)+channel(t, 0)-channel(tl, 0))
}

// halfStep is a+(a-b)/2 clamped to 0..255, the division rounding towards zero, as in C.
func halfStep(a, b int32) uint32 { return clamp255(a + (a-b)/2) }

// clampAddSubtractHalf is a+(a-b)/2, channel by channel, clamped to 0..255.
func clampAddSubtractHalf(a, b uint32) uint32 {
	return halfStep(channel(a, 24), channel(b, 24))<<24 |
		halfStep(channel(a, 16), channel(b, 16))<<16 |
		halfStep(channel(a, 8), channel(b, 8))<<8 |
		halfStep(channel(a, 0), channel(b, 0))
}

// predictRow undoes the predictor transform on row y (section 4.1): each pixel adds the
// prediction of its tile's mode from the pixels decoded before it: L (left), T (top), TL, TR.
// The top row predicts opaque black then L, the left column T. The rightmost pixel's TR is the
// leftmost pixel of its own row: prev holds it past the row above's end. Modes 14 and 15 predict
// nothing, as in x/image.
func (t *transform) predictRow(y int, row []uint32) {
	w := t.width
	prev := t.prev
	if y == 0 {
		row[0] = addPixels(row[0], 0xff000000)
		for x := 1; x < w; x++ {
			row[x] = addPixels(row[x], row[x-1])
		}
		copy(prev, row)
		return
	}
	row[0] = addPixels(row[0], prev[0])
	prev[w] = row[0]
	modes := t.data[(y>>t.bits)*t.tilesX:]
	for x0 := 1; x0 < w; {
		x1 := min((x0>>t.bits+1)<<t.bits, w)
		r, top := row[x0-1:x1], prev[x0-1:x1+1] // r[i] and top[i] are L and TL of pixel x0+i
		n := x1 - x0
		switch modes[x0>>t.bits] {
		case 0:
			for i := 1; i <= n; i++ {
				r[i] = addPixels(r[i], 0xff000000)
			}
		case 1:
			for i := 1; i <= n; i++ {
				r[i] = addPixels(r[i], r[i-1])
			}
		case 2:
			for i := 1; i <= n; i++ {
				r[i] = addPixels(r[i], top[i])
			}
		case 3:
			for i := 1; i <= n; i++ {
				r[i] = addPixels(r[i], top[i+1])
			}
		case 4:
			for i := 1; i <= n; i++ {
				r[i] = addPixels(r[i], top[i-1])
			}
		case 5:
			for i := 1; i <= n; i++ {
				r[i] = addPixels(r[i], average2(average2(r[i-1], top[i+1]), top[i]))
			}
		case 6:
			for i := 1; i <= n; i++ {
				r[i] = addPixels(r[i], average2(r[i-1], top[i-1]))
			}
		case 7:
			for i := 1; i <= n; i++ {
				r[i] = addPixels(r[i], average2(r[i-1], top[i]))
			}
		case 8:
			for i := 1; i <= n; i++ {
				r[i] = addPixels(r[i], average2(top[i-1], top[i]))
			}
		case 9:
			for i := 1; i <= n; i++ {
				r[i] = addPixels(r[i], average2(top[i], top[i+1]))
			}
		case 10:
			for i := 1; i <= n; i++ {
				r[i] = addPixels(r[i], average2(average2(r[i-1], top[i-1]), average2(top[i], top[i+1])))
			}
		case 11:
			for i := 1; i <= n; i++ {
				r[i] = addPixels(r[i], selectPixel(r[i-1], top[i], top[i-1]))
			}
		case 12:
			for i := 1; i <= n; i++ {
				r[i] = addPixels(r[i], clampAddSubtractFull(r[i-1], top[i], top[i-1]))
			}
		case 13:
			for i := 1; i <= n; i++ {
				r[i] = addPixels(r[i], clampAddSubtractHalf(average2(r[i-1], top[i]), top[i-1]))
			}
		}
		x0 = x1
	}
	copy(prev, row[:w])
}

// colorDelta is ColorTransformDelta (section 4.2): the product of two signed bytes, over 32.
func colorDelta(t, c int8) uint32 { return uint32(int32(t) * int32(c) >> 5) }

// colorRow undoes the colour transform on row y (section 4.2): red gains green times
// green_to_red; blue gains green times green_to_blue and the new red times red_to_blue.
func (t *transform) colorRow(y int, row []uint32) {
	m := t.data[3*(y>>t.bits)*t.tilesX:]
	for x0 := 0; x0 < len(row); {
		x1 := min((x0>>t.bits+1)<<t.bits, len(row))
		k := 3 * (x0 >> t.bits)
		redToBlue, greenToBlue, greenToRed := int8(m[k]), int8(m[k+1]), int8(m[k+2])
		for x := x0; x < x1; x++ {
			c := row[x]
			g := int8(c >> 8)
			r := (c>>16 + colorDelta(greenToRed, g)) & 0xff
			b := (c + colorDelta(greenToBlue, g) + colorDelta(redToBlue, int8(r))) & 0xff
			row[x] = c&0xff00ff00 | r<<16 | b
		}
		x0 = x1
	}
}

// unpackRow undoes colour indexing (section 4.4): each pixel's green is an index into the
// palette, or 2^bits of them, the first in the lowest bits.
func (t *transform) unpackRow(row []uint32) []uint32 {
	if t.bits == 0 {
		for x, c := range row {
			row[x] = t.palette[c>>8&0xff]
		}
		return row
	}
	per := uint(8) >> t.bits
	mask := uint32(1)<<per - 1
	xMask := 1<<t.bits - 1
	for x := range t.out {
		v := row[x>>t.bits] >> 8 >> (uint(x&xMask) * per)
		t.out[x] = t.palette[v&mask]
	}
	return t.out
}
