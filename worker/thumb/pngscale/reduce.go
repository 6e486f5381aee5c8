package pngscale

import (
	"context"
	"encoding/binary"
	"errors"
	"image"
	"io"
	"sync"

	"github.com/thumbq/thumbq/worker/thumb/internal/box"
	"github.com/thumbq/thumbq/worker/thumb/internal/inflate"
)

// state is what one decode needs besides its output; it is reused across images (pool).
type state struct {
	ir        idatReader
	zr        inflate.Reader
	cur, prev []byte   // the row being decoded and the one above it, each with its filter byte
	idx       []byte   // a row of 1, 2 or 4-bit samples expanded to a byte per pixel
	acc       []uint64 // block sums of the output row being built (of all rows when interlaced), 4 per output pixel
	xend      []int    // where each output column's block ends, in source pixels
	pend      []int    // the same in the pixels of an interlaced pass
	lut       [256][4]uint32
}

var pool = sync.Pool{New: func() any { return new(state) }}

// grow returns b resized to n elements, zeroed, reusing its memory when it is big enough.
func grow[T byte | uint64 | int](b []T, n int) []T {
	if cap(b) < n {
		return make([]T, n)
	}
	b = b[:n]
	clear(b)
	return b
}

func reduce(ctx context.Context, data []byte, h *header, rowBytes, shrink int) (*image.RGBA, error) {
	w, ht := h.width, h.height
	ow, oh := max(1, w/shrink), max(1, ht/shrink)

	st := pool.Get().(*state)
	defer pool.Put(st)
	st.cur = grow(st.cur, 1+rowBytes)
	st.prev = grow(st.prev, 1+rowBytes)
	st.acc = grow(st.acc, 4*ow)
	st.xend = grow(st.xend, ow)
	box.Ends(st.xend, w)

	add, md, unit := st.adder(h)

	st.ir = idatReader{data: data, pos: h.idat}
	if err := st.zr.Reset(&st.ir); err != nil {
		return nil, pixelError(err)
	}
	defer func() { st.ir = idatReader{}; st.zr.Release() }() // do not keep the image alive in the pool

	dst := image.NewRGBA(image.Rect(0, 0, ow, oh))
	var err error
	if h.interlaced {
		err = st.passes(ctx, h, dst, add, md, unit)
	} else {
		err = st.rows(ctx, h, dst, add, md, unit)
	}
	if err != nil {
		return nil, err
	}
	// Read to the end of the zlib stream, which checks its checksum.
	if err := st.zr.Finish(); err != nil {
		return nil, pixelError(err)
	}
	return dst, nil
}

// rows reads the rows of a non-interlaced image, emitting each output row once its block of
// source rows is summed.
func (st *state) rows(ctx context.Context, h *header, dst *image.RGBA, add adder, md box.Mode, unit uint64) error {
	ht, oh, ow := h.height, dst.Rect.Dy(), dst.Rect.Dx()
	bpp := h.bytesPerPixel()
	y := 0
	for oy := range oh {
		y0, y1 := y, (oy+1)*ht/oh
		for ; y < y1; y++ {
			if y%64 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			st.prev, st.cur = st.cur, st.prev
			if err := st.zr.ReadFull(st.cur); err != nil {
				return pixelError(err)
			}
			if err := unfilter(st.cur[0], st.cur[1:], st.prev[1:], bpp); err != nil {
				return err
			}
			add(st.cur[1:], st.acc, st.xend)
		}
		box.Emit(dst.Pix[oy*dst.Stride:][:4*ow], st.acc, st.xend, uint64(y1-y0), md, unit)
		clear(st.acc)
	}
	return nil
}

// adam7 gives the passes of an interlaced image: first column and row, and steps.
var adam7 = [7]struct{ x, y, dx, dy int }{
	{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4}, {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2},
}

// passes reads the seven reduced images of an interlaced (Adam7) image. Each pass has pixels in
// every block of rows, so the sums of the whole output are kept until the last pass: 32 bytes per
// output pixel. A pass's pixels that fall in one output column are consecutive, so the adders
// take a pass row as they take a full row, with the block ends counted in pass pixels.
func (st *state) passes(ctx context.Context, h *header, dst *image.RGBA, add adder, md box.Mode, unit uint64) error {
	w, ht, oh, ow := h.width, h.height, dst.Rect.Dy(), dst.Rect.Dx()
	bpp := h.bytesPerPixel()
	bits := h.depth * channels(h.colorType)
	st.acc = grow(st.acc, 4*ow*oh)
	st.pend = grow(st.pend, ow)
	for _, p := range adam7 {
		pw, ph := (w-p.x+p.dx-1)/p.dx, (ht-p.y+p.dy-1)/p.dy
		if pw <= 0 || ph <= 0 {
			continue // an empty pass has no rows, not even filter bytes
		}
		for ox, end := range st.xend {
			st.pend[ox] = min(pw, max(0, (end-p.x+p.dx-1)/p.dx))
		}
		n := 1 + (pw*bits+7)/8
		cur, prev := st.cur[:n], st.prev[:n]
		clear(prev)
		for py := range ph {
			if py%64 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			if err := st.zr.ReadFull(cur); err != nil {
				return pixelError(err)
			}
			if err := unfilter(cur[0], cur[1:], prev[1:], bpp); err != nil {
				return err
			}
			y := p.y + py*p.dy
			oy := ((y+1)*oh - 1) / ht // the block of rows y is in
			add(cur[1:], st.acc[4*ow*oy:4*ow*(oy+1)], st.pend)
			cur, prev = prev, cur
		}
	}
	for oy := range oh {
		rows := uint64((oy+1)*ht/oh - oy*ht/oh)
		box.Emit(dst.Pix[oy*dst.Stride:][:4*ow], st.acc[4*ow*oy:4*ow*(oy+1)], st.xend, rows, md, unit)
	}
	return nil
}

// pixelError describes an error of the compressed pixel data; a stream that ends early is
// truncated.
func pixelError(err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return truncated("not enough pixel data")
	}
	return malformed("pixel data: %v", err)
}

// idatReader presents the data of consecutive IDAT chunks (already checked by parse) as one
// stream.
type idatReader struct {
	data []byte
	pos  int    // the next chunk
	cur  []byte // what is left of the current chunk's data
}

func (r *idatReader) more() bool {
	for len(r.cur) == 0 {
		if r.pos < 0 || len(r.data)-r.pos < 12 || string(r.data[r.pos+4:r.pos+8]) != "IDAT" {
			return false
		}
		n := int(binary.BigEndian.Uint32(r.data[r.pos:]))
		r.cur = r.data[r.pos+8 : r.pos+8+n]
		r.pos += 12 + n
	}
	return true
}

// Next gives package inflate the data of the next IDAT chunk.
func (r *idatReader) Next() ([]byte, bool) {
	if !r.more() {
		return nil, false
	}
	seg := r.cur
	r.cur = nil
	return seg, true
}

func (r *idatReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if !r.more() {
		return 0, io.EOF
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

func (r *idatReader) ReadByte() (byte, error) {
	if len(r.cur) == 0 && !r.more() {
		return 0, io.EOF
	}
	b := r.cur[0]
	r.cur = r.cur[1:]
	return b, nil
}
