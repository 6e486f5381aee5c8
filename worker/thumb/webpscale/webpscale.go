// Package webpscale decodes a WebP reduced, lossy or lossless, and never holds the full-size
// picture: package vp8 hands out a lossy picture a band of 16 rows at a time, each row stretched
// from VP8's limited range to full range; package vp8l hands out a lossless one a row at a time;
// the rows are summed into the blocks of package box. A lossy picture's alpha plane is read row by
// row alongside, its filter undone with one row of memory: a raw plane (ALPH compression 0) from
// the file, one compressed as a lossless image (compression 1, cwebp's default) from package vp8l,
// which decodes it in step with the picture.
//
// The result is what golang.org/x/image/webp's image, with a lossy picture's samples stretched to
// full range (see lumaToFull), gives when averaged over the same blocks; the files it reads are the
// ones x/image/webp reads, with the same checks.
//
// Memory: package vp8's rows (vp8.Memory) or package vp8l's window, rows and sub-images
// (vp8l.Memory), both for a lossy picture with a lossless alpha plane; the sums of one output row
// (32 bytes per output pixel of a row), a few rows of alpha and samples, and the output. See Memory.
package webpscale

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"

	"sync"

	"github.com/thumbq/thumbq/worker/thumb/internal/box"
	"github.com/thumbq/thumbq/worker/thumb/internal/vp8"
	"github.com/thumbq/thumbq/worker/thumb/internal/vp8l"
)

// A FormatError reports that the input is not a valid WebP, as x/image/webp would refuse it.
type FormatError string

func (e FormatError) Error() string { return "webpscale: " + string(e) }

var errTruncated = fmt.Errorf("webpscale: %w", io.ErrUnexpectedEOF)

// A picture is where a WebP file keeps its image and its alpha plane.
type picture struct {
	frame         []byte // the payload of the VP8 chunk (lossy), or nil
	lossless      []byte // the payload of the VP8L chunk (lossless), or nil
	width, height int    // the image's size
	alpha         []byte // a lossy picture's alpha plane (after the ALPH header byte), or nil
	alphaLossless bool   // the alpha plane is compressed as a lossless image; else raw, width*height bytes
	alphaFilter   byte   // the alpha plane's filter: 0 none, 1 horizontal, 2 vertical, 3 gradient
}

// Config returns the size of a WebP's picture: it reads the RIFF chunks and the image's header,
// not the pixels.
func Config(data []byte) (width, height int, err error) {
	p, err := parse(data)
	if err != nil {
		return 0, 0, err
	}
	return p.width, p.height, nil
}

// Memory bounds what Decode allocates for data, a w x h picture, reduced by shrink: the output (4
// bytes an output pixel), the sums of an output row (32 bytes an output pixel of a row), the rows
// of samples and alpha it converts (16 bytes a pixel of width), and the decoders' own (vp8.Memory,
// vp8l.Memory). Where data cannot be parsed, the most any WebP of that size takes.
func Memory(data []byte, w, h, shrink int) int64 {
	ow, oh := int64(max(1, w/shrink)), int64(max(1, h/shrink))
	n := 4*ow*oh + 32*ow + 16*int64(w) + 16<<10
	p, err := parse(data)
	switch {
	case err != nil:
		return n + vp8.Memory(w) + vp8l.Memory(w, h)
	case p.lossless != nil:
		return n + vp8l.Memory(w, h)
	case p.alpha != nil && p.alphaLossless:
		return n + vp8.Memory(w) + vp8l.Memory(w, h)
	}
	return n + vp8.Memory(w)
}

// Decode decodes a WebP reduced by shrink on each side: the result has max(1, floor(w/shrink)) x
// max(1, floor(h/shrink)) premultiplied pixels, each the mean of a block whose edges are at
// i*w/ow (box.Ends), so every source pixel counts once. It checks ctx between bands of rows and
// returns ctx.Err() once it is done. Data that ends early gives an error wrapping
// io.ErrUnexpectedEOF; other invalid data, a FormatError or packages vp8's and vp8l's errors. A
// picture of no pixels, which x/image/webp accepts, gives an empty image.
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
	switch {
	case p.lossless != nil:
		err = vp8l.Decode(ctx, p.lossless, r.losslessRow)
	case p.alphaLossless:
		err = r.withAlphaStream(ctx, func(ctx context.Context) error { return vp8.Decode(ctx, p.frame, r.band) })
	default:
		err = vp8.Decode(ctx, p.frame, r.band)
	}
	if err != nil {
		return nil, err
	}
	return r.dst, nil
}

// parse finds the image and the alpha plane of a WebP, with x/image/webp's rules: a simple file's
// first chunk is VP8 (lossy) or VP8L (lossless); an extended file (VP8X) has an ALPH chunk before
// its VP8 chunk when its alpha bit is set, none otherwise, no ALPH chunk before a VP8L one, and an
// image of the canvas' size; other chunks (ICCP, EXIF, XMP, ANIM...) are skipped, so that an
// animation, which has no VP8 or VP8L chunk at the top level, has no image.
func parse(data []byte) (picture, error) {
	if len(data) < 12 || string(data[0:4]) != "RIFF" || string(data[8:12]) != "WEBP" {
		return picture{}, FormatError("not a RIFF WEBP file")
	}
	end := min(8+int64(binary.LittleEndian.Uint32(data[4:])), int64(len(data)))
	var c container
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
		if done, err := c.chunk(id, data[body:body+n]); done || err != nil {
			return c.p, err
		}
		pos = body + n + n&1 // chunks are padded to an even size
	}
}

// A container is what parse has read of a file's chunks so far.
type container struct {
	p                         picture
	seenVP8X, wantAlpha       bool // a VP8X chunk was read; it announced an ALPH chunk not yet read
	canvasWidth, canvasHeight int  // the VP8X chunk's canvas
}

// chunk reads one chunk; done reports that it was the image's, which ends the file's reading.
func (c *container) chunk(id string, body []byte) (done bool, err error) {
	switch id {
	case "VP8X":
		if c.seenVP8X || len(body) != 10 {
			return false, FormatError("invalid VP8X chunk")
		}
		c.seenVP8X = true
		c.wantAlpha = body[0]&(1<<4) != 0
		c.canvasWidth = int(body[4]) | int(body[5])<<8 | int(body[6])<<16 + 1
		c.canvasHeight = int(body[7]) | int(body[8])<<8 | int(body[9])<<16 + 1
		if int64(c.canvasWidth)*int64(c.canvasHeight) > 1<<31-1 {
			return false, FormatError("canvas too large")
		}
	case "ALPH":
		if !c.wantAlpha || len(body) < 1 {
			return false, FormatError("unexpected ALPH chunk")
		}
		c.wantAlpha = false
		if body[0]&3 > 1 {
			return false, FormatError("unknown alpha compression")
		}
		c.p.alphaLossless = body[0]&3 == 1
		c.p.alphaFilter = body[0] >> 2 & 3
		c.p.alpha = body[1:]
	case "VP8L":
		if c.p.alpha != nil {
			return false, FormatError("ALPH chunk before a VP8L chunk")
		}
		w, h, err := vp8l.DecodeConfig(body)
		if err == nil {
			err = c.size(w, h)
		}
		c.p.lossless, c.p.width, c.p.height = body, w, h
		return true, err
	case "VP8 ":
		if c.wantAlpha {
			return false, FormatError("VP8 chunk before the ALPH chunk")
		}
		w, h, err := vp8.DecodeConfig(body)
		if err == nil {
			err = c.size(w, h)
		}
		if err == nil && c.p.alpha != nil && !c.p.alphaLossless && int64(len(c.p.alpha)) < int64(w)*int64(h) {
			err = errTruncated
		}
		c.p.frame, c.p.width, c.p.height = body, w, h
		return true, err
	}
	return false, nil
}

// size checks an image's size against the canvas of a VP8X chunk.
func (c *container) size(w, h int) error {
	if c.seenVP8X && (w != c.canvasWidth || h != c.canvasHeight) {
		return FormatError("image size differs from the canvas")
	}
	return nil
}

// A reducer sums the rows the decoders hand out into the blocks of the output, one output row at
// a time.
type reducer struct {
	p     picture
	dst   *image.RGBA
	mode  box.Mode // how the sums are read: YCbCr for an opaque lossy picture, RGBA otherwise
	unit  uint64   // and their unit (see box.Emit)
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

	// stream hands out the rows of a lossless alpha plane, decoded in step (withAlphaStream).
	stream *alphaStream
}

func newReducer(p picture, dst *image.RGBA) *reducer {
	ow, oh := dst.Rect.Dx(), dst.Rect.Dy()
	r := &reducer{
		p: p, dst: dst, mode: box.RGBA, unit: 255,
		ends: make([]int, ow), acc: make([]uint64, 4*ow),
		y1: p.height / oh,
	}
	box.Ends(r.ends, p.width)
	if p.lossless != nil {
		return r
	}
	r.luma, r.cb, r.cr = make([]byte, p.width), make([]byte, (p.width+1)/2), make([]byte, (p.width+1)/2)
	if p.alpha == nil {
		r.mode, r.unit = box.YCbCr, 1
		return r
	}
	r.alpha, r.prev = make([]byte, p.width), make([]byte, p.width)
	r.nrgba = make([]byte, 4*p.width)
	return r
}

// losslessRow adds a row of a lossless picture (non-premultiplied RGBA) into the sums.
func (r *reducer) losslessRow(y int, row []byte) error {
	box.AddNRGBA8(row, r.acc, r.ends)
	if y+1 == r.y1 {
		r.emit()
	}
	return nil
}

// band adds a band of rows of a lossy picture into the sums, writing each output row once its
// last source row is in.
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
			if err := r.alphaRow(y); err != nil {
				return err
			}
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

// An alphaStream hands the rows package vp8l decodes of a lossless alpha plane, in a goroutine of
// their own, to the reducer as it needs them, so that the plane and the picture are decoded in
// step: two rows of alpha are in flight, never the plane.
type alphaStream struct {
	rows chan []byte // rows decoded, in order; closed when the decode ends
	free chan []byte // row buffers given back
	err  error       // why the decode ended, read once rows is closed
}

// withAlphaStream runs decode (the picture's) while package vp8l decodes the alpha plane into
// r.stream, and returns the first error of the two. The alpha decode is stopped and waited for
// before it returns.
func (r *reducer) withAlphaStream(ctx context.Context, decode func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := r.p.width
	st := &alphaStream{rows: make(chan []byte, 1), free: make(chan []byte, 2)}
	st.free <- make([]byte, w)
	st.free <- make([]byte, w)
	r.stream = st
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(st.rows)
		st.err = vp8l.DecodeAlpha(ctx, r.p.alpha, w, r.p.height, func(_ int, row []byte) error {
			select {
			case buf := <-st.free:
				copy(buf, row)
				select {
				case st.rows <- buf:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	err := decode(ctx)
	cancel()
	wg.Wait()
	if err != nil && st.err != nil && !errors.Is(st.err, context.Canceled) {
		return st.err // the alpha plane's own fault, found first: as x/image, which reads it first
	}
	return err
}

// emit writes the output row from its sums and starts the next.
func (r *reducer) emit() {
	ow, oh := r.dst.Rect.Dx(), r.dst.Rect.Dy()
	box.Emit(r.dst.Pix[r.oy*r.dst.Stride:][:4*ow], r.acc, r.ends, uint64(r.y1-r.y0), r.mode, r.unit)
	clear(r.acc)
	r.oy++
	r.y0, r.y1 = r.y1, (r.oy+1)*r.p.height/oh
}

// alphaRow reads row y of the alpha plane and undoes its filter (WebP container specification,
// "Alpha"), as x/image/webp does: the first row is predicted from the left, the first column from
// above, and the rest by the filter's predictor.
func (r *reducer) alphaRow(y int) error {
	w := r.p.width
	r.prev, r.alpha = r.alpha, r.prev
	cur, prev := r.alpha, r.prev
	if r.stream == nil {
		copy(cur, r.p.alpha[y*w:][:w])
	} else {
		buf, ok := <-r.stream.rows
		if !ok {
			if r.stream.err != nil {
				return r.stream.err
			}
			return FormatError("alpha plane ended early")
		}
		copy(cur, buf)
		r.stream.free <- buf
	}
	unfilter(cur, prev, y, r.p.alphaFilter)
	return nil
}

// unfilter undoes filter f on row y of an alpha plane, cur, given the row above, prev.
func unfilter(cur, prev []byte, y int, f byte) {
	w := len(cur)
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
