package thumb

import (
	"errors"
	"image/jpeg"
	"image/png"
	"io"
	"strconv"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"

	"github.com/thumbq/thumbq/worker/failure"
	"github.com/thumbq/thumbq/worker/thumb/pngscale"
	"github.com/thumbq/thumbq/worker/thumb/tiffscale"
)

// decodeError classifies a decoder's error: a feature the decoder does not implement is
// failure.Unsupported, anything else (truncation included) is failure.Corrupt. A decoder that
// classified its refusal itself (a *failure.Error) is taken at its word.
func decodeError(format, what string, err error) *failure.Error {
	if f := failure.As(err); f != nil {
		if f.Format == "" {
			f.Format = format
		}
		return f
	}
	var (
		jpegUnsupported jpeg.UnsupportedError
		pngUnsupported  png.UnsupportedError
		tiffUnsupported tiff.UnsupportedError
	)
	switch {
	case errors.As(err, &jpegUnsupported), errors.As(err, &pngUnsupported),
		errors.As(err, new(pngscale.UnsupportedError)), errors.As(err, new(tiffscale.UnsupportedError)),
		errors.As(err, &tiffUnsupported), errors.Is(err, bmp.ErrUnsupported):
		return &failure.Error{Code: failure.Unsupported, Format: format, Err: err}
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return failure.New(failure.Corrupt, format, "%s %s is truncated: %w", format, what, err)
	}
	return failure.New(failure.Corrupt, format, "%s %s is truncated or malformed: %w", format, what, err)
}

// megapixels formats a pixel count in megapixels without rounding that would hide a difference
// from the limit (100000001 pixels is "100.000001", not "100").
func megapixels(n int64) string {
	mp := float64(n) / 1e6
	if mp >= 10 {
		return strconv.FormatFloat(mp, 'f', 0, 64) // 4295, not 4294.836225
	}
	return strconv.FormatFloat(mp, 'f', -1, 64)
}
