// Package fit says what sizes of thumbnail to make and how each fills its box: the list written
// as THUMBQ_SIZES and thumbq thumbnail -sizes ("64x64,256x256:cover,1024x1024:contain"), the
// key prefix each size is stored under, and the geometry of each mode. It knows nothing of
// pixels, so that both the configuration (and through it the CDK stack) and the image engine
// import it.
package fit

import (
	"fmt"
	"strconv"
	"strings"
)

// Mode is how an image fills its box.
type Mode string

const (
	// Contain fits the whole image inside the box, keeping its aspect ratio: one side is the
	// box's, the other at most the box's.
	Contain Mode = "contain"
	// Cover scales the image, keeping its aspect ratio, until it covers the box, and crops the
	// centre: the thumbnail is exactly the box.
	Cover Mode = "cover"
	// Fill stretches the image to exactly the box, ignoring its aspect ratio.
	Fill Mode = "fill"
	// Pad fits the image as Contain does and centres it on a transparent canvas of exactly the box.
	Pad Mode = "pad"
)

// Modes lists every mode, Contain (the default) first.
var Modes = []Mode{Contain, Cover, Fill, Pad}

// Bounds of a list. A side above MaxSide would let one configuration line ask for a thumbnail
// bigger than most photographs; MaxSizes keeps the work per upload (and its memory, which
// Estimate adds up over the sizes) bounded.
const (
	MinSide  = 1
	MaxSide  = 4096
	MaxSizes = 8
)

// DefaultSide is the side of the default box, 64x64 contain: the worker's (package config) and
// the image engine's (package thumb) default both read it here.
const DefaultSide = 64

// Box is one thumbnail to make: the box it fits, how, and whether a smaller image is enlarged.
// Without Enlarge an image is never made larger than it is: a 40x30 image gives a 40x30
// contain thumbnail in a 64x64 box, a 40x30 cover or fill one (the box's shape cropped or
// stretched, each side at most the image's), and a 64x64 pad one with the image at 40x30 in the
// middle.
type Box struct {
	Width, Height int
	Mode          Mode
	Enlarge       bool
}

// String writes the box as Parse reads it, with the mode left out when it is Contain:
// "64x64", "256x256:cover", "32x32:pad:enlarge".
func (b Box) String() string {
	s := fmt.Sprintf("%dx%d", b.Width, b.Height)
	if b.Mode != Contain && b.Mode != "" {
		s += ":" + string(b.Mode)
	}
	if b.Enlarge {
		s += ":enlarge"
	}
	return s
}

// Prefix is the folder the box's thumbnails are stored under, without the slash: "64x64" for
// contain, "256x256-cover", "32x32-pad-enlarge". Two boxes of one list never share it.
func (b Box) Prefix() string {
	return strings.ReplaceAll(b.String(), ":", "-")
}

// Parse reads a comma-separated list of boxes, each WxH with an optional ":mode" (contain,
// cover, fill, pad; contain when left out) and an optional ":enlarge". Spaces around the items
// are ignored. It refuses an empty list, more than MaxSizes boxes, a side outside MinSide..MaxSide
// and two boxes with the same Prefix, with an error that quotes the item at fault.
func Parse(s string) ([]Box, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("no size: want a list such as 64x64,256x256:cover")
	}
	var boxes []Box
	for item := range strings.SplitSeq(s, ",") {
		b, err := parseBox(strings.TrimSpace(item))
		if err != nil {
			return nil, err
		}
		boxes = append(boxes, b)
	}
	if err := Check(boxes); err != nil {
		return nil, err
	}
	return boxes, nil
}

// MustParse is Parse for lists written in the code; it panics on an error.
func MustParse(s string) []Box {
	b, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return b
}

func parseBox(item string) (Box, error) {
	parts := strings.Split(item, ":")
	w, h, ok := strings.Cut(parts[0], "x")
	b := Box{Mode: Contain}
	var errW, errH error
	b.Width, errW = strconv.Atoi(w)
	b.Height, errH = strconv.Atoi(h)
	if !ok || errW != nil || errH != nil {
		return Box{}, fmt.Errorf("%q: want WIDTHxHEIGHT[:MODE][:enlarge], such as 256x256:cover", item)
	}
	modeSet := false
	for _, p := range parts[1:] {
		switch {
		case p == "enlarge" && !b.Enlarge:
			b.Enlarge = true
		case isMode(p) && !modeSet && !b.Enlarge:
			b.Mode, modeSet = Mode(p), true
		default:
			return Box{}, fmt.Errorf("%q: %q is not a mode (contain, cover, fill, pad) followed by an optional enlarge", item, p)
		}
	}
	return b, nil
}

func isMode(s string) bool {
	for _, m := range Modes {
		if string(m) == s {
			return true
		}
	}
	return false
}

// Check refuses a list Parse would refuse: empty, over MaxSizes, a side out of bounds, an
// unknown mode, two boxes with the same Prefix.
func Check(boxes []Box) error {
	if len(boxes) == 0 {
		return fmt.Errorf("no size: want a list such as 64x64,256x256:cover")
	}
	if len(boxes) > MaxSizes {
		return fmt.Errorf("%d sizes: want at most %d", len(boxes), MaxSizes)
	}
	seen := map[string]bool{}
	for _, b := range boxes {
		if b.Width < MinSide || b.Width > MaxSide || b.Height < MinSide || b.Height > MaxSide {
			return fmt.Errorf("%q: each side must be from %d to %d", b.String(), MinSide, MaxSide)
		}
		if !isMode(string(b.Mode)) {
			return fmt.Errorf("%q: mode %q is not one of contain, cover, fill, pad", b.String(), b.Mode)
		}
		if seen[b.Prefix()] {
			return fmt.Errorf("%q is listed twice", b.String())
		}
		seen[b.Prefix()] = true
	}
	return nil
}

// Format writes a list as Parse reads it.
func Format(boxes []Box) string {
	s := make([]string, len(boxes))
	for i, b := range boxes {
		s[i] = b.String()
	}
	return strings.Join(s, ",")
}

// Plan is how one image becomes one box's thumbnail, all in displayed (upright) pixels: scale the
// whole image to ScaleW x ScaleH, cut Crop out of it, and place that at Offset on a transparent
// canvas of CanvasW x CanvasH (the crop's own size unless the mode pads).
type Plan struct {
	ScaleW, ScaleH   int
	Crop             Rect
	CanvasW, CanvasH int
	OffsetX, OffsetY int
}

// Rect is a rectangle of pixels, Min inclusive, Max exclusive.
type Rect struct{ MinX, MinY, MaxX, MaxY int }

// Dx and Dy are its width and height.
func (r Rect) Dx() int { return r.MaxX - r.MinX }
func (r Rect) Dy() int { return r.MaxY - r.MinY }

// Plan works out the geometry of the box's thumbnail of a w x h image (as displayed). Sizes are
// rounded to whole pixels and are at least 1.
func (b Box) Plan(w, h int) Plan {
	var p Plan
	switch b.Mode {
	case Cover:
		p.ScaleW, p.ScaleH = cover(w, h, b.Width, b.Height)
		if !b.Enlarge && (p.ScaleW > w || p.ScaleH > h) {
			p.ScaleW, p.ScaleH = w, h
		}
		cw, ch := min(b.Width, p.ScaleW), min(b.Height, p.ScaleH)
		x, y := (p.ScaleW-cw)/2, (p.ScaleH-ch)/2
		p.Crop = Rect{x, y, x + cw, y + ch}
	case Fill:
		p.ScaleW, p.ScaleH = b.Width, b.Height
		if !b.Enlarge {
			p.ScaleW, p.ScaleH = min(w, b.Width), min(h, b.Height)
		}
		p.Crop = Rect{0, 0, p.ScaleW, p.ScaleH}
	default: // Contain, Pad
		p.ScaleW, p.ScaleH = contain(w, h, b.Width, b.Height, b.Enlarge)
		p.Crop = Rect{0, 0, p.ScaleW, p.ScaleH}
	}
	p.CanvasW, p.CanvasH = p.Crop.Dx(), p.Crop.Dy()
	if b.Mode == Pad {
		p.CanvasW, p.CanvasH = b.Width, b.Height
		p.OffsetX, p.OffsetY = (b.Width-p.ScaleW)/2, (b.Height-p.ScaleH)/2
	}
	return p
}

// contain returns the largest size with the aspect ratio of w x h (rounded to whole pixels, at
// least one) that fits in boxW x boxH, or w x h itself when it fits already and enlarge is false.
func contain(w, h, boxW, boxH int, enlarge bool) (int, int) {
	if w <= boxW && h <= boxH && !enlarge {
		return w, h
	}
	W, H, bw, bh := int64(w), int64(h), int64(boxW), int64(boxH)
	if W*bh >= H*bw { // relatively wider than the box: the width is the limit
		return boxW, int(max(1, (2*H*bw+W)/(2*W)))
	}
	return int(max(1, (2*W*bh+H)/(2*H))), boxH
}

// cover returns the smallest size with the aspect ratio of w x h (rounded, never below the box)
// that covers boxW x boxH.
func cover(w, h, boxW, boxH int) (int, int) {
	W, H, bw, bh := int64(w), int64(h), int64(boxW), int64(boxH)
	if W*bh >= H*bw { // relatively wider than the box: the height is the limit
		return int(max(bw, (2*W*bh+H)/(2*H))), boxH
	}
	return boxW, int(max(bh, (2*H*bw+W)/(2*W)))
}
