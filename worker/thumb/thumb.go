package thumb

import (
	"context"
	"errors"
	"fmt"
	"image"

	"github.com/thumbq/thumbq/worker/failure"
	"github.com/thumbq/thumbq/worker/fit"
)

// Options sets the thumbnails to make and the largest source accepted.
type Options struct {
	// Sizes are the thumbnails to make, each a box and a fit mode (see package fit); empty means
	// one contain box of Width x Height.
	Sizes         []fit.Box
	Width, Height int   // the box when Sizes is empty; 0 (or less) means 64
	MaxPixels     int64 // refuse sources with width*height above this; 0 (or less) means 100_000_000
}

// Defaults used for the zero Options.
const (
	DefaultSize      = fit.DefaultSide
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

// Boxes are the thumbnails the Options ask for: Sizes, or the one contain box of Width x Height.
func (o Options) Boxes() []fit.Box {
	if len(o.Sizes) > 0 {
		return o.Sizes
	}
	o = o.withDefaults()
	return []fit.Box{{Width: o.Width, Height: o.Height, Mode: fit.Contain}}
}

// Result is the thumbnails of one image and what was learnt about its source on the way.
type Result struct {
	Thumbnails                []Thumbnail // one per box of Options.Boxes, in that order
	PNG                       []byte      // the first thumbnail's (Thumbnails[0])
	Width, Height             int         // the first thumbnail's size
	SourceWidth, SourceHeight int         // source size as displayed (after orientation)
	Format                    string      // sniffed source format: "jpeg", "png", "gif", "webp", "bmp", "tiff"
	Orientation               int         // EXIF orientation applied (1..8), 1 when none
}

// Thumbnail is one box's thumbnail.
type Thumbnail struct {
	Box           fit.Box
	PNG           []byte
	Width, Height int
}

// job carries one image through the steps.
type job struct {
	data []byte
	opts Options

	boxes []fit.Box // opts.Boxes()

	format        *format       // set by sniff
	width, height int           // stored size, set by checkLimits (then by decode, if the decoder disagrees)
	orientation   int           // set by readOrientation
	img           image.Image   // set by decode, dropped by resize
	thumbs        []*image.RGBA // one per box: set by resize, replaced by orient and place
	pngs          [][]byte      // one per box: set by encode
}

// A step does one thing to a job. The name shows in the error if a step panics. A step that
// takes long on a large image checks ctx as it goes (decode does, between rows or blocks); run
// checks it between steps.
type step struct {
	name string
	run  func(context.Context, *job) *failure.Error
}

// quick adapts a step that takes no time worth interrupting (it reads a header, or works on the
// thumbnail-sized image).
func quick(run func(*job) *failure.Error) func(context.Context, *job) *failure.Error {
	return func(_ context.Context, j *job) *failure.Error { return run(j) }
}

// headerSteps learn what an image is and what decoding it will take, from its header alone;
// Estimate runs them too.
var headerSteps = []step{
	{"sniff", quick(sniff)},
	{"check limits", quick(checkLimits)},
	{"read orientation", quick(readOrientation)},
}

// pixelSteps make the thumbnails. The image is decoded once, reduced as far as the largest box
// allows, and every box's thumbnail is made from it. Orientation is read before decoding, so that
// resize can fit the displayed shape into each box, and applied after resizing, where it moves
// 64x48 pixels rather than twelve million; the cover crop and the pad canvas come last, in
// displayed pixels.
var pixelSteps = []step{
	{"decode", decode},
	{"resize", quick(resize)},
	{"orient", quick(orient)},
	{"place", quick(place)},
	{"encode", quick(encode)},
}

// Make turns the bytes of an image file into PNG thumbnails, one for each of the Options' boxes,
// each filling its box as the box's mode says (see package fit), keeping transparency, upright
// according to the EXIF orientation, and never larger than the source unless the box says
// enlarge. Every error it returns is about the input (the caller treats it as permanent, never
// retried) and is a *failure.Error. It does not panic: a decoder panic on hostile input is
// returned as failure.Corrupt. Make is safe for concurrent use.
//
// Make stops soon after ctx is done: the reduced decoders (JPEG, PNG, TIFF) check it between rows
// or blocks, and Make checks it between steps. It then returns an error wrapping ctx.Err() that
// is no *failure.Error, so the caller can tell a deadline or a stop (transient, or its own
// failure.TooSlow) from a fault of the input.
func Make(ctx context.Context, data []byte, opts Options) (Result, error) {
	j := newJob(data, opts)
	if err := j.run(ctx, headerSteps, pixelSteps); err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return Result{}, fmt.Errorf("%s image stopped: %w", j.formatName(), ctx.Err())
		}
		return Result{}, err
	}
	sw, sh := j.displayed()
	res := Result{
		SourceWidth:  sw,
		SourceHeight: sh,
		Format:       j.format.name,
		Orientation:  j.orientation,
	}
	for i, b := range j.boxes {
		r := j.thumbs[i].Rect
		res.Thumbnails = append(res.Thumbnails, Thumbnail{Box: b, PNG: j.pngs[i], Width: r.Dx(), Height: r.Dy()})
	}
	first := res.Thumbnails[0]
	res.PNG, res.Width, res.Height = first.PNG, first.Width, first.Height
	return res, nil
}

func newJob(data []byte, opts Options) *job {
	return &job{data: data, opts: opts.withDefaults(), boxes: opts.Boxes(), orientation: 1}
}

// run runs the lists of steps in order, stopping at the first error. A panic in a step is
// returned as failure.Corrupt.
func (j *job) run(ctx context.Context, lists ...[]step) (err *failure.Error) {
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
			if ctx.Err() != nil {
				return stopped(ctx, j)
			}
			if err := s.run(ctx, j); err != nil {
				return err
			}
		}
	}
	return nil
}

// stopped is what a step returns when ctx is done: a *failure.Error only to travel through run,
// which Make turns back into ctx's error (see errStopped).
func stopped(ctx context.Context, j *job) *failure.Error {
	return &failure.Error{Format: j.formatName(), Err: fmt.Errorf("%w: %w", errStopped, ctx.Err())}
}

// errStopped marks the error of a job stopped by its context.
var errStopped = errors.New("stopped")

// formatName is the sniffed format's name, "" before sniff or when there is none.
func (j *job) formatName() string {
	if j.format == nil {
		return ""
	}
	return j.format.name
}
