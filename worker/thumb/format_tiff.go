package thumb

import (
	"context"
	"errors"
	"fmt"
	"image"

	"golang.org/x/image/tiff"

	"github.com/thumbq/thumbq/worker/failure"
	"github.com/thumbq/thumbq/worker/thumb/tiffscale"
)

// TIFF: the first image of the file, reduced while decoding by package tiffscale, strip by strip
// or tile by tile. What tiffscale does not read (CCITT fax compressions, planar samples...) is
// decoded whole by golang.org/x/image/tiff, which holds the whole image and strip: only up to
// tiffWholeDecodeMax bytes of that, refused above. BigTIFF, which neither reads, is recognised and
// refused.
var tiffFormat = format{
	name:          "tiff",
	match:         signatures("II*\x00", "MM\x00*"),
	config:        tiff.DecodeConfig,
	decode:        fromReader(tiff.Decode),
	decodeReduced: decodeTIFFReduced,
	exif:          func(data []byte) []byte { return data }, // a TIFF's first IFD holds its own tags
	memory:        tiffMemory,
}

var bigTIFFFormat = format{name: "bigtiff", match: signatures("II+\x00", "MM\x00+")}

// tiffWholeDecodeMax bounds the memory of a TIFF that x/image/tiff decodes whole (see
// tiffWholeMemory): 96 MB, so that such a file stays within the 100 MB every accepted upload is
// promised.
const tiffWholeDecodeMax = 96 << 20

func decodeTIFFReduced(ctx context.Context, data []byte, w, h, shrink int) (image.Image, error) {
	img, err := tiffscale.Decode(ctx, data, shrink)
	var unsupported tiffscale.UnsupportedError
	if errors.As(err, &unsupported) {
		if n := tiffWholeMemory(w, h); n > tiffWholeDecodeMax {
			return nil, failure.New(failure.Unsupported, "tiff",
				"tiff %dx%d (%s) is read only whole, which would take %d MB, over the %d MB allowed: thumbq streams uncompressed, LZW, deflate and PackBits TIFFs of 1, 8 or 16-bit chunky samples",
				w, h, unsupported, n>>20, tiffWholeDecodeMax>>20)
		}
		return nil, fmt.Errorf("%w: %w", errFullDecode, err)
	}
	if err != nil {
		return nil, err
	}
	return img, nil
}

// tiffWholeMemory: x/image/tiff's image, at most 8 bytes a pixel (16-bit RGBA), and the
// uncompressed data of the strips or tiles it reads whole before converting, at most as much again.
func tiffWholeMemory(w, h int) int64 { return fullImage(w, h, 8+8) }

// tiffMemory is tiffscale's Memory where it reads the file (see tiffscale.Header.Memory), the
// whole decode's where it does not and that is allowed, and nothing much where the file will be
// refused.
func tiffMemory(data []byte, w, h, shrink int) int64 {
	if shrink >= 2 {
		hd, err := tiffscale.Read(data)
		if err == nil {
			return hd.Memory(shrink)
		}
		if n := tiffWholeMemory(w, h); n > tiffWholeDecodeMax {
			return 64 << 10
		}
	}
	return tiffWholeMemory(w, h)
}
