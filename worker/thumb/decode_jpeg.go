package thumb

import (
	"errors"
	"fmt"
	"image"

	"github.com/thumbq/thumbq/worker/thumb/jpegscale"
)

// decodeJPEGScaled decodes a JPEG reduced by the largest of 1/8, 1/4 and 1/2 that shrink allows,
// in the DCT domain (see package jpegscale). Like libvips it never reduces by more than shrink,
// which leaves at least a factor 2 for the final filter. A file jpegscale does not handle
// (CMYK, arithmetic coding, 12-bit...) goes to image/jpeg through errFullDecode.
func decodeJPEGScaled(data []byte, shrink int) (image.Image, error) {
	scale := 8
	for scale > shrink {
		scale /= 2
	}
	if scale < 2 {
		return nil, errFullDecode
	}
	img, err := jpegscale.Decode(data, scale)
	if errors.Is(err, jpegscale.ErrUnsupported) {
		return nil, fmt.Errorf("%w: %w", errFullDecode, err)
	}
	return img, err
}
