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
func decodeJPEGScaled(data []byte, w, h, shrink int) (image.Image, error) {
	s := jpegShrink(shrink)
	if s < 2 {
		return nil, errFullDecode
	}
	img, err := jpegscale.Decode(data, s)
	if errors.As(err, new(jpegscale.UnsupportedError)) {
		return nil, fmt.Errorf("%w: %w", errFullDecode, err)
	}
	if err != nil {
		return nil, err
	}
	return trimPartialEdges(img, w, h, s), nil
}

// jpegShrink is the largest of jpegscale's factors 8, 4 and 2 that is at most shrink, or 1.
func jpegShrink(shrink int) int {
	s := 8
	for s > 1 && s > shrink {
		s /= 2
	}
	return s
}

// trimPartialEdges drops the last column or row of an image reduced by 1/f from a w x h source
// when it stands for less than half of f source pixels: a 675 pixel high JPEG decoded at 1/8 is 85 rows high, of which the last holds 3 source rows, and resampling it as a
// whole row would stretch the picture by 5/8 of a row, which shows against libvips (its
// thumbnails of such files follow the true 84.375 rows). Rounding to the nearest whole row leaves
// at most half a row of error.
func trimPartialEdges(img image.Image, w, h, f int) image.Image {
	b := img.Bounds()
	if f <= 1 || (w+f-1)/f != b.Dx() || (h+f-1)/f != b.Dy() {
		return img // not reduced, or not to jpegscale's ceil(w/f) x ceil(h/f)
	}
	tw, th := max(1, (w+f/2)/f), max(1, (h+f/2)/f)
	sub, ok := img.(interface {
		SubImage(image.Rectangle) image.Image
	})
	if !ok || tw == b.Dx() && th == b.Dy() {
		return img
	}
	return sub.SubImage(image.Rect(b.Min.X, b.Min.Y, b.Min.X+tw, b.Min.Y+th))
}
