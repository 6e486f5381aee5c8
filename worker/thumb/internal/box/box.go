// Package box averages blocks of pixels, the reduction both thumbnail paths share: package
// pngscale while it decodes, and package thumb's box pre-shrink of a decoded image.
//
// An output row of ow pixels is built from the sums of the source rows of its block: the Add
// functions add one source row into acc, four sums per output pixel, output pixel ox taking the
// source pixels ends[ox-1] to ends[ox] (see Ends); Emit then divides each sum by the number of
// pixels in its block and writes the pixels. Colour is premultiplied by alpha before it is summed,
// so that transparent pixels lend no colour to their block. unit, given to Emit, is what one
// full-scale sample adds divided by 255: 1 for 8-bit opaque or premultiplied samples, 255 for
// 8-bit samples premultiplied here by an 8-bit alpha, 257 for 16-bit premultiplied samples.
package box

import "image/color"

// Ends fills ends with where each of len(ends) output columns ends in a row of w source pixels:
// ends[ox] = (ox+1)*w/len(ends). The blocks are w/len(ends) or one more wide, every source pixel
// counts once, and the picture keeps its exact geometry.
func Ends(ends []int, w int) {
	ow := len(ends)
	for ox := range ends {
		ends[ox] = (ox + 1) * w / ow
	}
}

// A Mode says how Emit makes a pixel from the four sums of its block.
type Mode int

const (
	Grey      Mode = iota // sum 0 is the grey; opaque
	RGB                   // sums 0-2 are R, G, B; opaque
	GreyAlpha             // sum 0 is the premultiplied grey, sum 3 alpha
	RGBA                  // sums 0-3 are premultiplied R, G, B and alpha
	YCbCr                 // sums 0-2 are Y, Cb, Cr, converted after averaging (exact: the conversion is affine); opaque
)

// Emit writes an output row of premultiplied 8-bit RGBA from the block sums: each sum is divided by
// the number of pixels in its block (rows times its width) times unit, rounded.
func Emit(dst []uint8, acc []uint64, ends []int, rows uint64, m Mode, unit uint64) {
	x0 := 0
	for ox, x1 := range ends {
		d := rows * uint64(x1-x0) * unit
		x0 = x1
		s := acc[4*ox : 4*ox+4 : 4*ox+4]
		p := dst[4*ox : 4*ox+4 : 4*ox+4]
		switch m {
		case Grey:
			v := uint8((s[0] + d/2) / d)
			p[0], p[1], p[2], p[3] = v, v, v, 0xff
		case RGB:
			p[0], p[1], p[2], p[3] = uint8((s[0]+d/2)/d), uint8((s[1]+d/2)/d), uint8((s[2]+d/2)/d), 0xff
		case GreyAlpha:
			v := uint8((s[0] + d/2) / d)
			p[0], p[1], p[2], p[3] = v, v, v, uint8((s[3]+d/2)/d)
		case YCbCr:
			p[0], p[1], p[2] = color.YCbCrToRGB(uint8((s[0]+d/2)/d), uint8((s[1]+d/2)/d), uint8((s[2]+d/2)/d))
			p[3] = 0xff
		default:
			p[0], p[1], p[2], p[3] = uint8((s[0]+d/2)/d), uint8((s[1]+d/2)/d), uint8((s[2]+d/2)/d), uint8((s[3]+d/2)/d)
		}
	}
}

// AddGrey8 adds a row of 8-bit grey samples (sum 0; unit 1, Mode Grey).
func AddGrey8(row []byte, acc []uint64, ends []int) {
	x := 0
	for ox, end := range ends {
		var s uint64
		for _, v := range row[x:end] {
			s += uint64(v)
		}
		x = end
		acc[4*ox] += s
	}
}

// AddRGB8 adds a row of 8-bit R, G, B samples (sums 0-2; unit 1, Mode RGB).
func AddRGB8(row []byte, acc []uint64, ends []int) {
	x := 0
	for ox, end := range ends {
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

// AddRGBKey8 returns an adder of 8-bit R, G, B rows in which the colour kr, kg, kb is
// transparent (unit 1, Mode RGBA).
func AddRGBKey8(kr, kg, kb uint8) func(row []byte, acc []uint64, ends []int) {
	return func(row []byte, acc []uint64, ends []int) {
		x := 0
		for ox, end := range ends {
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

// AddGreyAlpha8 adds a row of 8-bit grey and straight alpha pairs (sums 0 and 3; unit 255, Mode
// GreyAlpha).
func AddGreyAlpha8(row []byte, acc []uint64, ends []int) {
	x := 0
	for ox, end := range ends {
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

// AddNRGBA8 adds a row of 8-bit R, G, B and straight (not premultiplied) alpha, as in
// image.NRGBA (unit 255, Mode RGBA).
func AddNRGBA8(row []byte, acc []uint64, ends []int) {
	x := 0
	for ox, end := range ends {
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

// AddTable adds a row of 8-bit indices into lut, a table of premultiplied colours in units of
// 255*255 (unit 255, Mode RGBA).
func AddTable(idx []byte, acc []uint64, ends []int, lut *[256][4]uint32) {
	x := 0
	for ox, end := range ends {
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

// AddRGBA8 adds a row of 8-bit premultiplied R, G, B, A, as in image.RGBA (unit 1, Mode RGBA).
func AddRGBA8(row []byte, acc []uint64, ends []int) {
	x := 0
	for ox, end := range ends {
		var r, g, b, a uint64
		p := row[4*x : 4*end]
		for len(p) >= 4 {
			r += uint64(p[0])
			g += uint64(p[1])
			b += uint64(p[2])
			a += uint64(p[3])
			p = p[4:]
		}
		x = end
		s := acc[4*ox : 4*ox+4 : 4*ox+4]
		s[0] += r
		s[1] += g
		s[2] += b
		s[3] += a
	}
}

// AddYCbCr adds a row of Y samples and its chroma samples, subsampled horizontally by 1<<hs, the
// row's first pixel falling at x0 in its chroma sample (sums 0-2; unit 1, Mode YCbCr).
func AddYCbCr(luma, cb, cr []byte, x0 int, hs uint, acc []uint64, ends []int) {
	x := 0
	for ox, end := range ends {
		var sY, sCb, sCr uint64
		for ; x < end; x++ {
			c := (x0 + x) >> hs
			sY += uint64(luma[x])
			sCb += uint64(cb[c])
			sCr += uint64(cr[c])
		}
		s := acc[4*ox : 4*ox+3 : 4*ox+3]
		s[0] += sY
		s[1] += sCb
		s[2] += sCr
	}
}
