package thumb

import (
	"github.com/thumbq/thumbq/worker/failure"

	"bytes"
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
func checkLimits(j *job) *failure.Error {
	cfg, err := configDecoders[j.format](bytes.NewReader(j.data))
	if err != nil {
		return decodeError(j.format, "header", err)
	}
	return j.setSize(cfg.Width, cfg.Height)
}

// setSize records the stored size after checking it against the limits.
func (j *job) setSize(w, h int) *failure.Error {
	if w <= 0 || h <= 0 {
		return failure.New(failure.Corrupt, j.format, "%s is %dx%d: an image needs at least one pixel", j.format, w, h)
	}
	if n := int64(w) * int64(h); n > j.opts.MaxPixels {
		return failure.New(failure.TooManyPixels, j.format, "%s %dx%d is %s megapixels, over the %s megapixel limit",
			j.format, w, h, megapixels(n), megapixels(j.opts.MaxPixels))
	}
	j.width, j.height = w, h
	return nil
}
