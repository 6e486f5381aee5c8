package thumb

import (
	"context"
	"encoding/binary"
	"image"
	"image/png"

	"github.com/thumbq/thumbq/worker/thumb/pngscale"
)

// PNG: reduced while decoding by package pngscale, which reads every PNG image/png reads,
// interlaced ones too, so it never asks for the full-size decode; image/png decodes the PNGs
// that need no reduction.
var pngFormat = format{
	name:          "png",
	match:         signatures("\x89PNG\r\n\x1a\n"),
	config:        png.DecodeConfig,
	decode:        fromReader(png.Decode),
	decodeReduced: decodePNGReduced,
	exif:          pngExif,
	memory:        pngMemory,
}

// decodePNGReduced decodes a PNG row by row, reduced as it goes, so a 12 megapixel PNG needs a few
// rows and the small image rather than 48 MB of pixels. Its errors are the file's: truncation
// wraps io.ErrUnexpectedEOF, a feature image/png does not decode either is a
// pngscale.UnsupportedError, the rest a pngscale.FormatError.
func decodePNGReduced(ctx context.Context, data []byte, _, _, shrink int) (image.Image, error) {
	img, err := pngscale.DecodeContext(ctx, data, shrink)
	if err != nil {
		return nil, err
	}
	return img, nil
}

// pngExif returns the payload of a PNG eXIf chunk, which must come before the image data.
func pngExif(data []byte) []byte {
	for i := 8; i+12 <= len(data); {
		n := int(binary.BigEndian.Uint32(data[i:]))
		id := string(data[i+4 : i+8])
		if n < 0 || n > len(data)-i-12 || id == "IDAT" {
			return nil
		}
		if id == "eXIf" {
			return trimExifHeader(data[i+8 : i+8+n])
		}
		i += 12 + n
	}
	return nil
}

// pngMemory estimates the peak memory of a PNG decode. Reduced (shrink >= 2), pngscale keeps two
// rows of the source (at most 8 bytes a pixel), the output (4 bytes a pixel), the sums of every
// output pixel (32 bytes each, what an interlaced image needs; one row of them otherwise) and
// its 256 KB inflate window. At full size, image/png allocates the image (8 bytes a pixel at 16
// bits a sample, 4 otherwise), two rows of the source and compress/flate's state (under 64 KB).
func pngMemory(data []byte, w, h, shrink int) int64 {
	rows := 2 * (1 + 8*int64(w))
	if shrink >= 2 {
		ow, oh := int64(max(1, w/shrink)), int64(max(1, h/shrink))
		return rows + 4*ow*oh + 32*ow*oh + 256<<10
	}
	bpp := int64(4)
	if len(data) > 24 && data[24] == 16 { // IHDR's bit depth
		bpp = 8
	}
	return fullImage(w, h, bpp) + rows + 64<<10
}
