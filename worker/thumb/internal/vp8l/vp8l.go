// Package vp8l decodes a lossless WebP image (VP8L, RFC 9649 section 3, "Specification for WebP
// Lossless Bitstream") and hands it out a row at a time, so that a caller can reduce the picture
// while it is decoded and never hold it whole.
//
// A VP8L image is one entropy-coded stream of ARGB pixels, followed by up to four inverse
// transforms. Neither needs the whole picture:
//   - a backward reference reaches at most 2^20 pixels back (the largest distance code, 39, has
//     18 extra bits: 786432+2^18 = 1048576, less 120; the 120 short codes reach 7 rows and 8
//     pixels back, under 2^17 pixels at the widest), so the stream is decoded into a ring of
//     2^20 pixels (4 MB), or of the next power of two above the pixel count if that is smaller;
//   - the inverse predictor reads the row above and the pixel to the left; the colour
//     transform, subtract-green and the colour cache work pixel by pixel; colour indexing
//     unpacks one row into one row.
//
// What is held whole is the subsampled images the stream refers to, decoded first: the
// predictor's modes (a byte a tile), the colour transform's multipliers (three bytes a tile),
// the colour table (256 pixels) and the meta prefix image (a group index a tile), each at most
// (w/4)x(h/4) tiles; and the prefix codes. See Memory.
//
// golang.org/x/image/vp8l, which decodes the whole picture into an *image.NRGBA, is the
// reference: the tests require the same bytes from both, and this package refuses what it
// refuses (more than 2600 prefix-code groups, colour caches of other than 1 to 11 bits, repeated
// transforms, invalid backward references, truncated data), including its rule for prefix codes:
// x/image builds a tree of at most 2n-1 nodes for n symbols, which refuses every incomplete
// code, and lets a code that over-fills the code space take the place of the one it wraps round
// to (codeBuilder.build). Its one departure is a bound on the prefix codes' tables
// (maxCodeEntries, 8 MB) that only hostile data reaches.
package vp8l

import (
	"context"
	"errors"
)

// A FormatError reports that the data is not a valid VP8L image.
type FormatError string

func (e FormatError) Error() string { return "vp8l: " + string(e) }

// errUnassigned reports a code that a prefix code leaves unassigned. build refuses incomplete
// codes, so it is never read: the check guards the invariant.
var errUnassigned = FormatError("a prefix code's unassigned code is used")

// errTruncated reports data that ends before the image does, as x/image/vp8l's reads do.
var errTruncated = FormatError("unexpected end of data")

// signature is the first byte of a VP8L image (RFC 9649, section 3.2).
const signature = 0x2f

// maxDimension is the largest width or height a VP8L header can state (14 bits, plus one).
const maxDimension = 1 << 14

// header reads the 5-byte VP8L header: the signature, width-1 and height-1 in 14 bits each, the
// alpha hint (ignored, as x/image ignores it) and a 3-bit version that must be 0.
func header(br *bitReader) (width, height int, err error) {
	if br.read(8) != signature {
		return 0, 0, FormatError("invalid header")
	}
	width = int(br.read(14)) + 1
	height = int(br.read(14)) + 1
	br.read(1) // alpha_is_used: a hint only
	version := br.read(3)
	if br.overrun() {
		return 0, 0, errTruncated
	}
	if version != 0 {
		return 0, 0, FormatError("invalid version")
	}
	return width, height, nil
}

// DecodeConfig returns the size of the VP8L image data (the payload of a "VP8L" chunk), from
// its header.
func DecodeConfig(data []byte) (width, height int, err error) {
	br := newBitReader(data)
	return header(&br)
}

// Decode decodes a VP8L image (the payload of a WebP "VP8L" chunk: signature 0x2f, 14-bit
// width-1, 14-bit height-1, alpha hint, version) and calls emit with each row of
// non-premultiplied RGBA (4 bytes a pixel, the same bytes as x/image/vp8l's *image.NRGBA row),
// top to bottom, the slice valid only during the call. It checks ctx every few rows and returns
// ctx.Err() once done; an error from emit ends Decode with that error. The data's errors are
// FormatErrors. What Decode allocates is bounded by Memory(width, height), whatever the data.
func Decode(ctx context.Context, data []byte, emit func(y int, row []byte) error) error {
	br := newBitReader(data)
	w, h, err := header(&br)
	if err != nil {
		return err
	}
	out := make([]byte, 4*w)
	return newDecoder(&br, w, h).decodeImage(ctx, w, h, func(y int, argb []uint32) error {
		for x, p := range argb {
			o := out[4*x : 4*x+4 : 4*x+4]
			o[0], o[1], o[2], o[3] = byte(p>>16), byte(p>>8), byte(p), byte(p>>24)
		}
		return emit(y, out)
	})
}

// DecodeAlpha decodes the alpha plane of a lossy WebP's ALPH chunk compressed as a lossless
// image (compression method 1): data is the chunk's payload after its one-byte header, an image
// stream of width x height pixels with no VP8L header, whose green channel is the alpha (RFC
// 9649, section 2.7.1.3). emit gets each row of width alpha bytes, top to bottom, as stored:
// before the ALPH chunk's filter, which the caller undoes; the slice is valid only during the
// call. Errors, ctx and memory are as for Decode.
func DecodeAlpha(ctx context.Context, data []byte, width, height int, emit func(y int, row []byte) error) error {
	if width < 1 || height < 1 || width > maxDimension || height > maxDimension {
		return errors.New("vp8l: alpha plane size out of range")
	}
	br := newBitReader(data)
	out := make([]byte, width)
	return newDecoder(&br, width, height).decodeImage(ctx, width, height, func(y int, argb []uint32) error {
		for x, p := range argb {
			out[x] = byte(p >> 8)
		}
		return emit(y, out)
	})
}
