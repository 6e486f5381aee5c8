package thumb

import (
	"context"
	"errors"

	"github.com/thumbq/thumbq/worker/failure"
)

// errFullDecode asks decode to use the format's full-size decode instead of the reduced one.
var errFullDecode = errors.New("full-size decode needed")

// decode decodes the pixels: reduced while decoding where the format has a reduced decode and the
// thumbnail is at least 2 times smaller than the source, at full size otherwise; a format whose
// only decode is decodeReduced (HEIF: see format_heif.go) is decoded by it at every shrink. The full-size
// decoder's own idea of the size is checked against the limits again, in case the header read by
// checkLimits disagreed with it. The reduced decoders stop between rows or blocks once ctx is
// done; the full-size ones (image/jpeg, image/gif, x/image/tiff...) cannot be stopped, and ctx is checked after them.
func decode(ctx context.Context, j *job) *failure.Error {
	f := j.format
	if shrink := j.shrink(); f.decodeReduced != nil && (shrink > 1 || f.decode == nil) {
		img, err := f.decodeReduced(ctx, j.data, j.width, j.height, shrink)
		if err == nil {
			j.img = img
			return nil
		}
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return stopped(ctx, j)
		}
		if !errors.Is(err, errFullDecode) || f.decode == nil {
			return decodeError(f.name, "image", err)
		}
	}
	img, err := f.decode(j.data)
	if ctx.Err() != nil {
		return stopped(ctx, j)
	}
	if err != nil {
		return decodeError(f.name, "image", err)
	}
	b := img.Bounds()
	if e := j.setSize(b.Dx(), b.Dy()); e != nil {
		return e
	}
	j.img = img
	return nil
}
