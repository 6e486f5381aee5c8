package thumb

import (
	"image"
	stddraw "image/draw"

	"golang.org/x/image/draw"

	"github.com/thumbq/thumbq/worker/failure"
	"github.com/thumbq/thumbq/worker/fit"
	"github.com/thumbq/thumbq/worker/thumb/internal/box"
	"github.com/thumbq/thumbq/worker/thumb/internal/catmullrom"
)

// resize scales the decoded image to each box's scale size (see fit.Plan; the size as stored,
// so the box is turned for orientations 5..8, whose stored image is on its side), and drops the
// decoded image.
//
// It works in two passes. An integer box filter first averages k x k blocks, k chosen so that the
// result is still 2 to 4 times the target size; it reads each source pixel once, straight from
// the decoder's own pixel layout, and costs little more than that read. Catmull-Rom (package
// internal/catmullrom: x/image/draw's kernel and geometry, in fixed point, a few rows of memory)
// then resamples the small image to the exact size, which keeps the edges sharp. Run on a 12 megapixel photo this gives the same picture as Catmull-Rom over the
// whole source at a small fraction of the time (see BenchmarkResize and the package doc).
//
// The sizes are worked out from the source's full size, not from the decoded image's, which a
// scaled decoder may have rounded (a 4001 pixel wide JPEG decoded at 1/8 is 501 wide).
func resize(j *job) *failure.Error {
	j.thumbs = make([]*image.RGBA, len(j.boxes))
	for i := range j.boxes {
		tw, th := j.target(i)
		j.thumbs[i] = scale(j.img, tw, th)
	}
	j.img = nil
	return nil
}

// displayed is the source's size as displayed (after orientation).
func (j *job) displayed() (int, int) {
	if j.orientation >= 5 {
		return j.height, j.width
	}
	return j.width, j.height
}

// plan is box i's plan for the source, in displayed pixels.
func (j *job) plan(i int) fit.Plan {
	return j.boxes[i].Plan(j.displayed())
}

// target is the size box i scales the image to, as stored (before orientation).
func (j *job) target(i int) (int, int) {
	p := j.plan(i)
	if j.orientation >= 5 {
		return p.ScaleH, p.ScaleW
	}
	return p.ScaleW, p.ScaleH
}

// shrink is the integer factor the source can be reduced by before the final filter while
// staying at least 2 times the largest box's scale size, as scale's box pre-shrink would; 1 when
// none. Every box is made from the image decoded at this reduction.
func (j *job) shrink() int {
	k := max(j.width, j.height)
	for i := range j.boxes {
		tw, th := j.target(i)
		k = min(k, j.width/(2*tw), j.height/(2*th))
	}
	return max(1, k)
}

// place cuts each box's crop out of its (upright) scaled image and, for pad, centres it on a
// transparent canvas of the box's size.
func place(j *job) *failure.Error {
	for i := range j.boxes {
		p := j.plan(i)
		m := j.thumbs[i]
		if p.Crop == (fit.Rect{MaxX: m.Rect.Dx(), MaxY: m.Rect.Dy()}) && p.CanvasW == m.Rect.Dx() && p.CanvasH == m.Rect.Dy() {
			continue
		}
		dst := image.NewRGBA(image.Rect(0, 0, p.CanvasW, p.CanvasH))
		crop := image.Rect(p.Crop.MinX, p.Crop.MinY, p.Crop.MaxX, p.Crop.MaxY).Add(m.Rect.Min)
		at := image.Pt(p.OffsetX, p.OffsetY)
		draw.Draw(dst, crop.Sub(crop.Min).Add(at), m, crop.Min, draw.Src)
		j.thumbs[i] = dst
	}
	return nil
}

// scale resizes src to exactly tw x th as premultiplied RGBA. A YCbCr image too small for the box
// pre-shrink (the full-size decode a large size needs) is converted a row at a time as the
// Catmull-Rom pass reads it, which gives the pixels of converting it whole (image/draw's
// conversion either way) without an RGBA copy of it: 48 MB for a 12 MP photo.
func scale(src image.Image, tw, th int) *image.RGBA {
	b := src.Bounds()
	k := max(1, min(b.Dx()/(2*tw), b.Dy()/(2*th)))
	if m, ok := src.(*image.YCbCr); ok && k == 1 && (b.Dx() != tw || b.Dy() != th) {
		dst := image.NewRGBA(image.Rect(0, 0, tw, th))
		row := image.NewRGBA(image.Rect(0, 0, b.Dx(), 1))
		catmullrom.ScaleRows(dst, b.Dx(), b.Dy(), func(y int) []uint8 {
			stddraw.Draw(row, row.Rect, m, image.Pt(b.Min.X, b.Min.Y+y), stddraw.Src)
			return row.Pix
		})
		return dst
	}
	small := boxShrink(src, k)
	if small.Rect.Dx() == tw && small.Rect.Dy() == th {
		return small
	}
	dst := image.NewRGBA(image.Rect(0, 0, tw, th))
	catmullrom.Scale(dst, small)
	return dst
}

// boxShrink averages blocks of about k x k source pixels into one premultiplied RGBA pixel,
// giving floor(w/k) x floor(h/k) pixels, with package box (which pngscale shares): block edges
// at i*w/ow, so blocks are k or k+1 wide, every source pixel counts once and the picture keeps
// its exact geometry, which a fixed k with a partial last block would skew. With k = 1 it only
// converts: a YCbCr image, the full-size decode of a JPEG or lossy picture that a large size
// needs, through image/draw's conversion, which gives color.YCbCrToRGB's pixels as the sums
// would, without them.
func boxShrink(src image.Image, k int) *image.RGBA {
	if m, ok := src.(*image.YCbCr); ok && k == 1 {
		dst := image.NewRGBA(image.Rect(0, 0, m.Rect.Dx(), m.Rect.Dy()))
		stddraw.Draw(dst, dst.Rect, m, m.Rect.Min, stddraw.Src)
		return dst
	}
	return boxSums(src, k)
}

// boxSums is boxShrink through the block sums of package box, for every image type and k.
func boxSums(src image.Image, k int) *image.RGBA {
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
