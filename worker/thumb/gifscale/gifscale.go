// Package gifscale decodes the first frame of a GIF reduced: its LZW stream is read row by row,
// each row's palette indices are turned into colours and summed into the blocks of package box,
// and the full-size frame is never held. The result is what image/gif's first frame, placed on
// its logical screen as a browser shows it (transparent where the frame does not reach), gives
// when averaged over the same blocks.
//
// A non-interlaced frame needs the sums of one output row; an interlaced one (rows in 4 passes)
// has rows in every block of rows in each pass, so the sums of the whole output are kept until
// the last pass: 32 bytes per output pixel, as package pngscale does for Adam7.
package gifscale

import (
	"compress/lzw"
	"context"
	"errors"
	"fmt"
	"image"
	"io"

	"github.com/thumbq/thumbq/worker/thumb/internal/box"
)

// A FormatError reports that the input is not a valid GIF, as image/gif would refuse it.
type FormatError string

func (e FormatError) Error() string { return "gifscale: " + string(e) }

// Decode decodes the first frame of a GIF on its logical screen, reduced by shrink on each side:
// the result has max(1, floor(w/shrink)) x max(1, floor(h/shrink)) premultiplied pixels, each the
// mean of a block whose edges are at i*w/ow (box.Ends), so every source pixel counts once. Data
// that ends early gives an error wrapping io.ErrUnexpectedEOF; other invalid data, what image/gif
// refuses, a FormatError.
func Decode(data []byte, shrink int) (*image.RGBA, error) {
	return DecodeContext(context.Background(), data, shrink)
}

// DecodeContext is Decode that checks ctx between rows and returns ctx.Err() once it is done.
func DecodeContext(ctx context.Context, data []byte, shrink int) (*image.RGBA, error) {
	if shrink < 1 {
		return nil, fmt.Errorf("gifscale: shrink %d: want 1 or more", shrink)
	}
	d := &decoder{data: data}
	f, err := d.frame()
	if err != nil {
		return nil, err
	}
	ow, oh := max(1, d.width/shrink), max(1, d.height/shrink)
	dst := image.NewRGBA(image.Rect(0, 0, ow, oh))
	if err := d.pixels(ctx, f, dst); err != nil {
		return nil, err
	}
	return dst, nil
}

var errTruncated = fmt.Errorf("gifscale: %w", io.ErrUnexpectedEOF)

type decoder struct {
	data          []byte
	pos           int
	width, height int
}

// frame describes the first frame: where it is on the screen, its colours and its data.
type frame struct {
	left, top, w, h int
	interlaced      bool
	pal             [256][4]uint64 // premultiplied 8-bit R, G, B, A of each index
	colours         int            // indices from this one on are invalid (256: none is)
	litWidth        int
}

func (d *decoder) next(n int) ([]byte, error) {
	if n > len(d.data)-d.pos {
		return nil, errTruncated
	}
	b := d.data[d.pos : d.pos+n]
	d.pos += n
	return b, nil
}

// frame reads the header, the screen descriptor and the blocks up to the first frame's LZW data,
// as image/gif reads them.
func (d *decoder) frame() (*frame, error) {
	hdr, err := d.next(13)
	if err != nil {
		return nil, err
	}
	if v := string(hdr[:6]); v != "GIF87a" && v != "GIF89a" {
		return nil, FormatError(fmt.Sprintf("can't recognize format %q", v))
	}
	d.width, d.height = int(hdr[6])|int(hdr[7])<<8, int(hdr[8])|int(hdr[9])<<8
	var global []byte
	if hdr[10]&0x80 != 0 {
		if global, err = d.next(3 << (1 + hdr[10]&7)); err != nil {
			return nil, err
		}
	}
	transparent := -1
	for {
		c, err := d.next(1)
		if err != nil {
			return nil, err
		}
		switch c[0] {
		case 0x21:
			if transparent, err = d.extension(transparent); err != nil {
				return nil, err
			}
		case 0x2c:
			return d.descriptor(global, transparent)
		case 0x3b:
			return nil, FormatError("missing image data")
		default:
			return nil, FormatError(fmt.Sprintf("unknown block type: 0x%.2x", c[0]))
		}
	}
}

// extension skips an extension, returning the transparent index a graphic control extension
// sets (or the one given).
func (d *decoder) extension(transparent int) (int, error) {
	label, err := d.next(1)
	if err != nil {
		return 0, err
	}
	size := 0
	switch label[0] {
	case 0xf9: // graphic control
		b, err := d.next(6)
		if err != nil {
			return 0, err
		}
		if b[0] != 4 || b[5] != 0 {
			return 0, FormatError("invalid graphic control extension")
		}
		if b[1]&1 != 0 {
			transparent = int(b[4])
		}
		return transparent, nil
	case 0x01: // plain text
		size = 13
	case 0xfe: // comment
	case 0xff: // application
		b, err := d.next(1)
		if err != nil {
			return 0, err
		}
		size = int(b[0])
	default:
		return 0, FormatError(fmt.Sprintf("unknown extension 0x%.2x", label[0]))
	}
	if _, err := d.next(size); err != nil {
		return 0, err
	}
	for {
		n, err := d.next(1)
		if err != nil {
			return 0, err
		}
		if n[0] == 0 {
			return transparent, nil
		}
		if _, err := d.next(int(n[0])); err != nil {
			return 0, err
		}
	}
}

// descriptor reads an image descriptor, its colour table and the LZW code size.
func (d *decoder) descriptor(global []byte, transparent int) (*frame, error) {
	b, err := d.next(9)
	if err != nil {
		return nil, err
	}
	f := &frame{left: int(b[0]) | int(b[1])<<8, top: int(b[2]) | int(b[3])<<8,
		w: int(b[4]) | int(b[5])<<8, h: int(b[6]) | int(b[7])<<8, interlaced: b[8]&0x40 != 0}
	if f.left+f.w > d.width || f.top+f.h > d.height {
		return nil, FormatError("frame bounds larger than image bounds")
	}
	table := global
	if b[8]&0x80 != 0 {
		if table, err = d.next(3 << (1 + b[8]&7)); err != nil {
			return nil, err
		}
	} else if global == nil {
		return nil, FormatError("no color table")
	}
	f.colours = len(table) / 3
	for i := range f.colours {
		f.pal[i] = [4]uint64{uint64(table[3*i]), uint64(table[3*i+1]), uint64(table[3*i+2]), 255}
	}
	if transparent >= 0 { // image/gif grows the palette to hold the index, transparent
		f.pal[transparent] = [4]uint64{}
		f.colours = max(f.colours, transparent+1)
	}
	lw, err := d.next(1)
	if err != nil {
		return nil, err
	}
	if lw[0] < 2 || lw[0] > 8 {
		return nil, FormatError(fmt.Sprintf("pixel size in decode out of range: %d", lw[0]))
	}
	f.litWidth = int(lw[0])
	return f, nil
}

// interlacing gives the 4 passes of an interlaced frame: first row and step.
var interlacing = [4]struct{ y, dy int }{{0, 8}, {4, 8}, {2, 4}, {1, 2}}

// pixels reads the frame's rows and sums them into dst's blocks.
func (d *decoder) pixels(ctx context.Context, f *frame, dst *image.RGBA) error {
	ow, oh := dst.Rect.Dx(), dst.Rect.Dy()
	ends := make([]int, ow)
	box.Ends(ends, d.width)
	br := &blockReader{data: d.data, pos: d.pos}
	lr := lzw.NewReader(br, lzw.LSB, f.litWidth)
	defer lr.Close()
	row := make([]byte, f.w)
	// first is the output column of the frame's first pixel.
	first := 0
	for first < ow-1 && ends[first] <= f.left {
		first++
	}
	read := func(i int) error {
		if i%64 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		if _, err := io.ReadFull(lr, row); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				return FormatError("not enough image data")
			}
			return FormatError("reading image data: " + err.Error())
		}
		return nil
	}
	if !f.interlaced {
		acc := make([]uint64, 4*ow)
		y, r := 0, 0
		for oy := range oh {
			y0, y1 := y, (oy+1)*d.height/oh
			for ; y < y1; y++ {
				if y < f.top || y >= f.top+f.h {
					continue
				}
				if err := read(r); err != nil {
					return err
				}
				r++
				if err := f.add(row, acc, ends, first); err != nil {
					return err
				}
			}
			box.Emit(dst.Pix[oy*dst.Stride:][:4*ow], acc, ends, uint64(y1-y0), box.RGBA, 1)
			clear(acc)
		}
	} else {
		acc := make([]uint64, 4*ow*oh)
		r := 0
		for _, p := range interlacing {
			for fy := p.y; fy < f.h; fy += p.dy {
				if err := read(r); err != nil {
					return err
				}
				r++
				y := f.top + fy
				oy := ((y+1)*oh - 1) / d.height // the block of rows y is in
				if err := f.add(row, acc[4*ow*oy:4*ow*(oy+1)], ends, first); err != nil {
					return err
				}
			}
		}
		for oy := range oh {
			rows := uint64((oy+1)*d.height/oh - oy*d.height/oh)
			box.Emit(dst.Pix[oy*dst.Stride:][:4*ow], acc[4*ow*oy:4*ow*(oy+1)], ends, rows, box.RGBA, 1)
		}
	}
	// As image/gif: the LZW stream may end with or without its end code, but holds no more
	// pixels, and the sub-blocks end with the terminator.
	var one [1]byte
	if n, err := lr.Read(one[:]); n != 0 || (err != io.EOF && err != io.ErrUnexpectedEOF) {
		if err != nil {
			return FormatError("reading image data: " + err.Error())
		}
		return FormatError("too much image data")
	}
	return br.close()
}

// add sums a row of the frame's palette indices into acc, the frame starting at screen column
// f.left, in output column first.
func (f *frame) add(row []byte, acc []uint64, ends []int, first int) error {
	ox, end := first, ends[first]
	x := f.left
	for _, v := range row {
		for x >= end {
			ox++
			end = ends[ox]
		}
		if int(v) >= f.colours {
			return FormatError("invalid pixel value")
		}
		p := &f.pal[v]
		a := acc[4*ox : 4*ox+4 : 4*ox+4]
		a[0] += p[0]
		a[1] += p[1]
		a[2] += p[2]
		a[3] += p[3]
		x++
	}
	return nil
}

// blockReader reads the data sub-blocks of a frame as one stream, as image/gif's does.
type blockReader struct {
	data []byte
	pos  int
	buf  []byte // what is left of the current sub-block
	err  error
}

func (b *blockReader) fill() {
	if b.err != nil {
		return
	}
	if b.pos >= len(b.data) {
		b.err = io.ErrUnexpectedEOF
		return
	}
	n := int(b.data[b.pos])
	b.pos++
	if n == 0 {
		b.err = io.EOF
		return
	}
	if n > len(b.data)-b.pos {
		b.err = io.ErrUnexpectedEOF
		return
	}
	b.buf = b.data[b.pos : b.pos+n]
	b.pos += n
}

func (b *blockReader) ReadByte() (byte, error) {
	if len(b.buf) == 0 {
		b.fill()
		if b.err != nil {
			return 0, b.err
		}
	}
	c := b.buf[0]
	b.buf = b.buf[1:]
	return c, nil
}

func (b *blockReader) Read(p []byte) (int, error) {
	if len(p) == 0 || b.err != nil {
		return 0, b.err
	}
	if len(b.buf) == 0 {
		b.fill()
		if b.err != nil {
			return 0, b.err
		}
	}
	n := copy(p, b.buf)
	b.buf = b.buf[n:]
	return n, nil
}

// close checks that the sub-blocks end where the LZW data does, allowing, as image/gif does, one
// more sub-block of a single byte.
func (b *blockReader) close() error {
	switch {
	case b.err == io.EOF:
		return nil
	case b.err != nil:
		return b.failure()
	}
	if len(b.buf) == 0 {
		n := 0
		if b.pos < len(b.data) {
			n = int(b.data[b.pos])
		}
		b.fill()
		switch {
		case b.err == io.EOF:
			return nil
		case b.err != nil:
			return b.failure()
		case n > 1:
			return FormatError("too much image data")
		}
	}
	b.fill()
	switch {
	case b.err == io.EOF:
		return nil
	case b.err != nil:
		return b.failure()
	}
	return FormatError("too much image data")
}

func (b *blockReader) failure() error {
	if b.err == io.ErrUnexpectedEOF {
		return errTruncated
	}
	return FormatError("reading image data: " + b.err.Error())
}
