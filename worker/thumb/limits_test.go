package thumb

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/jpeg"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/thumbq/thumbq/worker/failure"
)

var (
	bombOnce sync.Once
	bombPNG  []byte
)

// pngBomb returns a valid 30000x30000 1-bit grey PNG (900 megapixels) of about a hundred
// kilobytes: zero rows compress a thousandfold. It is built once, streaming rows through zlib,
// rather than committed.
func pngBomb(t testing.TB) []byte {
	bombOnce.Do(func() {
		const size = 30000
		var idat bytes.Buffer
		z, _ := zlib.NewWriterLevel(&idat, zlib.BestCompression)
		row := make([]byte, 1+size/8) // filter byte, then 30000 one-bit pixels
		for range size {
			z.Write(row)
		}
		z.Close()
		ihdr := binary.BigEndian.AppendUint32(nil, size)
		ihdr = binary.BigEndian.AppendUint32(ihdr, size)
		ihdr = append(ihdr, 1, 0, 0, 0, 0) // bit depth 1, grey, deflate, filter 0, no interlace
		p := []byte("\x89PNG\r\n\x1a\n")
		p = appendChunk(p, "IHDR", ihdr)
		p = appendChunk(p, "IDAT", idat.Bytes())
		bombPNG = appendChunk(p, "IEND", nil)
	})
	if len(bombPNG) > 1<<20 {
		t.Fatalf("the bomb is %d bytes; want under a megabyte", len(bombPNG))
	}
	return bombPNG
}

func appendChunk(p []byte, id string, payload []byte) []byte {
	start := len(p)
	p = binary.BigEndian.AppendUint32(p, uint32(len(payload)))
	p = append(p, id...)
	p = append(p, payload...)
	return binary.BigEndian.AppendUint32(p, crc32.ChecksumIEEE(p[start+4:]))
}

// jpegHeader is the start of a JPEG whose frame header declares w x h.
func jpegHeader(w, h uint16) []byte {
	sof := []byte{0xff, 0xd8, 0xff, 0xe0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0, // JFIF APP0
		0xff, 0xc0, 0, 17, 8, byte(h >> 8), byte(h), byte(w >> 8), byte(w), 3,
		1, 0x22, 0, 2, 0x11, 0, 3, 0x11, 0}
	return append(sof, make([]byte, 64)...)
}

// bmpHeader is a 24-bit BMP header declaring w x h, with no pixels after it.
func bmpHeader(w, h int32) []byte {
	b := make([]byte, 54)
	copy(b, "BM")
	binary.LittleEndian.PutUint32(b[2:], 54)
	binary.LittleEndian.PutUint32(b[10:], 54)
	binary.LittleEndian.PutUint32(b[14:], 40)
	binary.LittleEndian.PutUint32(b[18:], uint32(w))
	binary.LittleEndian.PutUint32(b[22:], uint32(h))
	binary.LittleEndian.PutUint16(b[26:], 1)
	binary.LittleEndian.PutUint16(b[28:], 24)
	return b
}

func TestMakeRefusesWhatItShould(t *testing.T) {
	tests := []struct {
		name    string
		data    func(testing.TB) []byte
		opts    Options
		reason  failure.Code
		format  string
		message string // a part of Error() that must be there
	}{
		{"a 30000x30000 PNG bomb is too large", pngBomb, Options{}, failure.TooManyPixels, "png",
			"too-many-pixels: png 30000x30000 is 900 megapixels, over the 100 megapixel limit"},
		{"a JPEG declaring 65535x65535 is too large", constant(jpegHeader(65535, 65535)), Options{}, failure.TooManyPixels, "jpeg",
			"jpeg 65535x65535 is 4295 megapixels"},
		{"a BMP declaring 100000x100000 is too large", constant(bmpHeader(100000, 100000)), Options{}, failure.TooManyPixels, "bmp",
			"bmp 100000x100000"},
		{"a 300x200 photo is too large for a 0.05 megapixel limit", file("progressive.jpg"), Options{MaxPixels: 50_000}, failure.TooManyPixels, "jpeg",
			"too-many-pixels: jpeg 300x200 is 0.06 megapixels, over the 0.05 megapixel limit"},
		{"a GIF of 0x0 pixels is corrupt", constant([]byte("GIF89a\x00\x00\x00\x00\x00\x00\x00;")), Options{}, failure.Corrupt, "gif",
			"corrupt: gif is 0x0: an image needs at least one pixel"},
		{"a JPEG of 0x10 pixels is corrupt", constant(jpegHeader(0, 10)), Options{}, failure.Corrupt, "jpeg", "corrupt"},
		{"a truncated JPEG is corrupt", file("truncated.jpg"), Options{}, failure.Corrupt, "jpeg", "corrupt: jpeg image is truncated"},
		{"a truncated PNG is corrupt", file("truncated.png"), Options{}, failure.Corrupt, "png", "corrupt: png image is"},
		{"a JPEG cut in its headers is corrupt", prefix("progressive.jpg", 100), Options{}, failure.Corrupt, "jpeg", "corrupt: jpeg header is truncated"},
		{"a WebP with a broken chunk is corrupt", constant([]byte("RIFF\x20\x00\x00\x00WEBPVP8 \x10\x00\x00\x00garbage garbage!")), Options{}, failure.Corrupt, "webp", "corrupt"},
		{"a text file is not an image", file("notes.txt"), Options{}, failure.NotImage, "", `not-an-image: 31 bytes starting "These are notes," match no image format`},
		{"an HTML page is not an image", file("page.html"), Options{}, failure.NotImage, "", "not-an-image"},
		{"a text starting with BM is not a bitmap", constant([]byte("BMW owners' club minutes, 2026")), Options{}, failure.NotImage, "", "not-an-image"},
		{"an empty input is not an image", constant(nil), Options{}, failure.NotImage, "", "not-an-image: the input is empty"},
		{"a HEIC photo without a thumbnail item is refused where no process decodes it whole", file("image.heic"), Options{}, failure.Unsupported, "heic",
			"unsupported-format: a HEIF image without a thumbnail item large enough is decoded whole in a child process"},
		{"an AVIF image without a thumbnail item is refused where no process decodes it whole", file("image.avif"), Options{}, failure.Unsupported, "avif", "unsupported-format: a HEIF image without"},
		{"an SVG drawing is an unsupported format", file("image.svg"), Options{}, failure.Unsupported, "svg", "svg is an image format"},
		{"a PDF is an unsupported format", constant([]byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")), Options{}, failure.Unsupported, "pdf", "pdf"},
		{"a JPEG XL codestream is an unsupported format", constant([]byte("\xff\x0a\xfa\x7f\x01\x90")), Options{}, failure.Unsupported, "jxl", "jxl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Make(context.Background(), tt.data(t), tt.opts)
			if err == nil {
				t.Fatalf("Make succeeded; want %s", tt.reason)
			}
			var e *failure.Error
			if !errors.As(err, &e) {
				t.Fatalf("Make error %v is a %T; want a *failure.Error", err, err)
			}
			if e.Code != tt.reason || e.Format != tt.format {
				t.Errorf("Make error reason, format = %s, %q; want %s, %q (%v)", e.Code, e.Format, tt.reason, tt.format, err)
			}
			if !strings.Contains(err.Error(), tt.message) {
				t.Errorf("Make error = %q; want it to contain %q", err, tt.message)
			}
		})
	}
}

func constant(b []byte) func(testing.TB) []byte { return func(testing.TB) []byte { return b } }
func file(name string) func(testing.TB) []byte {
	return func(t testing.TB) []byte { return readFile(t, name) }
}
func prefix(name string, n int) func(testing.TB) []byte {
	return func(t testing.TB) []byte { return readFile(t, name)[:n] }
}

func TestMakeAcceptsAnImageAtExactlyTheLimit(t *testing.T) {
	res, _ := mustMake(t, readFile(t, "progressive.jpg"), Options{MaxPixels: 300 * 200})
	if res.SourceWidth*res.SourceHeight != 300*200 {
		t.Errorf("source = %dx%d; want 300x200", res.SourceWidth, res.SourceHeight)
	}
}

// TestTheBombIsRefusedWithLittleMemory: refusing the bomb reads its header only. (Its speed is
// measured by BenchmarkRefuseBomb, not asserted.)
func TestTheBombIsRefusedWithLittleMemory(t *testing.T) {
	bomb := pngBomb(t)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Make(context.Background(), bomb, Options{})
	runtime.ReadMemStats(&after)
	if codeOf(t, err) != failure.TooManyPixels {
		t.Fatalf("Make(bomb) = %v; want %s", err, failure.TooManyPixels)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Errorf("refusing the bomb allocated %d bytes; want under 1 MiB", n)
	}
}

// TestMakeRecoversFromADecoderPanic swaps in a decoder that panics, as a buggy one might on
// hostile input.
func TestMakeRecoversFromADecoderPanic(t *testing.T) {
	t.Cleanup(swapFormat("bmp", func(f *format) {
		f.decodeReduced = nil // the full-size decode, whatever the shrink
		f.decode = func([]byte) (image.Image, error) { panic("index out of range") }
	}))
	_, err := Make(context.Background(), readFile(t, "image.bmp"), Options{})
	if codeOf(t, err) != failure.Corrupt || !strings.Contains(err.Error(), "bmp decoder panicked: index out of range") {
		t.Errorf("Make with a panicking decoder = %v; want corrupt: bmp decoder panicked: ...", err)
	}
}

// TestMakeHandlesA50MegapixelPhoto encodes a synthetic 8660x5773 JPEG (a few seconds) and makes
// its thumbnail.
func TestMakeHandlesA50MegapixelPhoto(t *testing.T) {
	if testing.Short() {
		t.Skip("encoding a 50 megapixel JPEG takes a few seconds")
	}
	const w, h = 8660, 5773
	src := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	for y := range h {
		for x := range w {
			src.Y[y*src.YStride+x] = uint8((x/50 + y/50) % 2 * 200) // a checkerboard of 50 px squares
		}
	}
	for i := range src.Cb {
		src.Cb[i], src.Cr[i] = 128, 128
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, src, &jpeg.Options{Quality: 75}); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	res, got := mustMake(t, buf.Bytes(), Options{})
	runtime.ReadMemStats(&after)
	// Decoded at 1/8 (jpegscale), it needs 1/64 of the 75 MB image/jpeg would allocate.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
		t.Errorf("Make(%dx%d JPEG) allocated %d MB; want at most 8 MB (decoded at 1/8)", w, h, alloc>>20)
	}
	if res.Width != 64 || res.Height != 43 || res.SourceWidth != w || res.SourceHeight != h {
		t.Errorf("Make(%dx%d JPEG) = %dx%d from %dx%d; want 64x43", w, h, res.Width, res.Height, res.SourceWidth, res.SourceHeight)
	}
	// 50 px squares are finer than a thumbnail pixel (135 px): it averages to grey.
	if m := meanColour(got); colourDistance(m, [4]float64{100, 100, 100, 255}) > 6 {
		t.Errorf("mean colour = %.0f; want about 100 grey", m)
	}
	if _, err := Make(context.Background(), buf.Bytes(), Options{MaxPixels: 49_000_000}); codeOf(t, err) != failure.TooManyPixels {
		t.Errorf("Make(50 MP, limit 49 MP) = %v; want %s", err, failure.TooManyPixels)
	}
}
