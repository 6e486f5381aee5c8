package thumb

import (
	"errors"
	"fmt"
	"image"

	"github.com/thumbq/thumbq/worker/thumb/pngscale"
)

// A PNG is decoded row by row and reduced as it goes (package pngscale), so a 12 megapixel PNG
// needs a few rows and the small image rather than 48 MB of pixels. An interlaced PNG, which
// pngscale does not reduce, falls back to image/png.
func init() {
	scaledDecoders["png"] = decodePNGScaled
}

func decodePNGScaled(data []byte, shrink int) (image.Image, error) {
	img, err := pngscale.Decode(data, shrink)
	if errors.Is(err, pngscale.ErrUnsupported) {
		return nil, fmt.Errorf("%w: %w", errFullDecode, err)
	}
	if err != nil {
		return nil, err
	}
	return img, nil
}
