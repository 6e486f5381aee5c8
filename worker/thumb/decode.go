package thumb

import (
	"errors"

	"github.com/thumbq/thumbq/worker/failure"
)

// errFullDecode asks decode to use the format's full-size decode instead of the reduced one.
var errFullDecode = errors.New("full-size decode needed")

// decode decodes the pixels: reduced while decoding where the format has a reduced decode and the
// thumbnail is at least 2 times smaller than the source, at full size otherwise. The full-size
// decoder's own idea of the size is checked against the limits again, in case the header read by
// checkLimits disagreed with it.
func decode(j *job) *failure.Error {
	f := j.format
	if shrink := j.shrink(); f.decodeReduced != nil && shrink > 1 {
		img, err := f.decodeReduced(j.data, j.width, j.height, shrink)
		if err == nil {
			j.img = img
			return nil
		}
		if !errors.Is(err, errFullDecode) {
			return decodeError(f.name, "image", err)
		}
	}
	img, err := f.decode(j.data)
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
