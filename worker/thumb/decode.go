package thumb

import (
	"github.com/thumbq/thumbq/worker/failure"

	"bytes"
	"errors"
	"image"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
)

// decoders decode a whole image. GIF's decoder stops after the first frame (gif.DecodeAll would
// read them all); TIFF's reads the first image of the file.
var decoders = map[string]func(io.Reader) (image.Image, error){
	"jpeg": jpeg.Decode,
	"png":  png.Decode,
	"gif":  gif.Decode,
	"webp": decodeWebP,
	"bmp":  bmp.Decode,
	"tiff": tiff.Decode,
}

// scaledDecoders decode an image already reduced, where the format allows it, so that neither the
// time nor the memory of a thumbnail grows with the full-size pixels. shrink is the largest
// integer factor the image may be reduced by: each side of the result must be at least
// floor(side/shrink) pixels, and a decoder may reduce by less. w and h are the source's size as
// checkLimits read it from the header. A decoder returns errFullDecode for a file it does not
// handle (a JPEG feature it lacks, say): decode then falls back to the full-size decoder above,
// which remains the reference.
var scaledDecoders = map[string]func(data []byte, w, h, shrink int) (image.Image, error){
	"jpeg": decodeJPEGScaled,
	"png":  decodePNGScaled,
}

// errFullDecode asks decode to use the full-size decoder instead of the scaled one.
var errFullDecode = errors.New("full-size decode needed")

// decode decodes the pixels: reduced while decoding where scaledDecoders has the format and the
// thumbnail is at least 2 times smaller than the source, at full size otherwise. The full-size
// decoder's own idea of the size is checked against the limits again, in case the header read by
// checkLimits disagreed with it.
func decode(j *job) *failure.Error {
	if f, ok := scaledDecoders[j.format]; ok {
		if shrink := j.shrink(); shrink > 1 {
			img, err := f(j.data, j.width, j.height, shrink)
			if err == nil {
				j.img = img
				return nil
			}
			if !errors.Is(err, errFullDecode) {
				return decodeError(j.format, "image", err)
			}
		}
	}
	img, err := decoders[j.format](bytes.NewReader(j.data))
	if err != nil {
		return decodeError(j.format, "image", err)
	}
	if j.format == "gif" {
		img = gifCanvas(img, j.data)
	}
	b := img.Bounds()
	if e := j.setSize(b.Dx(), b.Dy()); e != nil {
		return e
	}
	j.img = img
	return nil
}

// gifCanvas places a first frame that covers only part of the GIF's logical screen on a
// transparent canvas of the screen's size, as a browser shows it.
func gifCanvas(frame image.Image, data []byte) image.Image {
	cfg, err := gif.DecodeConfig(bytes.NewReader(data))
	screen := image.Rect(0, 0, cfg.Width, cfg.Height)
	if err != nil || frame.Bounds() == screen || !frame.Bounds().In(screen) {
		return frame
	}
	canvas := image.NewNRGBA(screen)
	draw.Draw(canvas, frame.Bounds(), frame, frame.Bounds().Min, draw.Src)
	return canvas
}
