package thumb

import (
	"image"

	"github.com/thumbq/thumbq/worker/failure"
)

// Options sets the box a thumbnail must fit in and the largest source accepted.
type Options struct {
	Width, Height int   // box to fit in; 0 (or less) means 64
	MaxPixels     int64 // refuse sources with width*height above this; 0 (or less) means 100_000_000
}

// Defaults used for the zero Options.
const (
	DefaultSize      = 64
	DefaultMaxPixels = 100_000_000
)

func (o Options) withDefaults() Options {
	if o.Width <= 0 {
		o.Width = DefaultSize
	}
	if o.Height <= 0 {
		o.Height = DefaultSize
	}
	if o.MaxPixels <= 0 {
		o.MaxPixels = DefaultMaxPixels
	}
	return o
}

// Result is a thumbnail and what was learnt about its source on the way.
type Result struct {
	PNG                       []byte
	Width, Height             int    // thumbnail size
	SourceWidth, SourceHeight int    // source size as displayed (after orientation)
	Format                    string // sniffed source format: "jpeg", "png", "gif", "webp", "bmp", "tiff"
	Orientation               int    // EXIF orientation applied (1..8), 1 when none
}

// job carries one image through the steps.
type job struct {
	data []byte
	opts Options

	format        *format     // set by sniff
	width, height int         // stored size, set by checkLimits (then by decode, if the decoder disagrees)
	orientation   int         // set by readOrientation
	img           image.Image // set by decode, replaced by resize and orient
	png           []byte      // set by encode
}

// A step does one thing to a job. The name shows in the error if a step panics.
type step struct {
	name string
	run  func(*job) *failure.Error
}

// headerSteps learn what an image is and what decoding it will take, from its header alone;
// Estimate runs them too.
var headerSteps = []step{
	{"sniff", sniff},
	{"check limits", checkLimits},
	{"read orientation", readOrientation},
}

// pixelSteps make the thumbnail. Orientation is read before decoding, so that resize can fit the
// displayed shape into the box, and applied after resizing, where it moves 64x48 pixels rather
// than twelve million.
var pixelSteps = []step{
	{"decode", decode},
	{"resize", resize},
	{"orient", orient},
	{"encode", encode},
}

// Make turns the bytes of an image file into a PNG thumbnail that fits in the Options' box,
// keeping the aspect ratio and transparency, upright according to the EXIF orientation, and
// never larger than the source. Every error it returns is about the input (the caller treats it as
// permanent, never retried) and is a *failure.Error. It does not panic: a decoder panic on hostile
// input is returned as failure.Corrupt. Make is safe for concurrent use.
func Make(data []byte, opts Options) (Result, error) {
	j := newJob(data, opts)
	if err := j.run(headerSteps, pixelSteps); err != nil {
		return Result{}, err
	}
	b := j.img.Bounds()
	sw, sh := j.width, j.height
	if j.orientation >= 5 {
		sw, sh = sh, sw
	}
	return Result{
		PNG:          j.png,
		Width:        b.Dx(),
		Height:       b.Dy(),
		SourceWidth:  sw,
		SourceHeight: sh,
		Format:       j.format.name,
		Orientation:  j.orientation,
	}, nil
}

func newJob(data []byte, opts Options) *job {
	return &job{data: data, opts: opts.withDefaults(), orientation: 1}
}

// run runs the lists of steps in order, stopping at the first error. A panic in a step is
// returned as failure.Corrupt.
func (j *job) run(lists ...[]step) (err *failure.Error) {
	current := ""
	defer func() {
		if r := recover(); r != nil {
			what := j.formatName() + " " + current + " step"
			if current == "decode" {
				what = j.formatName() + " decoder"
			}
			err = failure.New(failure.Corrupt, j.formatName(), "%s panicked: %v", what, r)
		}
	}()
	for _, steps := range lists {
		for _, s := range steps {
			current = s.name
			if err := s.run(j); err != nil {
				return err
			}
		}
	}
	return nil
}

// formatName is the sniffed format's name, "" before sniff or when there is none.
func (j *job) formatName() string {
	if j.format == nil {
		return ""
	}
	return j.format.name
}
