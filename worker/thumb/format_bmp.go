package thumb

import (
	"context"
	"errors"
	"image"

	"golang.org/x/image/bmp"

	"github.com/thumbq/thumbq/worker/failure"
	"github.com/thumbq/thumbq/worker/thumb/bmpscale"
)

// BMP, uncompressed (1, 2, 4 and 8-bit palettes, 24 and 32-bit): reduced while decoding by package
// bmpscale, which sums the file's rows into the box filter where they lie in the data; by
// golang.org/x/image/bmp at full size when no reduction is needed. Both read the same files: RLE4
// and RLE8 are refused as unsupported, as x/image/bmp refuses them.
var bmpFormat = format{
	name:          "bmp",
	match:         func(data []byte) bool { return has(data, 0, "BM") && len(data) >= 26 && bmpHeaderSize(data) != 0 },
	config:        bmp.DecodeConfig,
	decode:        fromReader(bmp.Decode),
	decodeReduced: decodeBMPReduced,
	memory:        bmpMemory,
}

func decodeBMPReduced(ctx context.Context, data []byte, _, _, shrink int) (image.Image, error) {
	img, err := bmpscale.DecodeContext(ctx, data, shrink)
	if errors.As(err, new(bmpscale.UnsupportedError)) {
		return nil, &failure.Error{Code: failure.Unsupported, Format: "bmp", Err: err}
	}
	if err != nil {
		return nil, err
	}
	return img, nil
}

// bmpDecoderState bounds what bmpscale allocates besides the output and the sums: its header and
// palette.
const bmpDecoderState = 16 << 10

// bmpMemory estimates the peak memory of a BMP decode. Reduced (shrink >= 2), bmpscale allocates
// the output (4 bytes a reduced pixel), the sums of one output row (32 bytes a reduced pixel of a
// row), the block edges (8 bytes a reduced pixel of a row) and its decoder state: the rows are
// read in place. At full size: x/image/bmp's image, RGBA or NRGBA (4 bytes a pixel; paletted is 1).
func bmpMemory(_ []byte, w, h, shrink int) int64 {
	if shrink < 2 {
		return fullImage(w, h, 4)
	}
	ow, oh := int64(max(1, w/shrink)), int64(max(1, h/shrink))
	return 4*ow*oh + 40*ow + bmpDecoderState
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
