package thumb

import (
	"bytes"
	"context"
	"errors"
	"image"
	"io"

	"golang.org/x/image/bmp"

	"github.com/thumbq/thumbq/worker/failure"
	"github.com/thumbq/thumbq/worker/thumb/bmpscale"
)

// BMP, uncompressed (1, 2, 4 and 8-bit palettes, 24 and 32-bit) and RLE-compressed (RLE8, RLE4):
// reduced while decoding by package bmpscale, which sums the file's rows into the box filter where
// they lie in the data, or as the RLE data completes them (bottom-up, one row of indices at a
// time); uncompressed by golang.org/x/image/bmp at full size when no reduction is needed, RLE,
// which x/image/bmp does not read, by bmpscale at every size. bmpscale reads the headers, with
// x/image/bmp's checks.
var bmpFormat = format{
	name:          "bmp",
	match:         func(data []byte) bool { return has(data, 0, "BM") && len(data) >= 26 && bmpHeaderSize(data) != 0 },
	config:        bmpConfig,
	decode:        decodeBMP,
	decodeReduced: decodeBMPReduced,
	memory:        bmpMemory,
}

func bmpConfig(r io.Reader) (image.Config, error) {
	cfg, err := bmpscale.DecodeConfig(r)
	return cfg, bmpError(err)
}

// decodeBMP decodes a BMP at full size: with x/image/bmp, or bmpscale for RLE.
func decodeBMP(data []byte) (image.Image, error) {
	if bmpRLE(data) {
		img, err := bmpscale.Decode(data, 1)
		if err != nil {
			return nil, bmpError(err)
		}
		return img, nil
	}
	return bmp.Decode(bytes.NewReader(data))
}

func decodeBMPReduced(ctx context.Context, data []byte, _, _, shrink int) (image.Image, error) {
	img, err := bmpscale.DecodeContext(ctx, data, shrink)
	if err != nil {
		return nil, bmpError(err)
	}
	return img, nil
}

// bmpError classifies bmpscale's UnsupportedError as unsupported-format.
func bmpError(err error) error {
	if errors.As(err, new(bmpscale.UnsupportedError)) {
		return &failure.Error{Code: failure.Unsupported, Format: "bmp", Err: err}
	}
	return err
}

// bmpRLE reports whether the info header says RLE8 or RLE4.
func bmpRLE(data []byte) bool {
	return len(data) >= 34 && (data[30] == 1 || data[30] == 2) && data[31] == 0 && data[32] == 0 && data[33] == 0
}

// bmpDecoderState bounds what bmpscale allocates besides the output, the sums and the row of
// indices: its header and palette, and the runtime's rounding of its four large allocations up
// to whole 8 KB pages.
const bmpDecoderState = 48 << 10

// bmpMemory estimates the peak memory of a BMP decode. Reduced (shrink >= 2), and for RLE at every
// shrink, bmpscale allocates the output (4 bytes a reduced pixel), the sums of one output row (32
// bytes a reduced pixel of a row), the block edges (8 bytes a reduced pixel of a row), for RLE one
// row of palette indices (a byte a pixel of the source's row), and its decoder state: uncompressed
// rows are read in place. At full size, uncompressed: x/image/bmp's image, RGBA or NRGBA (4 bytes
// a pixel; paletted is 1).
func bmpMemory(data []byte, w, h, shrink int) int64 {
	rle := bmpRLE(data)
	if shrink < 2 && !rle {
		return fullImage(w, h, 4)
	}
	ow, oh := int64(max(1, w/shrink)), int64(max(1, h/shrink))
	n := 4*ow*oh + 40*ow + bmpDecoderState
	if rle {
		n += int64(w)
	}
	return n
}

// bmpHeaderSize returns the DIB header size of a BMP file if it is one of the known sizes, so
// that a text file starting with "BM" is not taken for a bitmap.
func bmpHeaderSize(data []byte) uint32 {
	n := uint32(data[14]) | uint32(data[15])<<8 | uint32(data[16])<<16 | uint32(data[17])<<24
	switch n {
	case 12, 40, 52, 56, 64, 108, 124:
		return n
	}
	return 0
}
