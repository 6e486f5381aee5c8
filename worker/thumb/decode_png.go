package thumb

import (
	"image"

	"github.com/thumbq/thumbq/worker/thumb/pngscale"
)

// A PNG is decoded row by row and reduced as it goes (package pngscale), so a 12 megapixel PNG
// needs a few rows and the small image rather than 48 MB of pixels. pngscale reads every PNG
// image/png reads, interlaced ones too, so it never asks for the full-size decode; its errors
// are the file's (truncation wraps io.ErrUnexpectedEOF, which decodeError reports as such).
func decodePNGScaled(data []byte, _, _, shrink int) (image.Image, error) {
	img, err := pngscale.Decode(data, shrink)
	if err != nil {
		return nil, err
	}
	return img, nil
}
