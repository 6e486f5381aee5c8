package webpscale

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"golang.org/x/image/webp"

	"github.com/thumbq/thumbq/worker/thumb/internal/box"
)

// The fixtures: package vp8's (cwebp and libvpx frames in simple files) and thumb's, lossy,
// lossless (VP8L) and lossy with a lossless alpha plane.
func webpFixtures(t testing.TB) map[string][]byte {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join("..", "internal", "vp8", "testdata", "*.webp"))
	for _, name := range []string{"lossy.webp", "orientation-6.webp", "lossless-alpha.webp", "lossy-alpha.webp"} {
		files = append(files, filepath.Join("..", "testdata", name))
	}
	out := map[string][]byte{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = data
	}
	return out
}

// limitedToFull stretches the samples of a VP8 picture x/image/webp decoded whole (it leaves them
// in VP8's limited range, golang/go#40173) to full range, in place, as Decode does.
func limitedToFull(m *image.YCbCr) {
	expand(m.Y, m.Y, &lumaToFull)
	expand(m.Cb, m.Cb, &chromaToFull)
	expand(m.Cr, m.Cr, &chromaToFull)
}

// reference reduces x/image/webp's picture, its colours corrected by limitedToFull, over the blocks
// Decode uses, summing as Decode does: opaque pictures in YCbCr, converted once averaged; pictures
// with alpha per pixel in RGB, premultiplied.
func reference(t *testing.T, data []byte, shrink int) *image.RGBA {
	t.Helper()
	img, err := webp.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("x/image/webp: %v", err)
	}
	var m *image.YCbCr
	var alpha []byte
	switch v := img.(type) {
	case *image.YCbCr:
		m = v
	case *image.NYCbCrA:
		m, alpha = &v.YCbCr, v.A
	case *image.NRGBA:
		return referenceNRGBA(v, shrink)
	default:
		t.Fatalf("x/image/webp gives %T", img)
	}
	limitedToFull(m)
	w, h := m.Rect.Dx(), m.Rect.Dy()
	ow, oh := max(1, w/shrink), max(1, h/shrink)
	dst := image.NewRGBA(image.Rect(0, 0, ow, oh))
	ends := make([]int, ow)
	box.Ends(ends, w)
	acc := make([]uint64, 4*ow)
	for oy := range oh {
		y0, y1 := oy*h/oh, (oy+1)*h/oh
		clear(acc)
		for y := y0; y < y1; y++ {
			x0 := 0
			for ox, x1 := range ends {
				for x := x0; x < x1; x++ {
					yy, cb, cr := m.Y[m.YOffset(x, y)], m.Cb[m.COffset(x, y)], m.Cr[m.COffset(x, y)]
					s := acc[4*ox : 4*ox+4]
					if alpha == nil {
						s[0], s[1], s[2] = s[0]+uint64(yy), s[1]+uint64(cb), s[2]+uint64(cr)
						continue
					}
					r, g, b := color.YCbCrToRGB(yy, cb, cr)
					a := uint64(alpha[y*w+x])
					s[0], s[1], s[2], s[3] = s[0]+uint64(r)*a, s[1]+uint64(g)*a, s[2]+uint64(b)*a, s[3]+a*255
				}
				x0 = x1
			}
		}
		mode, unit := box.YCbCr, uint64(1)
		if alpha != nil {
			mode, unit = box.RGBA, 255
		}
		box.Emit(dst.Pix[oy*dst.Stride:][:4*ow], acc, ends, uint64(y1-y0), mode, unit)
	}
	return dst
}

// referenceNRGBA reduces a lossless picture as Decode does: premultiplied sums, unit 255.
func referenceNRGBA(m *image.NRGBA, shrink int) *image.RGBA {
	w, h := m.Rect.Dx(), m.Rect.Dy()
	ow, oh := max(1, w/shrink), max(1, h/shrink)
	dst := image.NewRGBA(image.Rect(0, 0, ow, oh))
	ends := make([]int, ow)
	box.Ends(ends, w)
	acc := make([]uint64, 4*ow)
	for oy := range oh {
		y0, y1 := oy*h/oh, (oy+1)*h/oh
		clear(acc)
		for y := y0; y < y1; y++ {
			x0 := 0
			for ox, x1 := range ends {
				for x := x0; x < x1; x++ {
					p := m.Pix[m.PixOffset(x, y):]
					a := uint64(p[3])
					s := acc[4*ox : 4*ox+4]
					s[0], s[1], s[2], s[3] = s[0]+uint64(p[0])*a, s[1]+uint64(p[1])*a, s[2]+uint64(p[2])*a, s[3]+a*255
				}
				x0 = x1
			}
		}
		box.Emit(dst.Pix[oy*dst.Stride:][:4*ow], acc, ends, uint64(y1-y0), box.RGBA, 255)
	}
	return dst
}

func samePixels(t *testing.T, got, want *image.RGBA) {
	t.Helper()
	if got.Rect != want.Rect {
		t.Fatalf("size %v; want %v", got.Rect, want.Rect)
	}
	for i := range want.Pix {
		if got.Pix[i] != want.Pix[i] {
			x, y := i%want.Stride/4, i/want.Stride
			t.Fatalf("pixel (%d,%d) = %v; want %v (x/image/webp, averaged)", x, y,
				got.Pix[i&^3:i&^3+4], want.Pix[i&^3:i&^3+4])
		}
	}
}

func TestDecodeAveragesXImagesPicture(t *testing.T) {
	for name, data := range webpFixtures(t) {
		for _, shrink := range []int{1, 2, 3, 8, 1000} {
			t.Run(fmt.Sprintf("%s reduced %d times", name, shrink), func(t *testing.T) {
				got, err := Decode(context.Background(), data, shrink)
				if err != nil {
					t.Fatal(err)
				}
				samePixels(t, got, reference(t, data, shrink))
			})
		}
	}
}

// withAlpha returns a VP8X file with the frame of the simple file data and an ALPH chunk holding
// a raw alpha plane, filtered with filter (1 horizontal, 2 vertical, 3 gradient; the inverse of
// what the WebP container specification has the decoder undo).
func withAlpha(t *testing.T, data []byte, filter byte) []byte {
	t.Helper()
	w, h, err := Config(data)
	if err != nil {
		t.Fatal(err)
	}
	plane := make([]byte, w*h)
	for y := range h {
		for x := range w {
			plane[y*w+x] = uint8(x*7 + y*3 + (x*y)%13) // neither flat nor a pure ramp
		}
	}
	at := func(x, y int) int { return int(plane[y*w+x]) }
	filtered := make([]byte, w*h)
	for y := range h {
		for x := range w {
			var pred int
			switch {
			case filter == 0 || x == 0 && y == 0:
			case y == 0:
				pred = at(x-1, 0)
			case x == 0:
				pred = at(0, y-1)
			case filter == 1:
				pred = at(x-1, y)
			case filter == 2:
				pred = at(x, y-1)
			default:
				pred = max(0, min(255, at(x-1, y)+at(x, y-1)-at(x-1, y-1)))
			}
			filtered[y*w+x] = uint8(at(x, y) - pred)
		}
	}
	vp8x := make([]byte, 10)
	vp8x[0] = 1 << 4
	put24 := func(b []byte, v int) { b[0], b[1], b[2] = uint8(v), uint8(v>>8), uint8(v>>16) }
	put24(vp8x[4:], w-1)
	put24(vp8x[7:], h-1)
	frame := data[20 : 20+binary.LittleEndian.Uint32(data[16:])]
	var body bytes.Buffer
	body.WriteString("WEBP")
	for _, c := range []struct {
		id   string
		data []byte
	}{{"VP8X", vp8x}, {"ALPH", append([]byte{filter << 2}, filtered...)}, {"VP8 ", frame}} {
		body.WriteString(c.id)
		binary.Write(&body, binary.LittleEndian, uint32(len(c.data)))
		body.Write(c.data)
		if len(c.data)%2 == 1 {
			body.WriteByte(0)
		}
	}
	out := []byte("RIFF")
	out = binary.LittleEndian.AppendUint32(out, uint32(body.Len()))
	return append(out, body.Bytes()...)
}

func TestDecodeReadsARawAlphaPlaneWithEachFilter(t *testing.T) {
	data := webpFixtures(t)["cwebp-default.webp"]
	for filter, name := range []string{"none", "horizontal", "vertical", "gradient"} {
		file := withAlpha(t, data, byte(filter))
		for _, shrink := range []int{1, 4} {
			t.Run(fmt.Sprintf("filter %s, reduced %d times", name, shrink), func(t *testing.T) {
				got, err := Decode(context.Background(), file, shrink)
				if err != nil {
					t.Fatal(err)
				}
				samePixels(t, got, reference(t, file, shrink))
			})
		}
	}
}

func TestDecodeRefusesWhatXImageRefuses(t *testing.T) {
	files := webpFixtures(t)
	files["raw-alpha"] = withAlpha(t, files["cwebp-default.webp"], 3)
	for name, data := range files {
		for _, n := range []int{0, 11, 12, 19, 20, 29, 31, len(data) / 3, len(data) / 2, len(data) - 1} {
			if n > len(data) {
				continue
			}
			cut := data[:n]
			_, xerr := webp.Decode(bytes.NewReader(cut))
			_, err := Decode(context.Background(), cut, 2)
			if xerr != nil && err == nil {
				t.Errorf("Decode(first %d bytes of %s) succeeded; x/image/webp refuses them: %v", n, name, xerr)
			}
			if xerr == nil && err != nil {
				t.Errorf("Decode(first %d bytes of %s) = %v; x/image/webp decodes them", n, name, err)
			}
			if errors.Is(xerr, io.ErrUnexpectedEOF) && err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Logf("first %d bytes of %s: %v; x/image says %v", n, name, err, xerr)
			}
		}
	}
}

// TestMemoryBoundsDecode: what Decode allocates, all told, is within Memory, on the fixtures and on
// a picture of 2000 x 1500 from cwebp (where installed), with and without a raw alpha plane.
func TestMemoryBoundsDecode(t *testing.T) {
	files := webpFixtures(t)
	files["raw-alpha"] = withAlpha(t, files["cwebp-m6-q90.webp"], 3)
	if big := cwebpPicture(t, 2000, 1500); big != nil {
		files["2000x1500"] = big
		files["2000x1500 raw alpha"] = withAlpha(t, big, 1)
		files["2000x1500 lossless"] = cwebpPicture(t, 2000, 1500, "-lossless")
	}
	for name, data := range files {
		w, h, err := Config(data)
		if err != nil {
			t.Fatal(err)
		}
		for _, shrink := range []int{2, 8, 64} {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			if _, err := Decode(context.Background(), data, shrink); err != nil {
				t.Fatal(err)
			}
			runtime.ReadMemStats(&after)
			if got, bound := int64(after.TotalAlloc-before.TotalAlloc), Memory(data, w, h, shrink); got > bound {
				t.Errorf("Decode(%s %dx%d, shrink %d) allocated %d bytes; Memory says %d", name, w, h, shrink, got, bound)
			}
		}
	}
}

// cwebpPicture encodes a w x h picture of gradients with cwebp and args, or returns nil where
// cwebp is not installed.
func cwebpPicture(t *testing.T, w, h int, args ...string) []byte {
	t.Helper()
	bin, err := exec.LookPath("cwebp")
	if err != nil {
		t.Logf("cwebp not installed: no %dx%d picture", w, h)
		return nil
	}
	src := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			src.SetNRGBA(x, y, color.NRGBA{uint8(x), uint8(y), uint8(x ^ y), 255})
		}
	}
	dir := t.TempDir()
	var ppm bytes.Buffer
	fmt.Fprintf(&ppm, "P6\n%d %d\n255\n", w, h)
	for i := 0; i < len(src.Pix); i += 4 {
		ppm.Write(src.Pix[i : i+3])
	}
	in, out := filepath.Join(dir, "in.ppm"), filepath.Join(dir, "out.webp")
	if err := os.WriteFile(in, ppm.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command(bin, append(append([]string{"-quiet"}, args...), in, "-o", out)...).CombinedOutput(); err != nil {
		t.Fatalf("cwebp: %v: %s", err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestFullRangeTablesMapVideoBlackAndWhite(t *testing.T) {
	tests := []struct {
		name     string
		in, want uint8
		chroma   bool
	}{
		{"video black (Y=16) becomes 0", 16, 0, false},
		{"video white (Y=235) becomes 255", 235, 255, false},
		{"mid grey (Y=126) becomes 128", 126, 128, false},
		{"below black clamps to 0", 5, 0, false},
		{"above white clamps to 255", 250, 255, false},
		{"neutral chroma (128) stays 128", 128, 128, true},
		{"lowest chroma (16) becomes 0.5, rounded up", 16, 1, true},
		{"highest chroma (240) becomes 255.5, clamped", 240, 255, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := lumaToFull[tt.in]
			if tt.chroma {
				got = chromaToFull[tt.in]
			}
			if got != tt.want {
				t.Errorf("%d -> %d; want %d", tt.in, got, tt.want)
			}
		})
	}
}

// FuzzDecode: whatever x/image/webp decodes as a lossy picture, Decode reduces to that picture
// averaged; what it refuses, Decode refuses; nothing panics.
func FuzzDecode(f *testing.F) {
	for name, data := range webpFixtures(f) {
		if len(data) < 4096 || name == "cwebp-default.webp" {
			f.Add(data, uint8(2))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, shrink uint8) {
		if w, h, err := Config(data); err != nil || w*h > 1<<20 || shrink == 0 {
			return
		}
		img, xerr := webp.Decode(bytes.NewReader(data))
		got, err := Decode(context.Background(), data, int(shrink))
		switch {
		case xerr == nil && err != nil:
			t.Fatalf("Decode: %v; x/image/webp decodes it", err)
		case xerr != nil && err == nil:
			t.Fatalf("Decode succeeded; x/image/webp refuses it: %v", xerr)
		case xerr == nil && img.Bounds().Empty():
			if !got.Rect.Empty() {
				t.Fatalf("Decode of an empty picture = %v; want empty", got.Rect)
			}
		case xerr == nil:
			samePixels(t, got, reference(t, data, int(shrink)))
		}
	})
}

// TestDecodeStopsWhenCancelled: a cancelled context ends Decode with its error for every kind of
// WebP, and the alpha plane's decoder, which runs beside the picture's, is gone when it returns.
func TestDecodeStopsWhenCancelled(t *testing.T) {
	files := webpFixtures(t)
	files["raw-alpha"] = withAlpha(t, files["cwebp-default.webp"], 2)
	before := runtime.NumGoroutine()
	for name, data := range files {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := Decode(ctx, data, 2); !errors.Is(err, context.Canceled) {
			t.Errorf("Decode(%s) with a cancelled context = %v; want context.Canceled", name, err)
		}
	}
	if after := runtime.NumGoroutine(); after > before {
		t.Errorf("%d goroutines after the cancelled decodes; %d before", after, before)
	}
}
