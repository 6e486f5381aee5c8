package bmpscale

import (
	"context"
	"image"

	"github.com/thumbq/thumbq/worker/thumb/internal/box"
)

// rleRows is the state of an RLE decode: the row of palette indices being written and the sums of
// the block of output rows it falls in. The rows of the file come bottom-up, so the blocks complete
// from the bottom of the image, and one row of sums is enough.
type rleRows struct {
	d    *decoder
	dst  *image.RGBA
	ends []int
	acc  []uint64
	row  []byte // the palette indices of file row cur (0 is the bottom row of the image)
	cur  int
	oy   int // the output row whose block row cur falls in
	y0   int // the first image row of oy's block
}

// rlePixels decodes the RLE data into dst, as the package's documentation describes.
func (d *decoder) rlePixels(ctx context.Context, data []byte, dst *image.RGBA) error {
	w, h := d.width, d.height
	ow, oh := dst.Rect.Dx(), dst.Rect.Dy()
	s := &rleRows{d: d, dst: dst, ends: make([]int, ow), acc: make([]uint64, 4*ow), row: make([]byte, w), oy: oh - 1}
	box.Ends(s.ends, w)
	s.y0 = s.oy * h / oh
	src := data[d.offset:]
	n := w * h // the pixels; p = y*w + x is the position in them, bottom row first
	p, y, x := 0, 0, 0
	for p < n {
		if len(src) < 2 {
			return errTruncated
		}
		count, arg := int(src[0]), src[1]
		src = src[2:]
		switch {
		case count > 0: // a run of one index (RLE8) or two alternating ones (RLE4)
			count = min(count, n-p)
			hi, lo := arg, arg
			if d.rle == rle4 {
				hi, lo = arg>>4, arg&0x0f
			}
			err := s.spans(ctx, p, count, func(r []byte, i int) {
				for j := range r {
					if (i+j)&1 == 0 {
						r[j] = hi
					} else {
						r[j] = lo
					}
				}
			})
			if err != nil {
				return err
			}
			p, x = p+count, x+count
		case arg == 0: // end of line
			y, x = y+1, 0
			if y < s.cur { // back to a row already summed; see the package documentation
				return FormatError("end of line back to a row already written")
			}
			p = y * w
		case arg == 1: // end of bitmap
			p = n
		case arg == 2: // delta
			if len(src) < 2 {
				return errTruncated
			}
			x, y = x+int(src[0]), y+int(src[1])
			src = src[2:]
			p = y*w + x
		default: // absolute: arg indices, padded to a whole number of 16-bit words
			count = int(arg)
			size := count
			if d.rle == rle4 {
				size = (count + 1) / 2
			}
			count = min(count, n-p)
			used := count
			if d.rle == rle4 {
				used = (count + 1) / 2
			}
			if len(src) < used {
				return errTruncated
			}
			abs := src[:used]
			src = src[min(len(src), size+size&1):]
			err := s.spans(ctx, p, count, func(r []byte, i int) {
				if d.rle == rle8 {
					copy(r, abs[i:i+len(r)])
					return
				}
				for j := range r {
					b := abs[(i+j)/2]
					if (i+j)&1 == 0 {
						r[j] = b >> 4
					} else {
						r[j] = b & 0x0f
					}
				}
			})
			if err != nil {
				return err
			}
			p, x = p+count, x+count
		}
	}
	return s.moveTo(ctx, h)
}

// spans hands fill the pieces of the count pixels from position p on, a row at a time (a run may
// go on into the rows above, as ImageMagick lets it): r is the piece of the row being written, i
// the index of its first pixel in the run.
func (s *rleRows) spans(ctx context.Context, p, count int, fill func(r []byte, i int)) error {
	w := s.d.width
	for i := 0; i < count; {
		if err := s.moveTo(ctx, (p+i)/w); err != nil {
			return err
		}
		c := (p + i) % w
		k := min(count-i, w-c)
		fill(s.row[c:c+k], i)
		i += k
	}
	return nil
}

// moveTo sums the rows from cur up to r (not included) into their blocks, emitting each block of
// output rows once its last row, the top one, is summed, and makes r the row being written, all
// index 0.
func (s *rleRows) moveTo(ctx context.Context, r int) error {
	d := s.d
	for ; s.cur < r; s.cur++ {
		if s.cur%64 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		x := 0
		for ox, end := range s.ends {
			var sr, sg, sb uint64
			for _, i := range s.row[x:end] {
				if int(i) >= d.colours {
					return FormatError("invalid palette index")
				}
				c := &d.pal[i]
				sr += c[0]
				sg += c[1]
				sb += c[2]
			}
			x = end
			a := s.acc[4*ox : 4*ox+3 : 4*ox+3]
			a[0] += sr
			a[1] += sg
			a[2] += sb
		}
		clear(s.row)
		if y := d.height - 1 - s.cur; y == s.y0 {
			oh := s.dst.Rect.Dy()
			y1 := (s.oy + 1) * d.height / oh
			box.Emit(s.dst.Pix[s.oy*s.dst.Stride:][:4*len(s.ends)], s.acc, s.ends, uint64(y1-s.y0), box.RGB, 1)
			clear(s.acc)
			if s.oy--; s.oy >= 0 {
				s.y0 = s.oy * d.height / oh
			}
		}
	}
	return nil
}
