package pngscale

import (
	"encoding/binary"
	"errors"
	"image"
	"io"
	"sync"
)

// state is what one decode needs besides its output; it is reused across images (pool).
type state struct {
	ir        idatReader
	zr        inflater
	cur, prev []byte   // the row being decoded and the one above it, each with its filter byte
	idx       []byte   // a row of 1, 2 or 4-bit samples expanded to a byte per pixel
	acc       []uint64 // block sums of the output row being built, 4 per output pixel
	xend      []int    // where each output column's block ends, in source pixels
	lut       [256][4]uint32
}

var pool = sync.Pool{New: func() any { return new(state) }}

// grow returns b resized to n bytes, reusing its memory when it is big enough, and zeroed.
func grow[T byte | uint64 | int](b []T, n int) []T {
	if cap(b) < n {
		return make([]T, n)
	}
	b = b[:n]
	clear(b)
	return b
}

// How the four sums of a block make an output pixel.
type mode int

const (
	modeGrey      mode = iota // sum 0 is the grey; opaque
	modeRGB                   // sums 0-2 are R, G, B; opaque
	modeGreyAlpha             // sum 0 is the premultiplied grey, sum 3 alpha
	modeRGBA                  // sums 0-3 are premultiplied R, G, B and alpha
)

func reduce(data []byte, h *header, rowBytes, k int) (*image.RGBA, error) {
	w, ht := h.width, h.height
	ow, oh := max(1, w/k), max(1, ht/k)
	bpp := max(1, h.depth*channels(h.colorType)/8) // bytes per pixel, for the filters

	st := pool.Get().(*state)
	defer pool.Put(st)
	st.cur = grow(st.cur, 1+rowBytes)
	st.prev = grow(st.prev, 1+rowBytes)
	st.acc = grow(st.acc, 4*ow)
	st.xend = grow(st.xend, ow)
	for ox := range ow {
		st.xend[ox] = (ox + 1) * w / ow
	}

	add, md, unit := st.adder(h)

	st.ir = idatReader{data: data, pos: h.idat}
	if err := st.zr.reset(&st.ir); err != nil {
		return nil, pixelError(err)
	}
	defer func() { st.ir, st.zr.seg = idatReader{}, nil }() // do not keep the image alive in the pool

	dst := image.NewRGBA(image.Rect(0, 0, ow, oh))
	y := 0
	for oy := range oh {
		y0, y1 := y, (oy+1)*ht/oh
		for ; y < y1; y++ {
			st.prev, st.cur = st.cur, st.prev
			if err := st.zr.readFull(st.cur); err != nil {
				return nil, pixelError(err)
			}
			if err := unfilter(st.cur[0], st.cur[1:], st.prev[1:], bpp); err != nil {
				return nil, err
			}
			add(st.cur[1:], st.acc, st.xend)
		}
		emit(dst.Pix[oy*dst.Stride:][:4*ow], st.acc, st.xend, uint64(y1-y0), md, unit)
		clear(st.acc)
	}
	// Read to the end of the zlib stream, which checks its checksum.
	if err := st.zr.finish(); err != nil {
		return nil, pixelError(err)
	}
	return dst, nil
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
	return malformed("pixel data: %w", err)
}

// emit writes an output row from the block sums: each sum is divided by the number of pixels in
// its block times unit (what a full-scale sample adds, divided by 255), rounded.
func emit(dst []uint8, acc []uint64, xend []int, rows uint64, md mode, unit uint64) {
	x0 := 0
	for ox, x1 := range xend {
		d := rows * uint64(x1-x0) * unit
		x0 = x1
		s := acc[4*ox : 4*ox+4 : 4*ox+4]
		p := dst[4*ox : 4*ox+4 : 4*ox+4]
		switch md {
		case modeGrey:
			v := uint8((s[0] + d/2) / d)
			p[0], p[1], p[2], p[3] = v, v, v, 0xff
		case modeRGB:
			p[0], p[1], p[2], p[3] = uint8((s[0]+d/2)/d), uint8((s[1]+d/2)/d), uint8((s[2]+d/2)/d), 0xff
		case modeGreyAlpha:
			v := uint8((s[0] + d/2) / d)
			p[0], p[1], p[2], p[3] = v, v, v, uint8((s[3]+d/2)/d)
		default:
			p[0], p[1], p[2], p[3] = uint8((s[0]+d/2)/d), uint8((s[1]+d/2)/d), uint8((s[2]+d/2)/d), uint8((s[3]+d/2)/d)
		}
	}
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
