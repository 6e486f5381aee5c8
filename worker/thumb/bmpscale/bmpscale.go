// Package bmpscale decodes a BMP reduced: each row of the file, its pixels (palette indices of 1, 2,
// 4 or 8 bits, 24-bit BGR, 32-bit BGRX or BGRA) summed into the blocks of package box, and the
// full-size image is never held. For an uncompressed BMP the result is what golang.org/x/image/bmp's
// image gives when averaged over the same blocks, and the files it reads are the ones x/image/bmp
// reads: the same headers, the same checks, the same refusals.
//
// Uncompressed rows are read in place from the data, so bottom-up and top-down files cost the same:
// the sums of one output row, 32 bytes per output pixel of a row, and the output.
//
// RLE-compressed BMPs (BI_RLE8 at 8 bits a pixel, BI_RLE4 at 4), which x/image/bmp does not read,
// are decoded as ImageMagick 6 decodes them, and the result is ImageMagick's image averaged over the
// same blocks. Their rows come bottom-up, one after the other, so the blocks of output rows complete
// from the bottom: the decode keeps the sums of one output row and one row of palette indices, the
// row being written, besides the output. Like ImageMagick, the decoder sees the pixels as one
// sequence, bottom row first, at position y*width+x, where y counts the ends of line and deltas and
// x the pixels since the last end of line:
//
//   - a run (count, index) writes count pixels from the position on, alternating the two indices of
//     the byte for RLE4; an absolute run (0, n >= 3) writes the n indices that follow (n nibbles for
//     RLE4), padded to an even number of bytes;
//   - a run past the end of the row goes on at the start of the next row up, as ImageMagick's does
//     (a file that leaves out its ends of line still reads), and a run past the last pixel is cut
//     there;
//   - an end of line (0, 0) moves to the start of row y+1; where a run had gone past the end of row
//     y, that is the row the run went on into, which is written over from its start. A row that
//     ImageMagick would go back to after a run has gone on for more than one whole row past the end
//     of its own is already summed here: such a file is refused as a FormatError;
//   - a delta (0, 2, dx, dy) moves dx pixels right and dy rows up;
//   - the end of the bitmap (0, 1), or the position passing the last pixel, ends the decode, and the
//     data after it is ignored; data that ends before either is truncated.
//
// Pixels that nothing writes (skipped by a delta, left by an early end of line or end of bitmap)
// are palette index 0, as ImageMagick leaves them (it clears its index buffer first; browsers make
// them transparent instead). An index past the palette is a FormatError, as in uncompressed files
// (ImageMagick warns of an invalid colormap index and shows index 0). A top-down RLE file (negative
// height), which Microsoft's documentation does not allow, is a FormatError.
package bmpscale

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"io"
	"math/bits"

	"github.com/thumbq/thumbq/worker/thumb/internal/box"
)

// A FormatError reports that the input is not a valid BMP, as x/image/bmp would refuse it.
type FormatError string

func (e FormatError) Error() string { return "bmpscale: " + string(e) }

// An UnsupportedError reports a valid BMP that x/image/bmp does not read either: a compression
// other than none, RLE8 and RLE4 (bit fields other than the default ones, JPEG, PNG...), a header
// size other than 40, 108 or 124 bytes, a depth other than 1, 2, 4, 8, 24 or 32 bits.
type UnsupportedError string

func (e UnsupportedError) Error() string { return "bmpscale: unsupported BMP image: " + string(e) }

var errTruncated = fmt.Errorf("bmpscale: %w", io.ErrUnexpectedEOF)

const fileHeaderLen = 14

// Decode decodes a BMP reduced by shrink on each side: the result has max(1, floor(w/shrink)) x
// max(1, floor(h/shrink)) premultiplied pixels, each the mean of a block whose edges are at
// i*w/ow (box.Ends), so every source pixel counts once; a 0x0 BMP, which x/image/bmp accepts,
// gives an empty image. Data that ends before the last row gives an error wrapping
// io.ErrUnexpectedEOF; what neither x/image/bmp nor the RLE decoder reads, an UnsupportedError;
// other invalid data (a palette index past the palette), a FormatError. Data after the last row
// (after the end of the bitmap in an RLE file) is ignored.
func Decode(data []byte, shrink int) (*image.RGBA, error) {
	return DecodeContext(context.Background(), data, shrink)
}

// DecodeContext is Decode that checks ctx between rows and returns ctx.Err() once it is done.
func DecodeContext(ctx context.Context, data []byte, shrink int) (*image.RGBA, error) {
	if shrink < 1 {
		return nil, fmt.Errorf("bmpscale: shrink %d: want 1 or more", shrink)
	}
	d, err := header(data)
	if err != nil {
		return nil, err
	}
	if d.width == 0 {
		return image.NewRGBA(image.Rectangle{}), nil
	}
	// Every row must be there before anything is allocated from the header's size. An RLE file
	// can be a few bytes for any size (an end of bitmap at once): its size is for the caller's
	// pixel limit to bound.
	if d.rle == 0 && d.height > (len(data)-d.offset)/d.stride {
		return nil, errTruncated
	}
	ow, oh := max(1, d.width/shrink), max(1, d.height/shrink)
	dst := image.NewRGBA(image.Rect(0, 0, ow, oh))
	pixels := d.pixels
	if d.rle != 0 {
		pixels = d.rlePixels
	}
	if err := pixels(ctx, data, dst); err != nil {
		return nil, err
	}
	return dst, nil
}

// DecodeConfig reads the size of a BMP from its headers, with Decode's checks: the files it
// accepts are the ones Decode decodes, unless their pixels are truncated or invalid. The colour
// model is image.RGBAModel, what Decode returns.
func DecodeConfig(r io.Reader) (image.Config, error) {
	// The headers and the largest palette: 14 + 124 + 256*4 bytes.
	b := make([]byte, fileHeaderLen+124+1024)
	n, err := io.ReadFull(r, b)
	if err != nil && err != io.ErrUnexpectedEOF {
		if err == io.EOF {
			return image.Config{}, errTruncated
		}
		return image.Config{}, err
	}
	d, err := header(b[:n])
	if err != nil {
		return image.Config{}, err
	}
	return image.Config{ColorModel: color.RGBAModel, Width: d.width, Height: d.height}, nil
}

// decoder is what the header says of the pixels.
type decoder struct {
	width, height int
	topDown       bool
	bpp           int  // bits per pixel: 1, 2, 4, 8, 24 or 32
	alpha         bool // 32-bit: the fourth byte is alpha (headers larger than 40 bytes), not padding
	offset        int  // where the first row of the file is
	stride        int  // bytes per row of the file, padded to 4
	pal           [256][3]uint64
	colours       int // indices from this one on are invalid
	rle           int // 0, or the compression: rle8 or rle4
}

// The RLE compressions of the info header.
const (
	rle8 = 1
	rle4 = 2
)

func u16(b []byte) uint32 { return uint32(b[0]) | uint32(b[1])<<8 }
func u32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// header reads the file and info headers and the palette, with x/image/bmp's checks.
func header(data []byte) (*decoder, error) {
	const (
		infoHeaderLen   = 40
		v4InfoHeaderLen = 108
		v5InfoHeaderLen = 124
	)
	if len(data) < fileHeaderLen+4 {
		return nil, errTruncated
	}
	if string(data[:2]) != "BM" {
		return nil, FormatError("invalid format")
	}
	offset, infoLen := u32(data[10:14]), u32(data[14:18])
	if infoLen != infoHeaderLen && infoLen != v4InfoHeaderLen && infoLen != v5InfoHeaderLen {
		return nil, UnsupportedError(fmt.Sprintf("info header of %d bytes", infoLen))
	}
	if len(data) < fileHeaderLen+int(infoLen) {
		return nil, errTruncated
	}
	b := data
	d := &decoder{width: int(int32(u32(b[18:22]))), height: int(int32(u32(b[22:26])))}
	if d.height < 0 {
		d.height, d.topDown = -d.height, true
	}
	if d.width < 0 || (d.width == 0) != (d.height == 0) {
		return nil, UnsupportedError(fmt.Sprintf("size %dx%d", d.width, d.height))
	}
	// As x/image/bmp: the image must fit in memory at 4 bytes a pixel.
	if hi, lo := bits.Mul64(uint64(d.width), uint64(d.height)); hi != 0 || lo > (1<<63-1)/4 {
		return nil, UnsupportedError(fmt.Sprintf("size %dx%d", d.width, d.height))
	}
	planes, bpp, compression := u16(b[26:28]), u16(b[28:30]), u32(b[30:34])
	// BI_BITFIELDS with the masks of no compression is no compression.
	if compression == 3 && infoLen > infoHeaderLen &&
		u32(b[54:58]) == 0xff0000 && u32(b[58:62]) == 0xff00 && u32(b[62:66]) == 0xff && u32(b[66:70]) == 0xff000000 {
		compression = 0
	}
	if planes != 1 {
		return nil, UnsupportedError(fmt.Sprintf("%d planes", planes))
	}
	switch {
	case compression == rle8 && bpp == 8, compression == rle4 && bpp == 4:
		if d.topDown {
			return nil, FormatError("top-down RLE bitmap")
		}
		d.rle = int(compression)
	case compression == rle8, compression == rle4:
		return nil, FormatError(fmt.Sprintf("compression %d at %d bits a pixel", compression, bpp))
	case compression != 0:
		return nil, UnsupportedError(fmt.Sprintf("compression %d", compression))
	}
	d.bpp = int(bpp)
	d.offset = fileHeaderLen + int(infoLen)
	switch bpp {
	case 1, 2, 4, 8:
		used := u32(b[46:50])
		if used == 0 {
			used = 1 << bpp
		} else if used > 1<<bpp {
			return nil, UnsupportedError(fmt.Sprintf("%d colours at %d bits", used, bpp))
		}
		if offset != uint32(d.offset)+used*4 {
			return nil, UnsupportedError(fmt.Sprintf("pixels at %d, not after the palette", offset))
		}
		if len(data) < int(offset) {
			return nil, errTruncated
		}
		d.colours = int(used)
		for i := range d.colours {
			p := data[d.offset+4*i:]
			d.pal[i] = [3]uint64{uint64(p[2]), uint64(p[1]), uint64(p[0])} // stored B, G, R, padding
		}
		d.offset = int(offset)
		perByte := 8 / d.bpp
		d.stride = ((d.width+perByte-1)/perByte + 3) &^ 3
	case 24, 32:
		if offset != uint32(d.offset) {
			return nil, UnsupportedError(fmt.Sprintf("pixels at %d, not after the header", offset))
		}
		d.alpha = bpp == 32 && infoLen > infoHeaderLen
		d.stride = (d.bpp/8*d.width + 3) &^ 3
	default:
		return nil, UnsupportedError(fmt.Sprintf("%d bits per pixel", bpp))
	}
	return d, nil
}

// pixels sums the rows of each block of rows into dst's row, top to bottom, reading each row
// where the file has it.
func (d *decoder) pixels(ctx context.Context, data []byte, dst *image.RGBA) error {
	ow, oh := dst.Rect.Dx(), dst.Rect.Dy()
	ends := make([]int, ow)
	box.Ends(ends, d.width)
	acc := make([]uint64, 4*ow)
	mode, unit := box.RGB, uint64(1)
	if d.alpha {
		mode, unit = box.RGBA, 255
	}
	y := 0
	for oy := range oh {
		y0, y1 := y, (oy+1)*d.height/oh
		for ; y < y1; y++ {
			if y%64 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			r := y
			if !d.topDown {
				r = d.height - 1 - y
			}
			if err := d.add(data[d.offset+r*d.stride:][:d.stride], acc, ends); err != nil {
				return err
			}
		}
		box.Emit(dst.Pix[oy*dst.Stride:][:4*ow], acc, ends, uint64(y1-y0), mode, unit)
		clear(acc)
	}
	return nil
}

// add sums one row of the file into acc: R, G, B (and premultiplied, alpha times 255 for a 32-bit
// row with alpha).
func (d *decoder) add(row []byte, acc []uint64, ends []int) error {
	switch d.bpp {
	case 24, 32:
		n := d.bpp / 8
		x := 0
		for ox, end := range ends {
			var r, g, b, a uint64
			p := row[n*x : n*end]
			if d.alpha {
				for len(p) >= 4 {
					pa := uint64(p[3])
					r += uint64(p[2]) * pa
					g += uint64(p[1]) * pa
					b += uint64(p[0]) * pa
					a += pa
					p = p[4:]
				}
			} else {
				for len(p) >= n {
					r += uint64(p[2])
					g += uint64(p[1])
					b += uint64(p[0])
					p = p[n:]
				}
			}
			x = end
			s := acc[4*ox : 4*ox+4 : 4*ox+4]
			s[0] += r
			s[1] += g
			s[2] += b
			s[3] += a * 255
		}
		return nil
	}
	bpp := uint(d.bpp)
	mask := byte(1<<bpp - 1)
	x := 0
	for ox, end := range ends {
		var r, g, b uint64
		for ; x < end; x++ {
			bit := uint(x) * bpp
			i := int(row[bit>>3] >> (8 - bpp - bit&7) & mask) // the first pixel in the high bits
			if i >= d.colours {
				return FormatError("invalid palette index")
			}
			p := &d.pal[i]
			r += p[0]
			g += p[1]
			b += p[2]
		}
		s := acc[4*ox : 4*ox+3 : 4*ox+3]
		s[0] += r
		s[1] += g
		s[2] += b
	}
	return nil
}
