package thumb

import (
	"github.com/thumbq/thumbq/worker/failure"

	"image"
	"image/color"

	"golang.org/x/image/draw"
)

// resize fits the image inside the box (Width x Height as displayed, so the box is turned for
// orientations 5..8, whose stored image is on its side) keeping its aspect ratio, and never
// enlarges it.
//
// It works in two passes. An integer box filter first averages k x k blocks, k chosen so that the
// result is still 2 to 4 times the target size; it reads each source pixel once, straight from
// the decoder's own pixel layout, and costs little more than that read. Catmull-Rom
// (golang.org/x/image/draw) then resamples the small image to the exact size, which keeps the
// edges sharp. Run on a 12 megapixel photo this gives the same picture as Catmull-Rom over the
// whole source at a small fraction of the time (see BenchmarkResize and the package doc).
//
// The size is fitted from the source's full size, not from the decoded image's, which a scaled
// decoder may have rounded (a 4001 pixel wide JPEG decoded at 1/8 is 501 wide).
func resize(j *job) *failure.Error {
	tw, th := j.target()
	j.img = scale(j.img, tw, th)
	return nil
}

// target is the size of the thumbnail as stored (before orientation).
func (j *job) target() (int, int) {
	boxW, boxH := j.opts.Width, j.opts.Height
	if j.orientation >= 5 {
		boxW, boxH = boxH, boxW
	}
	return fit(j.width, j.height, boxW, boxH)
}

// shrink is the integer factor the source can be reduced by before the final filter while
// staying at least 2 times the thumbnail's size, as scale's box pre-shrink would; 1 when none.
func (j *job) shrink() int {
	tw, th := j.target()
	return max(1, min(j.width/(2*tw), j.height/(2*th)))
}

// fit returns the largest size with the aspect ratio of w x h (rounded to whole pixels, at least
// one) that fits in boxW x boxH, or w x h itself when it fits already.
func fit(w, h, boxW, boxH int) (int, int) {
	if w <= boxW && h <= boxH {
		return w, h
	}
	W, H, bw, bh := int64(w), int64(h), int64(boxW), int64(boxH)
	if W*bh >= H*bw { // relatively wider than the box: the width is the limit
		return boxW, int(max(1, (2*H*bw+W)/(2*W)))
	}
	return int(max(1, (2*W*bh+H)/(2*H))), boxH
}

// scale resizes src to exactly tw x th as premultiplied RGBA.
func scale(src image.Image, tw, th int) *image.RGBA {
	b := src.Bounds()
	k := max(1, min(b.Dx()/(2*tw), b.Dy()/(2*th)))
	small := boxShrink(src, k)
	if small.Rect.Dx() == tw && small.Rect.Dy() == th {
		return small
	}
	dst := image.NewRGBA(image.Rect(0, 0, tw, th))
	draw.CatmullRom.Scale(dst, dst.Rect, small, small.Rect, draw.Src, nil)
	return dst
}

// boxShrink averages blocks of about k x k source pixels into one premultiplied RGBA pixel,
// giving floor(w/k) x floor(h/k) pixels. The block edges are at i*w/ow (so blocks are k or k+1
// wide): every source pixel counts once and the picture keeps its exact geometry, which a
// fixed k with a partial last block would skew. With k = 1 it only converts.
func boxShrink(src image.Image, k int) *image.RGBA {
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	ow, oh := max(1, w/k), max(1, h/k)
	dst := image.NewRGBA(image.Rect(0, 0, ow, oh))
	add, unit, ycc := rowAdder(src, ow)
	acc := make([]uint64, 4*ow)
	for oy := range oh {
		clear(acc)
		y0, y1 := oy*h/oh, (oy+1)*h/oh
		for y := y0; y < y1; y++ {
			add(y, acc)
		}
		row := dst.Pix[oy*dst.Stride:]
		for ox := range ow {
			n := uint64((y1-y0)*((ox+1)*w/ow-ox*w/ow)) * unit
			var v [4]uint8
			for c := range 4 {
				v[c] = uint8((acc[4*ox+c] + n/2) / n)
			}
			if ycc {
				v[0], v[1], v[2] = color.YCbCrToRGB(v[0], v[1], v[2])
				v[3] = 0xff
			}
			copy(row[4*ox:4*ox+4], v[:])
		}
	}
	return dst
}

// rowAdder returns a function that adds source row y (counted from the top of the bounds) into the
// sums acc of the ow blocks of the row (four per block; block i ends at (i+1)*w/ow), reading the image's pixel layout directly where it knows
// it. unit is what one pixel's full-scale channel adds, relative to 255. When ycc is true the sums
// are of Y, Cb, Cr (an opaque image, converted to RGB after averaging, which is exact since the
// conversion is affine).
func rowAdder(src image.Image, ow int) (add func(y int, acc []uint64), unit uint64, ycc bool) {
	b := src.Bounds()
	w := b.Dx()
	switch m := src.(type) {
	case *image.YCbCr:
		hs, vs := chromaShift(m.SubsampleRatio)
		return func(y int, acc []uint64) {
			sy := b.Min.Y + y
			luma := m.Y[m.YOffset(b.Min.X, sy):][:w]
			ci := (sy>>vs-m.Rect.Min.Y>>vs)*m.CStride + b.Min.X>>hs - m.Rect.Min.X>>hs
			x0 := b.Min.X & (1<<hs - 1) // where the first pixel falls in its chroma sample
			cb := m.Cb[ci:][:(x0+w-1)>>hs+1]
			cr := m.Cr[ci:][:len(cb)]
			for ox, x := 0, 0; x < w; ox++ {
				var sY, sCb, sCr uint64
				for end := (ox + 1) * w / ow; x < end; x++ {
					c := (x0 + x) >> hs
					sY += uint64(luma[x])
					sCb += uint64(cb[c])
					sCr += uint64(cr[c])
				}
				acc[4*ox] += sY
				acc[4*ox+1] += sCb
				acc[4*ox+2] += sCr
			}
		}, 1, true
	case *image.RGBA:
		return func(y int, acc []uint64) {
			p := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for ox, x := 0, 0; x < w; ox++ {
				var r, g, bl, a uint64
				for end := (ox + 1) * w / ow; x < end; x++ {
					r += uint64(p[4*x])
					g += uint64(p[4*x+1])
					bl += uint64(p[4*x+2])
					a += uint64(p[4*x+3])
				}
				acc[4*ox] += r
				acc[4*ox+1] += g
				acc[4*ox+2] += bl
				acc[4*ox+3] += a
			}
		}, 1, false
	case *image.NRGBA:
		return func(y int, acc []uint64) {
			p := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for ox, x := 0, 0; x < w; ox++ {
				var r, g, bl, a uint64
				for end := (ox + 1) * w / ow; x < end; x++ {
					pa := uint64(p[4*x+3])
					r += uint64(p[4*x]) * pa // premultiply: sums are in units of 255
					g += uint64(p[4*x+1]) * pa
					bl += uint64(p[4*x+2]) * pa
					a += pa * 255
				}
				acc[4*ox] += r
				acc[4*ox+1] += g
				acc[4*ox+2] += bl
				acc[4*ox+3] += a
			}
		}, 255, false
	case image.RGBA64Image: // CMYK, Gray, Paletted, 16-bit, NYCbCrA...: no allocation per pixel
		return func(y int, acc []uint64) {
			for ox, x := 0, 0; x < w; ox++ {
				var r, g, bl, a uint64
				for end := (ox + 1) * w / ow; x < end; x++ {
					c := m.RGBA64At(b.Min.X+x, b.Min.Y+y)
					r += uint64(c.R)
					g += uint64(c.G)
					bl += uint64(c.B)
					a += uint64(c.A)
				}
				acc[4*ox] += r
				acc[4*ox+1] += g
				acc[4*ox+2] += bl
				acc[4*ox+3] += a
			}
		}, 257, false
	}
	return func(y int, acc []uint64) {
		for ox, x := 0, 0; x < w; ox++ {
			var r, g, bl, a uint64
			for end := (ox + 1) * w / ow; x < end; x++ {
				cr, cg, cb, ca := src.At(b.Min.X+x, b.Min.Y+y).RGBA()
				r += uint64(cr)
				g += uint64(cg)
				bl += uint64(cb)
				a += uint64(ca)
			}
			acc[4*ox] += r
			acc[4*ox+1] += g
			acc[4*ox+2] += bl
			acc[4*ox+3] += a
		}
	}, 257, false
}

// chromaShift gives the horizontal and vertical chroma subsampling as shifts.
func chromaShift(r image.YCbCrSubsampleRatio) (h, v int) {
	switch r {
	case image.YCbCrSubsampleRatio422:
		return 1, 0
	case image.YCbCrSubsampleRatio420:
		return 1, 1
	case image.YCbCrSubsampleRatio440:
		return 0, 1
	case image.YCbCrSubsampleRatio411:
		return 2, 0
	case image.YCbCrSubsampleRatio410:
		return 2, 1
	}
	return 0, 0
}
