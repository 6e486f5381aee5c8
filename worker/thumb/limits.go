package thumb

import (
	"bytes"

	"github.com/thumbq/thumbq/worker/failure"
)

// checkLimits reads the dimensions from the header and refuses an image with no pixels or with
// more than MaxPixels, before a decoder allocates anything for it: a 30000x30000 PNG bomb of a few
// hundred kilobytes is refused after reading a few dozen bytes.
func checkLimits(j *job) *failure.Error {
	cfg, err := j.format.config(bytes.NewReader(j.data))
	if err != nil {
		return decodeError(j.format.name, "header", err)
	}
	if e := j.setSize(cfg.Width, cfg.Height); e != nil {
		return e
	}
	if j.format.maxPixels == nil {
		return nil
	}
	limit, what := j.format.maxPixels(j.data)
	if n := int64(j.width) * int64(j.height); limit > 0 && n > limit && n <= j.opts.MaxPixels {
		return failure.New(failure.TooManyPixels, j.format.name, "%s %dx%d is %s megapixels, over the %s megapixel limit of %s (decoded whole, it would take more memory than a thumbnail may)",
			j.format.name, j.width, j.height, megapixels(n), megapixels(limit), what)
	}
	return nil
}

// setSize records the stored size after checking it against the limits.
func (j *job) setSize(w, h int) *failure.Error {
	name := j.format.name
	if w <= 0 || h <= 0 {
		return failure.New(failure.Corrupt, name, "%s is %dx%d: an image needs at least one pixel", name, w, h)
	}
	if n := int64(w) * int64(h); n > j.opts.MaxPixels {
		return failure.New(failure.TooManyPixels, name, "%s %dx%d is %s megapixels, over the %s megapixel limit",
			name, w, h, megapixels(n), megapixels(j.opts.MaxPixels))
	}
	j.width, j.height = w, h
	return nil
}
