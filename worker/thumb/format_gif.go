package thumb

import (
	"bytes"
	"context"
	"image"
	"image/draw"
	"image/gif"

	"github.com/thumbq/thumbq/worker/thumb/gifscale"
)

// GIF: the first frame only, placed on its logical screen: reduced while decoding by package
// gifscale, which streams the frame's rows into the box filter; by image/gif at full size when no
// reduction is needed.
var gifFormat = format{
	name:   "gif",
	match:  signatures("GIF87a", "GIF89a"),
	config: gif.DecodeConfig,
	decode: decodeGIF,
	decodeReduced: func(ctx context.Context, data []byte, _, _, shrink int) (image.Image, error) {
		return gifscale.DecodeContext(ctx, data, shrink)
	},
	memory: gifMemory,
}

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

// gifDecoderState bounds what gifscale allocates besides the output and the sums: compress/lzw's
// decoder (about 20 KB) and the frame's palette.
const gifDecoderState = 64 << 10

// gifMemory estimates the peak memory of a GIF decode. Reduced (shrink >= 2), gifscale allocates
// the output (4 bytes a reduced pixel), the sums of one output row (32 bytes a reduced pixel of a
// row) or, for an interlaced frame, of every output row, one row of the frame (at most the
// screen's width) and its decoder state; the frame is not looked at, so the interlaced case is
// counted. At full size: image/gif's paletted frame (a byte a pixel, at most the screen) and the
// canvas it may be drawn on (4 bytes a pixel).
func gifMemory(_ []byte, w, h, shrink int) int64 {
	if shrink < 2 {
		return fullImage(w, h, 1+4)
	}
	ow, oh := int64(max(1, w/shrink)), int64(max(1, h/shrink))
	return 4*ow*oh + 32*ow*oh + int64(w) + gifDecoderState
}
