package thumb

import (
	"bytes"
	"image"
	"image/draw"
	"image/gif"
)

// GIF: the first frame only, by image/gif, placed on its logical screen.
var gifFormat = format{
	name:   "gif",
	match:  signatures("GIF87a", "GIF89a"),
	config: gif.DecodeConfig,
	decode: decodeGIF,
	memory: gifMemory,
	maxPixels: func([]byte) (int64, string) {
		return gifMaxPixels, "GIF"
	},
}

// gifMaxPixels is GIF's pixel limit while image/gif decodes the frame whole (a byte a pixel):
// measured at 100 megapixels (make bench-worst) it took 105 MB above idle; 80 keeps it under 100.
const gifMaxPixels = 80_000_000

// decodeGIF decodes the first frame (gif.DecodeAll would read them all) and places a frame that
// covers only part of the logical screen on a transparent canvas of the screen's size, as a
// browser shows it.
func decodeGIF(data []byte) (image.Image, error) {
	frame, err := gif.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	cfg, err := gif.DecodeConfig(bytes.NewReader(data))
	screen := image.Rect(0, 0, cfg.Width, cfg.Height)
	if err != nil || frame.Bounds() == screen || !frame.Bounds().In(screen) {
		return frame, nil
	}
	canvas := image.NewNRGBA(screen)
	draw.Draw(canvas, frame.Bounds(), frame, frame.Bounds().Min, draw.Src)
	return canvas, nil
}

// gifMemory: image/gif's paletted frame (a byte a pixel, at most the screen) and the canvas it
// may be drawn on (4 bytes a pixel).
func gifMemory(_ []byte, w, h, _ int) int64 { return fullImage(w, h, 1+4) }
