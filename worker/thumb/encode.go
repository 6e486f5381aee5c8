package thumb

import (
	"bytes"
	"image"
	"image/png"
	"sync"

	"github.com/thumbq/thumbq/worker/failure"
)

// encode writes each thumbnail as PNG: 8-bit RGB when every pixel is opaque, 8-bit RGBA with
// straight (non-premultiplied) alpha otherwise (a pad canvas always has transparent margins).
func encode(j *job) *failure.Error {
	j.pngs = make([][]byte, len(j.thumbs))
	for i, m := range j.thumbs {
		var out image.Image = m // png writes an opaque *image.RGBA without an alpha channel
		if !m.Opaque() {
			out = unpremultiply(m)
		}
		var buf bytes.Buffer
		if err := encoder.Encode(&buf, out); err != nil {
			// Only a writer's error could get here, and a bytes.Buffer has none.
			return failure.New(failure.Corrupt, j.format.name, "encode thumbnail: %w", err)
		}
		j.pngs[i] = buf.Bytes()
	}
	return nil
}

// encoder keeps its compressor state (about a megabyte, most of what a small thumbnail
// allocates) in a pool, so images after the first reuse it. It compresses at compress/flate's
// default level, which gives thumbnails within a fraction of a percent of the best compression's
// size in much less time (the README's "How the engine gets there" has the figures).
var encoder = png.Encoder{CompressionLevel: png.DefaultCompression, BufferPool: &encoderBuffers{}}

type encoderBuffers struct{ pool sync.Pool }

func (p *encoderBuffers) Get() *png.EncoderBuffer {
	b, _ := p.pool.Get().(*png.EncoderBuffer)
	return b
}

func (p *encoderBuffers) Put(b *png.EncoderBuffer) { p.pool.Put(b) }

func unpremultiply(m *image.RGBA) *image.NRGBA {
	n := image.NewNRGBA(m.Rect)
	for i := 0; i < len(m.Pix); i += 4 {
		a := uint32(m.Pix[i+3])
		n.Pix[i+3] = uint8(a)
		if a == 0 {
			continue
		}
		for c := range 3 {
			n.Pix[i+c] = uint8(min(255, (uint32(m.Pix[i+c])*255+a/2)/a))
		}
	}
	return n
}
