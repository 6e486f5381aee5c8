package thumb

import (
	"image"

	"github.com/thumbq/thumbq/worker/failure"
)

// orient turns the (already resized) thumbnails upright according to the EXIF orientation.
//
// The tag says where the stored rows and columns belong on screen: 1 as stored, 2 mirrored
// left-right, 3 turned 180°, 4 mirrored top-bottom, 5 transposed (mirrored along the top-left to
// bottom-right diagonal), 6 turned 90° clockwise, 7 transversed (mirrored along the other
// diagonal), 8 turned 90° counter-clockwise.
func orient(j *job) *failure.Error {
	if j.orientation != 1 {
		for i, m := range j.thumbs {
			j.thumbs[i] = transform(m, j.orientation)
		}
	}
	return nil
}

// transform returns src as displayed under orientation o, by looking up for every displayed pixel
// (dx, dy) the stored pixel it comes from.
func transform(src *image.RGBA, o int) *image.RGBA {
	w, h := src.Rect.Dx(), src.Rect.Dy()
	dw, dh := w, h
	if o >= 5 {
		dw, dh = h, w
	}
	from := map[int]func(dx, dy int) (int, int){
		2: func(dx, dy int) (int, int) { return w - 1 - dx, dy },
		3: func(dx, dy int) (int, int) { return w - 1 - dx, h - 1 - dy },
		4: func(dx, dy int) (int, int) { return dx, h - 1 - dy },
		5: func(dx, dy int) (int, int) { return dy, dx },
		6: func(dx, dy int) (int, int) { return dy, h - 1 - dx },
		7: func(dx, dy int) (int, int) { return w - 1 - dy, h - 1 - dx },
		8: func(dx, dy int) (int, int) { return w - 1 - dy, dx },
	}[o]
	if from == nil {
		return src
	}
	dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
	for dy := range dh {
		for dx := range dw {
			sx, sy := from(dx, dy)
			copy(dst.Pix[dst.PixOffset(dx, dy):][:4], src.Pix[src.PixOffset(src.Rect.Min.X+sx, src.Rect.Min.Y+sy):][:4])
		}
	}
	return dst
}
