// Package pngscale decodes a PNG already reduced by an integer factor: it inflates (package
// inflate) and unfilters the image row by row and averages blocks of about shrink x shrink pixels
// (package box) as the rows go by, so its memory is two rows of the source and the output,
// whatever the size of the image.
//
// It reads every PNG that image/png reads (bit depths 1 to 16; grey, grey with alpha, RGB, RGBA,
// palette, each with tRNS transparency where the format allows it; interlaced or not) and returns
// premultiplied 8-bit RGBA, averaged with alpha weighting so that transparent pixels lend no
// colour to their block. An interlaced (Adam7) image is read pass by pass into the sums of the
// whole output (32 bytes per output pixel) rather than of one output row. It checks what
// image/png checks: chunk order, the CRC of every chunk, and the zlib checksum of the pixel data.
// Ancillary chunks are skipped.
package pngscale

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"io"
)

// Colour types (PNG spec, 11.2.2).
const (
	ctGrey      = 0
	ctRGB       = 2
	ctPalette   = 3
	ctGreyAlpha = 4
	ctRGBA      = 6
)

// Decoding stages, as image/png enforces the order of the critical chunks.
const (
	stStart = iota
	stIHDR
	stPLTE
	stTRNS
	stIDAT
	stIEND
)

// maxInflate bounds how much data deflate can produce from one byte (at best 258 bytes for a
// 2-bit length and distance pair: 1032 bytes a byte). An image needing more than that from its
// compressed data is truncated, whatever its header says, and is refused before anything is
// allocated for it, so what Decode allocates stays in proportion to the file.
const maxInflate = 1100

type header struct {
	width, height int
	depth         int // bits per sample
	colorType     int
	interlaced    bool

	palette [256][4]uint8 // RGBA (not premultiplied); entries past PLTE are opaque black, as in image/png
	trns    bool          // a tRNS colour key (grey or RGB) is set
	key     [3]uint16     // the colour key: grey, or R, G, B (16-bit as stored)

	idat    int // offset of the first IDAT chunk
	idatLen int // total length of the pixel data in the first run of IDAT chunks
}

// Decode decodes the PNG in data reduced by shrink on each side.
//
// shrink means what it means in package jpegscale: the factor each side is divided by, each
// output pixel standing for a block of about shrink x shrink source pixels. Here it is any
// integer from 1, and the blocks are spread over the whole image: the result is
// max(1, floor(w/shrink)) x max(1, floor(h/shrink)) pixels, each the mean of a block whose edges
// are at i*w/ow and j*h/oh (so blocks are shrink or shrink+1 wide and every source pixel counts
// once, with no partial block at the edge).
//
// A truncated file gives an error wrapping io.ErrUnexpectedEOF, a valid PNG this package does
// not decode (image/png's UnsupportedError cases) an UnsupportedError, other invalid data a
// FormatError.
//
// Decode allocates two rows of the source and the output (and, for an interlaced image, the
// sums of the output). Check the dimensions in the header
// first (image/png's DecodeConfig) as you would before image/png's Decode, which allocates the
// whole image.
func Decode(data []byte, shrink int) (*image.RGBA, error) {
	return DecodeContext(context.Background(), data, shrink)
}

// DecodeContext is Decode that checks ctx every few rows and returns ctx.Err() once it is done.
func DecodeContext(ctx context.Context, data []byte, shrink int) (*image.RGBA, error) {
	if shrink < 1 {
		return nil, fmt.Errorf("pngscale: shrink %d; want at least 1", shrink)
	}
	h, err := parse(data)
	if err != nil {
		return nil, err
	}
	rowBytes := (int64(h.width)*int64(h.depth*channels(h.colorType)) + 7) / 8
	// Interlaced data is a little bigger (a filter byte per pass row), which only loosens the bound.
	if need := int64(h.height) * (1 + rowBytes); need/maxInflate > int64(h.idatLen) {
		return nil, fmt.Errorf("pngscale: %dx%d image in %d bytes of compressed data: %w",
			h.width, h.height, h.idatLen, io.ErrUnexpectedEOF)
	}
	return reduce(ctx, data, h, int(rowBytes), shrink)
}

// bytesPerPixel is the distance the filters look back: the bytes of a pixel, at least 1.
func (h *header) bytesPerPixel() int { return max(1, h.depth*channels(h.colorType)/8) }

func channels(colorType int) int {
	switch colorType {
	case ctRGB:
		return 3
	case ctGreyAlpha:
		return 2
	case ctRGBA:
		return 4
	}
	return 1
}

// A FormatError reports that the input is not a valid PNG.
type FormatError string

func (e FormatError) Error() string { return "pngscale: " + string(e) }

// An UnsupportedError reports that the input uses a valid PNG feature this package (like
// image/png) does not decode.
type UnsupportedError string

func (e UnsupportedError) Error() string { return "pngscale: " + string(e) }

func truncated(what string) error {
	return fmt.Errorf("pngscale: %s: %w", what, io.ErrUnexpectedEOF)
}

func malformed(format string, args ...any) FormatError {
	return FormatError(fmt.Sprintf(format, args...))
}

// parse walks every chunk up to IEND, checking their order and CRCs, and reads the header,
// palette and transparency. The pixel data is left where it is.
func parse(data []byte) (*header, error) {
	const signature = "\x89PNG\r\n\x1a\n"
	if len(data) < len(signature) {
		return nil, truncated("signature")
	}
	if string(data[:len(signature)]) != signature {
		return nil, malformed("not a PNG file")
	}
	h := &header{idat: -1}
	for i := range h.palette {
		h.palette[i] = [4]uint8{0, 0, 0, 0xff}
	}
	stage := stStart
	idatRun := false // in the first run of consecutive IDAT chunks
	for pos := len(signature); stage != stIEND; {
		if len(data)-pos < 8 {
			return nil, truncated("chunk header")
		}
		length := binary.BigEndian.Uint32(data[pos:])
		typ := data[pos+4 : pos+8]
		if length > 0x7fffffff {
			return nil, malformed("chunk %q length %d", typ, length)
		}
		n := int(length)
		if len(data)-pos-8 < n+4 {
			return nil, truncated(string(typ) + " chunk")
		}
		body := data[pos+8 : pos+8+n]
		if crc32.ChecksumIEEE(data[pos+4:pos+8+n]) != binary.BigEndian.Uint32(data[pos+8+n:]) {
			return nil, malformed("%s chunk: invalid checksum", typ)
		}
		if string(typ) != "IDAT" {
			idatRun = false
		}
		var err error
		switch string(typ) {
		case "IHDR":
			if stage != stStart {
				return nil, malformed("chunk out of order")
			}
			stage = stIHDR
			err = h.parseIHDR(body)
		case "PLTE":
			if stage != stIHDR {
				return nil, malformed("chunk out of order")
			}
			stage = stPLTE
			err = h.parsePLTE(body)
		case "tRNS":
			if (h.colorType == ctPalette && stage != stPLTE) ||
				(h.colorType != ctPalette && stage != stIHDR && stage != stPLTE) {
				return nil, malformed("chunk out of order")
			}
			stage = stTRNS
			err = h.parseTRNS(body)
		case "IDAT":
			if stage < stIHDR || (stage == stIHDR && h.colorType == ctPalette) {
				return nil, malformed("chunk out of order")
			}
			if stage != stIDAT { // later runs of IDAT chunks are ignored, as image/png does
				stage, idatRun, h.idat = stIDAT, true, pos
			}
			if idatRun {
				h.idatLen += n
			}
		case "IEND":
			if stage != stIDAT {
				return nil, malformed("chunk out of order")
			}
			if n != 0 {
				return nil, malformed("bad IEND length")
			}
			stage = stIEND
		}
		if err != nil {
			return nil, err
		}
		pos += 12 + n
	}
	return h, nil
}

func (h *header) parseIHDR(b []byte) error {
	if len(b) != 13 {
		return malformed("bad IHDR length")
	}
	w, ht := int32(binary.BigEndian.Uint32(b)), int32(binary.BigEndian.Uint32(b[4:]))
	if w <= 0 || ht <= 0 {
		return malformed("non-positive dimension")
	}
	if b[10] != 0 {
		return UnsupportedError("unsupported compression method")
	}
	if b[11] != 0 {
		return UnsupportedError("unsupported filter method")
	}
	if b[12] > 1 {
		return malformed("invalid interlace method")
	}
	h.width, h.height, h.depth, h.colorType, h.interlaced = int(w), int(ht), int(b[8]), int(b[9]), b[12] == 1
	ok := false
	switch h.colorType {
	case ctGrey:
		ok = h.depth == 1 || h.depth == 2 || h.depth == 4 || h.depth == 8 || h.depth == 16
	case ctPalette:
		ok = h.depth == 1 || h.depth == 2 || h.depth == 4 || h.depth == 8
	case ctRGB, ctGreyAlpha, ctRGBA:
		ok = h.depth == 8 || h.depth == 16
	}
	if !ok {
		return UnsupportedError(fmt.Sprintf("bit depth %d, color type %d", h.depth, h.colorType))
	}
	return nil
}

func (h *header) parsePLTE(b []byte) error {
	np := len(b) / 3
	if len(b)%3 != 0 || np == 0 || np > 256 || np > 1<<h.depth {
		return malformed("bad PLTE length")
	}
	switch h.colorType {
	case ctPalette:
		for i := range np {
			h.palette[i] = [4]uint8{b[3*i], b[3*i+1], b[3*i+2], 0xff}
		}
	case ctRGB, ctRGBA: // optional and ignorable (a suggested palette)
	default:
		return malformed("PLTE, color type mismatch")
	}
	return nil
}

func (h *header) parseTRNS(b []byte) error {
	switch h.colorType {
	case ctGrey:
		if len(b) != 2 {
			return malformed("bad tRNS length")
		}
		h.trns, h.key[0] = true, binary.BigEndian.Uint16(b)
	case ctRGB:
		if len(b) != 6 {
			return malformed("bad tRNS length")
		}
		h.trns = true
		for c := range 3 {
			h.key[c] = binary.BigEndian.Uint16(b[2*c:])
		}
	case ctPalette:
		if len(b) > 256 {
			return malformed("bad tRNS length")
		}
		for i, a := range b {
			h.palette[i][3] = a
		}
	default:
		return malformed("tRNS, color type mismatch")
	}
	return nil
}
