// Package webpscale decodes a lossy WebP reduced: package vp8 hands out the picture a band of 16
// rows at a time, each row is stretched from VP8's limited range to full range and summed into
// the blocks of package box, and the full-size picture is never held. An alpha plane stored raw
// (ALPH compression 0) is read row by row from the file alongside, its filter undone with one row
// of memory.
//
// The result is what golang.org/x/image/webp's image, with its colours corrected as LimitedToFull
// describes, gives when averaged over the same blocks; the files it reads are the ones x/image/webp
// reads, with the same checks. Files it does not decode reduced (lossless VP8L, an alpha plane
// compressed as a lossless image, animation) give ErrNotReduced.
//
// Memory: package vp8's rows (about 60 bytes per pixel of width), the sums of one output row (32
// bytes per output pixel of a row), two rows of alpha and the output.
package webpscale

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"

	"github.com/thumbq/thumbq/worker/thumb/internal/box"
	"github.com/thumbq/thumbq/worker/thumb/internal/vp8"
)

// A FormatError reports that the input is not a valid WebP, as x/image/webp would refuse it.
type FormatError string

func (e FormatError) Error() string { return "webpscale: " + string(e) }

// ErrNotReduced reports a valid WebP that Decode does not decode reduced: a lossless image, or a
// lossy one whose alpha plane is compressed as a lossless image. Both are decoded whole.
var ErrNotReduced = errors.New("webpscale: not a lossy WebP with a raw alpha plane or none")

var errTruncated = fmt.Errorf("webpscale: %w", io.ErrUnexpectedEOF)

// A picture is where a lossy WebP file keeps its frame and its alpha plane.
type picture struct {
	frame         []byte // the payload of the VP8 chunk
	width, height int    // the frame's size
	alpha         []byte // the raw alpha plane, width*height bytes, or nil
	alphaFilter   byte   // the alpha plane's filter: 0 none, 1 horizontal, 2 vertical, 3 gradient
}

// Config returns the size of a lossy WebP's picture and whether Decode decodes it reduced: it
// reads the RIFF chunks and the VP8 frame header, not the pixels.
func Config(data []byte) (width, height int, err error) {
	p, err := parse(data)
	if err != nil {
		return 0, 0, err
	}
	return p.width, p.height, nil
}

// Decode decodes a lossy WebP reduced by shrink on each side: the result has max(1,
// floor(w/shrink)) x max(1, floor(h/shrink)) premultiplied pixels, each the mean of a block whose
// edges are at i*w/ow (box.Ends), so every source pixel counts once. It checks ctx between bands
// of rows and returns ctx.Err() once it is done. Data that ends early gives an error wrapping
// io.ErrUnexpectedEOF; a file it does not decode reduced, ErrNotReduced; other invalid data, a
// FormatError or package vp8's errors. A frame of no pixels, which x/image/webp accepts, gives an
// empty image.
func Decode(ctx context.Context, data []byte, shrink int) (*image.RGBA, error) {
	if shrink < 1 {
		return nil, fmt.Errorf("webpscale: shrink %d: want 1 or more", shrink)
	}
	p, err := parse(data)
	if err != nil {
		return nil, err
	}
	if p.width == 0 || p.height == 0 { // x/image/vp8 decodes a frame of no pixels: nothing to average
		return image.NewRGBA(image.Rectangle{}), nil
	}
	ow, oh := max(1, p.width/shrink), max(1, p.height/shrink)
	r := newReducer(p, image.NewRGBA(image.Rect(0, 0, ow, oh)))
	if err := vp8.Decode(ctx, p.frame, r.band); err != nil {
		return nil, err
	}
	return r.dst, nil
}

// parse finds the frame and the alpha plane of a lossy WebP, with x/image/webp's rules: a simple
// file's first chunk is VP8 (VP8L is lossless); an extended file (VP8X) has an ALPH chunk before
// its VP8 chunk when its alpha bit is set, none otherwise, and a frame of the canvas' size; other
// chunks (ICCP, EXIF, XMP) are skipped.
func parse(data []byte) (picture, error) {
	if len(data) < 12 || string(data[0:4]) != "RIFF" || string(data[8:12]) != "WEBP" {
		return picture{}, FormatError("not a RIFF WEBP file")
	}
	end := 8 + int64(binary.LittleEndian.Uint32(data[4:]))
	if end > int64(len(data)) {
		end = int64(len(data))
	}
	var (
		p                         picture
		seenVP8X, wantAlpha       bool
		canvasWidth, canvasHeight int
	)
	for pos := int64(12); ; {
		if pos+8 > end {
			if pos >= end {
				return picture{}, FormatError("no image chunk")
			}
			return picture{}, errTruncated
		}
		id := string(data[pos : pos+4])
		n := int64(binary.LittleEndian.Uint32(data[pos+4:]))
		body := pos + 8
		if n > end-body {
			return picture{}, errTruncated
		}
		chunk := data[body : body+n]
		switch id {
		case "VP8X":
			if seenVP8X || n != 10 {
				return picture{}, FormatError("invalid VP8X chunk")
			}
			seenVP8X = true
			wantAlpha = chunk[0]&(1<<4) != 0
			canvasWidth = int(chunk[4]) | int(chunk[5])<<8 | int(chunk[6])<<16 + 1
			canvasHeight = int(chunk[7]) | int(chunk[8])<<8 | int(chunk[9])<<16 + 1
			if int64(canvasWidth)*int64(canvasHeight) > 1<<31-1 {
				return picture{}, FormatError("canvas too large")
			}
		case "ALPH":
			if !wantAlpha || n < 1 {
				return picture{}, FormatError("unexpected ALPH chunk")
			}
			wantAlpha = false
			if chunk[0]&3 != 0 {
				return picture{}, ErrNotReduced // compressed as a lossless image
			}
			p.alphaFilter = chunk[0] >> 2 & 3
			p.alpha = chunk[1:]
		case "VP8L":
			return picture{}, ErrNotReduced
		case "VP8 ":
			if wantAlpha {
				return picture{}, FormatError("VP8 chunk before the ALPH chunk")
			}
			w, h, err := vp8.DecodeConfig(chunk)
			if err != nil {
				return picture{}, err
			}
			if seenVP8X && (w != canvasWidth || h != canvasHeight) {
				return picture{}, FormatError("frame size differs from the canvas")
			}
			if p.alpha != nil && int64(len(p.alpha)) < int64(w)*int64(h) {
				return picture{}, errTruncated
			}
			p.frame, p.width, p.height = chunk, w, h
			return p, nil
		}
		pos = body + n + n&1 // chunks are padded to an even size
	}
}

// A reducer sums the rows vp8.Decode hands out into the blocks of the output, one output row at
// a time.
type reducer struct {
	p     picture
	dst   *image.RGBA
	ends  []int    // where each output column's block ends (box.Ends)
	acc   []uint64 // the sums of the output row being built
	oy    int      // the output row being built
	y1    int      // the source row that ends it
	y0    int      // the source row that starts it
	luma  []byte   // a row of Y, full range
	cb    []byte   // a row of Cb, full range
	cr    []byte   // a row of Cr, full range
	alpha []byte   // the current row of alpha, unfiltered
	prev  []byte   // the row of alpha above it
	nrgba []byte   // a row of non-premultiplied pixels, where there is alpha
}

func newReducer(p picture, dst *image.RGBA) *reducer {
	ow, oh := dst.Rect.Dx(), dst.Rect.Dy()
	r := &reducer{
		p: p, dst: dst,
		ends: make([]int, ow), acc: make([]uint64, 4*ow),
		y1:   p.height / oh,
		luma: make([]byte, p.width), cb: make([]byte, (p.width+1)/2), cr: make([]byte, (p.width+1)/2),
	}
	box.Ends(r.ends, p.width)
	if p.alpha != nil {
		r.alpha, r.prev = make([]byte, p.width), make([]byte, p.width)
		r.nrgba = make([]byte, 4*p.width)
	}
	return r
}

// band adds a band of rows into the sums, writing each output row once its last source row is in.
func (r *reducer) band(b vp8.Band) error {
	w := r.p.width
	for i := range b.Rows {
		y := b.Y0 + i
		expand(r.luma, b.Y[i*b.YStride:][:w], &lumaToFull)
		if i%2 == 0 {
			c := i / 2 * b.CStride
			expand(r.cb, b.Cb[c:][:len(r.cb)], &chromaToFull)
			expand(r.cr, b.Cr[c:][:len(r.cr)], &chromaToFull)
		}
		if r.alpha == nil {
			box.AddYCbCr(r.luma, r.cb, r.cr, 0, 1, r.acc, r.ends)
		} else {
			r.alphaRow(y)
			for x := range w {
				p := r.nrgba[4*x : 4*x+4 : 4*x+4]
				p[0], p[1], p[2] = color.YCbCrToRGB(r.luma[x], r.cb[x/2], r.cr[x/2])
				p[3] = r.alpha[x]
			}
			box.AddNRGBA8(r.nrgba, r.acc, r.ends)
		}
		if y+1 == r.y1 {
			r.emit()
		}
	}
	return nil
}

// emit writes the output row from its sums and starts the next.
func (r *reducer) emit() {
	ow, oh := r.dst.Rect.Dx(), r.dst.Rect.Dy()
	mode, unit := box.YCbCr, uint64(1)
	if r.alpha != nil {
		mode, unit = box.RGBA, 255
	}
	box.Emit(r.dst.Pix[r.oy*r.dst.Stride:][:4*ow], r.acc, r.ends, uint64(r.y1-r.y0), mode, unit)
	clear(r.acc)
	r.oy++
	r.y0, r.y1 = r.y1, (r.oy+1)*r.p.height/oh
}

// alphaRow reads row y of the alpha plane and undoes its filter (WebP container specification,
// "Alpha"), as x/image/webp does: the first row is predicted from the left, the first column from
// above, and the rest by the filter's predictor.
func (r *reducer) alphaRow(y int) {
	w := r.p.width
	r.prev, r.alpha = r.alpha, r.prev
	cur, prev := r.alpha, r.prev
	copy(cur, r.p.alpha[y*w:][:w])
	f := r.p.alphaFilter
	if f == 0 {
		return
	}
	if y == 0 {
		for x := 1; x < w; x++ {
			cur[x] += cur[x-1]
		}
		return
	}
	cur[0] += prev[0]
	switch f {
	case 1:
		for x := 1; x < w; x++ {
			cur[x] += cur[x-1]
		}
	case 2:
		for x := 1; x < w; x++ {
			cur[x] += prev[x]
		}
	case 3:
		for x := 1; x < w; x++ {
			cur[x] += uint8(max(0, min(255, int(cur[x-1])+int(prev[x])-int(prev[x-1]))))
		}
	}
}

func expand(dst, src []byte, table *[256]uint8) {
	for i, v := range src {
		dst[i] = table[v]
	}
}

// VP8 stores limited-range BT.601 YCbCr: black is Y=16, white is Y=235 and chroma spans 16..240.
// Stretching the samples to full range (Y' = (Y-16)*255/219, C' = (C-128)*255/224 + 128) before
// the JFIF conversion of package color gives libwebp's colours (R = 1.164(Y-16) + 1.596(Cr-128)
// and so on).
var lumaToFull, chromaToFull [256]uint8

func init() {
	clamp := func(v float64) uint8 { return uint8(max(0, min(255, v+0.5))) }
	for i := range 256 {
		lumaToFull[i] = clamp(float64(i-16) * 255 / 219)
		chromaToFull[i] = clamp(float64(i-128)*255/224 + 128)
	}
}

// LimitedToFull stretches the samples of a VP8 picture decoded whole (by x/image/webp, which
// leaves them in VP8's limited range, golang/go#40173) to full range, in place, as Decode does.
func LimitedToFull(m *image.YCbCr) {
	expand(m.Y, m.Y, &lumaToFull)
	expand(m.Cb, m.Cb, &chromaToFull)
	expand(m.Cr, m.Cr, &chromaToFull)
}

// Memory bounds what Decode allocates for a w x h picture reduced by shrink: the output (4 bytes
// an output pixel), the sums of an output row (32 bytes an output pixel of a row), the rows of
// samples and alpha it converts (8 bytes a pixel of width), and package vp8's rows and state
// (vp8.Memory).
func Memory(w, h, shrink int) int64 {
	ow, oh := int64(max(1, w/shrink)), int64(max(1, h/shrink))
	return 4*ow*oh + 32*ow + 8*int64(w) + vp8.Memory(w) + 4<<10
}
