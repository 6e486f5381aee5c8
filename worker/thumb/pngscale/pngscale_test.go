package pngscale

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// reference decodes with image/png and averages blocks the way thumb's boxShrink does (block
// edges at i*w/ow, premultiplied 16-bit colour summed, rounded to 8 bits).
func reference(t testing.TB, data []byte, k int) *image.RGBA {
	t.Helper()
	src, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("image/png: %v", err)
	}
	return boxShrink(src, k)
}

func boxShrink(src image.Image, k int) *image.RGBA {
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	ow, oh := max(1, w/k), max(1, h/k)
	dst := image.NewRGBA(image.Rect(0, 0, ow, oh))
	for oy := range oh {
		y0, y1 := oy*h/oh, (oy+1)*h/oh
		for ox := range ow {
			x0, x1 := ox*w/ow, (ox+1)*w/ow
			var s [4]uint64
			for y := y0; y < y1; y++ {
				for x := x0; x < x1; x++ {
					r, g, bl, a := src.At(b.Min.X+x, b.Min.Y+y).RGBA()
					s[0] += uint64(r)
					s[1] += uint64(g)
					s[2] += uint64(bl)
					s[3] += uint64(a)
				}
			}
			n := uint64((y1-y0)*(x1-x0)) * 257
			for c := range 4 {
				dst.Pix[oy*dst.Stride+4*ox+c] = uint8((s[c] + n/2) / n)
			}
		}
	}
	return dst
}

// maxDiff is the largest difference of two images' bytes, or 256 when their sizes differ.
func maxDiff(a, b *image.RGBA) int {
	if a.Rect.Size() != b.Rect.Size() {
		return 256
	}
	worst := 0
	for i := range a.Pix {
		worst = max(worst, abs(int(a.Pix[i])-int(b.Pix[i])))
	}
	return worst
}

func abs(x int) int { return max(x, -x) }

func pngSuite(t testing.TB) []string {
	files, _ := filepath.Glob(filepath.Join(goroot(), "src", "image", "png", "testdata", "pngsuite", "*.png"))
	if len(files) == 0 {
		t.Skip("PngSuite (in GOROOT/src/image/png/testdata) is not installed")
	}
	return files
}

func TestDecodeMatchesImagePNGOnPngSuite(t *testing.T) {
	for _, path := range pngSuite(t) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(path)
		if _, err := png.Decode(bytes.NewReader(data)); err != nil {
			t.Run(name+" is refused as image/png refuses it", func(t *testing.T) {
				if _, err := Decode(data, 1); err == nil {
					t.Errorf("Decode(%s) succeeded; image/png says %v", name, err)
				}
			})
			continue
		}
		for _, k := range []int{1, 2, 3, 5, 7} {
			t.Run(fmt.Sprintf("%s reduced %d-fold is image/png's, box-shrunk", name, k), func(t *testing.T) {
				got, err := Decode(data, k)
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				want := reference(t, data, k)
				if d := maxDiff(got, want); d > 1 {
					t.Errorf("Decode(%s, %d) is %v and differs from the reference (%v) by up to %d; want at most 1",
						name, k, got.Rect.Size(), want.Rect.Size(), d)
				}
			})
		}
	}
}

// generated is an image of the given PNG kind with random colours, gradients and (where the
// kind has it) alpha from transparent to opaque.
func generated(rng *rand.Rand, kind string, w, h int) image.Image {
	r := image.Rect(0, 0, w, h)
	pix := func(x, y int) (uint16, uint16, uint16, uint16) {
		base := uint16(x*65535/max(1, w-1)) ^ uint16(rng.UintN(4096))
		return base, uint16(y * 65535 / max(1, h-1)), uint16(rng.UintN(65536)), uint16(rng.UintN(65536))
	}
	switch kind {
	case "gray":
		m := image.NewGray(r)
		for i := range m.Pix {
			m.Pix[i] = uint8(rng.UintN(256))
		}
		return m
	case "gray16":
		m := image.NewGray16(r)
		for y := range h {
			for x := range w {
				v, _, _, _ := pix(x, y)
				m.SetGray16(x, y, color.Gray16{v})
			}
		}
		return m
	case "rgb":
		m := image.NewRGBA(r)
		for y := range h {
			for x := range w {
				a, b, c, _ := pix(x, y)
				m.SetRGBA(x, y, color.RGBA{uint8(a >> 8), uint8(b >> 8), uint8(c >> 8), 0xff})
			}
		}
		return m
	case "rgb16":
		m := image.NewRGBA64(r)
		for y := range h {
			for x := range w {
				a, b, c, _ := pix(x, y)
				m.SetRGBA64(x, y, color.RGBA64{a, b, c, 0xffff})
			}
		}
		return m
	case "nrgba":
		m := image.NewNRGBA(r)
		for y := range h {
			for x := range w {
				a, b, c, d := pix(x, y)
				if x%3 != 2 { // two columns in three are transparent, with colours that must not bleed
					d = 0
				}
				m.SetNRGBA(x, y, color.NRGBA{uint8(a >> 8), uint8(b >> 8), uint8(c >> 8), uint8(d >> 8)})
			}
		}
		return m
	case "nrgba64":
		m := image.NewNRGBA64(r)
		for y := range h {
			for x := range w {
				a, b, c, d := pix(x, y)
				m.SetNRGBA64(x, y, color.NRGBA64{a, b, c, d})
			}
		}
		return m
	case "paletted", "paletted16", "paletted4", "paletted2":
		n := map[string]int{"paletted": 256, "paletted16": 16, "paletted4": 4, "paletted2": 2}[kind]
		p := make(color.Palette, n)
		for i := range p {
			p[i] = color.NRGBA{uint8(rng.UintN(256)), uint8(rng.UintN(256)), uint8(rng.UintN(256)), uint8(rng.UintN(256)) | uint8(i%2)*255}
		}
		m := image.NewPaletted(r, p)
		for i := range m.Pix {
			m.Pix[i] = uint8(rng.UintN(uint(n)))
		}
		return m
	}
	panic(kind)
}

// TestDecodeMatchesImagePNGOnGeneratedImages covers what image/png's encoder writes (grey 8 and
// 16, RGB 8 and 16, RGBA 8 and 16, palettes of 1 to 8 bits, with alpha) at odd sizes, every
// filter type (the encoder chooses per row), and reductions 1 to 7.
func TestDecodeMatchesImagePNGOnGeneratedImages(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	kinds := []string{"gray", "gray16", "rgb", "rgb16", "nrgba", "nrgba64", "paletted", "paletted16", "paletted4", "paletted2"}
	sizes := []image.Point{{1, 1}, {7, 5}, {33, 17}, {64, 63}, {101, 3}}
	for _, kind := range kinds {
		for _, size := range sizes {
			for _, level := range []png.CompressionLevel{png.DefaultCompression, png.NoCompression} {
				var buf bytes.Buffer
				enc := png.Encoder{CompressionLevel: level}
				if err := enc.Encode(&buf, generated(rng, kind, size.X, size.Y)); err != nil {
					t.Fatal(err)
				}
				data := buf.Bytes()
				for k := 1; k <= 7; k++ {
					t.Run(fmt.Sprintf("%s %dx%d level %d reduced %d-fold", kind, size.X, size.Y, level, k), func(t *testing.T) {
						got, err := Decode(data, k)
						if err != nil {
							t.Fatalf("Decode: %v", err)
						}
						want := reference(t, data, k)
						if got.Rect.Dx() != max(1, size.X/k) || got.Rect.Dy() != max(1, size.Y/k) {
							t.Fatalf("Decode = %v; want %dx%d", got.Rect.Size(), max(1, size.X/k), max(1, size.Y/k))
						}
						if d := maxDiff(got, want); d > 1 {
							t.Errorf("differs from the reference by up to %d; want at most 1", d)
						}
					})
				}
			}
		}
	}
}

func TestDecodeRefusesBrokenFiles(t *testing.T) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, generated(rand.New(rand.NewPCG(5, 6)), "rgb", 40, 30)); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	for _, n := range []int{0, 7, 8, 20, 33, 40, len(good) / 2, len(good) - 13, len(good) - 1} {
		t.Run(fmt.Sprintf("the first %d bytes are truncated", n), func(t *testing.T) {
			if _, err := Decode(good[:n], 2); !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("Decode = %v; want io.ErrUnexpectedEOF", err)
			}
		})
	}
	t.Run("a flipped bit in the pixel data is a checksum error", func(t *testing.T) {
		bad := bytes.Clone(good)
		bad[len(bad)/2] ^= 4
		_, err := Decode(bad, 2)
		var fe FormatError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), "checksum") {
			t.Errorf("Decode = %v (%T); want a FormatError about a checksum", err, err)
		}
	})
	// withIHDR returns good with IHDR byte i (of its 13) set to v and the chunk's CRC made right.
	withIHDR := func(i int, v byte) []byte {
		bad := bytes.Clone(good)
		bad[16+i] = v
		binary.BigEndian.PutUint32(bad[29:], crc32.ChecksumIEEE(bad[12:29]))
		return bad
	}
	for _, tt := range []struct {
		name string
		data []byte
	}{
		{"bit depth 3 is unsupported, as image/png says", withIHDR(8, 3)},
		{"colour type 5 is unsupported, as image/png says", withIHDR(9, 5)},
		{"compression method 1 is unsupported, as image/png says", withIHDR(10, 1)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(tt.data, 2)
			if !errors.As(err, new(UnsupportedError)) {
				t.Errorf("Decode = %v (%T); want an UnsupportedError", err, err)
			}
			if _, perr := png.Decode(bytes.NewReader(tt.data)); !errors.As(perr, new(png.UnsupportedError)) {
				t.Errorf("image/png says %v (%T); the case is not what the test means", perr, perr)
			}
		})
	}
}

// TestDecodeRefusesSizesItsDataCannotHold: a header of 65535x65535 over a few bytes of pixel
// data is truncated whatever it says, and is refused before anything is allocated for it.
func TestDecodeRefusesSizesItsDataCannotHold(t *testing.T) {
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(make([]byte, 1000))
	zw.Close()
	out := []byte("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, body []byte) {
		out = binary.BigEndian.AppendUint32(out, uint32(len(body)))
		start := len(out)
		out = append(append(out, typ...), body...)
		out = binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(out[start:]))
	}
	chunk("IHDR", []byte{0, 0, 0xff, 0xff, 0, 0, 0xff, 0xff, 8, 6, 0, 0, 0})
	chunk("IDAT", z.Bytes())
	chunk("IEND", nil)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Decode(out, 256) // were it decoded, 512 KB of rows and 256 KB of output
	runtime.ReadMemStats(&after)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("Decode(65535x65535 in %d bytes) = %v; want io.ErrUnexpectedEOF", len(out), err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 64<<10 {
		t.Errorf("Decode allocated %d bytes to refuse it; want a few kilobytes at most", n)
	}
}

// goroot is the Go installation's root, where the standard library's test images are, from
// "go env GOROOT" (runtime.GOROOT is deprecated). The tests that use them skip without it.
var goroot = sync.OnceValue(func() string {
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
})
