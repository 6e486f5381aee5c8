package thumb

import "context"

// Header is what the header of an image tells before its pixels are decoded.
type Header struct {
	Format        string // as Sniff names it
	Width, Height int    // stored size (before orientation)
	Orientation   int    // EXIF orientation (1..8), 1 when none
}

// encoderMemory bounds the PNG encoder's compressor state (see encode.go): compress/flate's, under
// a megabyte at any level.
const encoderMemory = 1 << 20

// Estimate reads the header of data as Make does before it decodes (sniff, check limits, read
// orientation: a few dozen bytes to a few kilobytes) and estimates the memory Make will use to
// make the thumbnail for opts, so that a caller can wait for memory, or refuse, before decoding.
//
// bytes is an upper bound, in bytes, of the working memory Make allocates at its peak: what the
// decoder allocates for this format, size and reduction (the full-size image, or the reduced
// image and the decoder's buffers; each format's memory function says what it counts), plus the
// box pre-shrunk image and the thumbnail's copies that resize, orient and encode make, plus the PNG
// encoder's state. It does not count data itself, which the caller holds, nor what the Go
// runtime keeps before collecting garbage. The figures are worked out from what each decoder
// allocates, not measured: they are meant to be conservative, and are in proportion to the
// pixels decoded (a 12 megapixel JPEG reduced by 8 costs about a sixtieth of its full decode).
//
// The error is the one Make would return for the same header (a *failure.Error): not an image,
// an unsupported format, too many pixels, a corrupt header.
func Estimate(data []byte, opts Options) (h Header, bytes int64, err error) {
	j := newJob(data, opts)
	if e := j.run(context.Background(), headerSteps); e != nil {
		return Header{Format: j.formatName()}, 0, e
	}
	h = Header{Format: j.format.name, Width: j.width, Height: j.height, Orientation: j.orientation}
	shrink := j.shrink()
	if j.format.decodeReduced == nil {
		shrink = 1
	}
	return h, j.format.memory(data, j.width, j.height, shrink) + j.thumbnailMemory(), nil
}

// thumbnailMemory bounds what resize, orient, place and encode allocate, summed over the boxes
// (their thumbnails are all held until Make returns): for each, the box pre-shrunk image (4
// bytes a pixel; the pre-shrink leaves each side 2 to 4 times the thumbnail's, and never larger
// than the decoded image) and the sums of one of its rows; Catmull-Rom's intermediate image
// (x/image/draw keeps 4 float64 for each pixel of the target's width by the source's height) and
// its weights (a generous 32 taps of 16 bytes for each target column and row); three
// thumbnail-sized images (the resampled, the turned and the unpremultiplied one) and the cropped
// or padded canvas; and once, the PNG encoder's state, which its pool does not keep across a
// garbage collection.
func (j *job) thumbnailMemory() int64 {
	n := int64(encoderMemory)
	for i := range j.boxes {
		tw, th := j.target(i)
		p := j.plan(i)
		w, h := int64(tw), int64(th)
		ow, oh := int64(min(j.width, 4*tw+1)), int64(min(j.height, 4*th+1))
		n += 4*ow*oh + 32*ow + 32*w*oh + 32*16*(w+h) + 3*4*w*h + 4*int64(p.CanvasW)*int64(p.CanvasH)
	}
	return n
}
