package thumb

import (
	"bytes"
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

// decode decodes the pixels at full size: none of these decoders can scale while decoding (a
// DCT-domain JPEG shrink would be the next gain). The decoder's own idea of the size is checked
// against the limits again, in case the header read by checkLimits disagreed with it.
func decode(j *job) *Error {
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
