package thumb

import (
	"bytes"
	"errors"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
	"golang.org/x/image/webp"
)

// configDecoders read an image's dimensions from its header without decoding its pixels.
var configDecoders = map[string]func(io.Reader) (image.Config, error){
	"jpeg": jpeg.DecodeConfig,
	"png":  png.DecodeConfig,
	"gif":  gif.DecodeConfig,
	"webp": webp.DecodeConfig,
	"bmp":  bmp.DecodeConfig,
	"tiff": tiff.DecodeConfig,
}

// checkLimits reads the dimensions from the header and refuses an image with no pixels or with
// more than MaxPixels, before a decoder allocates anything for it: a 30000x30000 PNG bomb of a few
// hundred kilobytes is refused after reading a few dozen bytes.
func checkLimits(j *job) *Error {
	cfg, err := configDecoders[j.format](bytes.NewReader(j.data))
	if err != nil {
		return decodeError(j.format, "header", err)
	}
	return j.setSize(cfg.Width, cfg.Height)
}

// setSize records the stored size after checking it against the limits.
func (j *job) setSize(w, h int) *Error {
	if w <= 0 || h <= 0 {
		return fail(Corrupt, j.format, "%s is %dx%d: an image needs at least one pixel", j.format, w, h)
	}
	if n := int64(w) * int64(h); n > j.opts.MaxPixels {
		return fail(TooLarge, j.format, "%s %dx%d is %s megapixels, over the %s megapixel limit",
			j.format, w, h, megapixels(n), megapixels(j.opts.MaxPixels))
	}
	j.width, j.height = w, h
	return nil
}

// decodeError classifies a decoder's error: a feature the decoder does not implement is
// Unsupported, anything else (truncation included) is Corrupt.
func decodeError(format, what string, err error) *Error {
	var (
		jpegUnsupported jpeg.UnsupportedError
		pngUnsupported  png.UnsupportedError
		tiffUnsupported tiff.UnsupportedError
	)
	switch {
	case errors.As(err, &jpegUnsupported), errors.As(err, &pngUnsupported),
		errors.As(err, &tiffUnsupported), errors.Is(err, bmp.ErrUnsupported):
		return &Error{Reason: Unsupported, Format: format, Err: err}
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return fail(Corrupt, format, "%s %s is truncated: %w", format, what, err)
	}
	return fail(Corrupt, format, "%s %s is truncated or malformed: %w", format, what, err)
}
