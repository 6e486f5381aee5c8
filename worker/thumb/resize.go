package thumb

import (
	"image"

	"golang.org/x/image/draw"

	"github.com/thumbq/thumbq/worker/failure"
	"github.com/thumbq/thumbq/worker/thumb/internal/box"
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
// giving floor(w/k) x floor(h/k) pixels, with package box (which pngscale shares): block edges
// at i*w/ow, so blocks are k or k+1 wide, every source pixel counts once and the picture keeps
// its exact geometry, which a fixed k with a partial last block would skew. With k = 1 it only
// converts.
func boxShrink(src image.Image, k int) *image.RGBA {
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	ow, oh := max(1, w/k), max(1, h/k)
	dst := image.NewRGBA(image.Rect(0, 0, ow, oh))
	ends := make([]int, ow)
	box.Ends(ends, w)
	add, mode, unit := rowAdder(src, ends)
	acc := make([]uint64, 4*ow)
	for oy := range oh {
		clear(acc)
		y0, y1 := oy*h/oh, (oy+1)*h/oh
		for y := y0; y < y1; y++ {
			add(y, acc)
		}
		box.Emit(dst.Pix[oy*dst.Stride:][:4*ow], acc, ends, uint64(y1-y0), mode, unit)
	}
	return dst
}

// rowAdder returns a function that adds source row y (counted from the top of the bounds) into
// the block sums acc (see package box), reading the image's pixel layout directly where it knows
// it, with the mode and unit box.Emit reads the sums with.
func rowAdder(src image.Image, ends []int) (add func(y int, acc []uint64), mode box.Mode, unit uint64) {
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
			box.AddYCbCr(luma, cb, cr, x0, uint(hs), acc, ends)
		}, box.YCbCr, 1
	case *image.RGBA:
		return func(y int, acc []uint64) {
			box.AddRGBA8(m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):][:4*w], acc, ends)
		}, box.RGBA, 1
	case *image.NRGBA:
		return func(y int, acc []uint64) {
			box.AddNRGBA8(m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):][:4*w], acc, ends)
		}, box.RGBA, 255
	case image.RGBA64Image: // CMYK, Gray, Paletted, 16-bit, NYCbCrA...: no allocation per pixel
		return func(y int, acc []uint64) {
			addPixels(acc, ends, func(x int) (uint32, uint32, uint32, uint32) {
				c := m.RGBA64At(b.Min.X+x, b.Min.Y+y)
				return uint32(c.R), uint32(c.G), uint32(c.B), uint32(c.A)
			})
		}, box.RGBA, 257
	}
	return func(y int, acc []uint64) {
		addPixels(acc, ends, func(x int) (uint32, uint32, uint32, uint32) { return src.At(b.Min.X+x, b.Min.Y+y).RGBA() })
	}, box.RGBA, 257
}

// addPixels adds a row of 16-bit premultiplied pixels, read one by one with at, into the block
// sums: the slow path, for image types without a known layout.
func addPixels(acc []uint64, ends []int, at func(x int) (r, g, b, a uint32)) {
	x := 0
	for ox, end := range ends {
		var sr, sg, sb, sa uint64
		for ; x < end; x++ {
			r, g, b, a := at(x)
			sr += uint64(r)
			sg += uint64(g)
			sb += uint64(b)
			sa += uint64(a)
		}
		acc[4*ox] += sr
		acc[4*ox+1] += sg
		acc[4*ox+2] += sb
		acc[4*ox+3] += sa
	}
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
