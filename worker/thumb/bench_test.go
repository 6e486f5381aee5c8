package thumb

import (
	"bytes"
	"context"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"sync"
	"testing"

	nfnt "github.com/nfnt/resize"

	"golang.org/x/image/draw"

	"github.com/thumbq/thumbq/worker/thumb/jpegscale"
)

var (
	photoOnce sync.Once
	photo12MP []byte
)

// jpeg12MP is a 4000x3000 JPEG (quality 90, 4:2:0) made by enlarging the 300x200 photograph in
// testdata, so that the benchmark runs without make bench's inputs.
func jpeg12MP(b *testing.B) []byte {
	photoOnce.Do(func() {
		src, err := jpeg.Decode(bytes.NewReader(readFile(b, "orientation/Landscape_1.jpg")))
		if err != nil {
			b.Fatal(err)
		}
		big := image.NewRGBA(image.Rect(0, 0, 4000, 3000))
		draw.CatmullRom.Scale(big, big.Rect, src, src.Bounds(), draw.Src, nil)
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, big, &jpeg.Options{Quality: 90}); err != nil {
			b.Fatal(err)
		}
		photo12MP = buf.Bytes()
	})
	return photo12MP
}

// BenchmarkMake12MP is the whole pipeline on a 12 megapixel JPEG, decoded at 1/8 by jpegscale,
// and for comparison with the full-size decode of image/jpeg.
func BenchmarkMake12MP(b *testing.B) {
	data := jpeg12MP(b)
	b.Run("scaled decode (used)", func(b *testing.B) { benchMake(b, data) })
	b.Run("image/jpeg full-size decode", func(b *testing.B) {
		withoutScaledJPEG(func() { benchMake(b, data) })
	})
}

// BenchmarkMakeLargeJPEG runs the pipeline on the inputs shared by the benchmarks of all
// branches, when .bench/inputs (made by make bench) has them: a progressive 12 MP photo and a
// 50 MP one.
func BenchmarkMakeLargeJPEG(b *testing.B) {
	for _, name := range []string{"jpeg-progressive.jpg", "jpeg-50mp.jpg"} {
		b.Run(name, func(b *testing.B) {
			data, err := os.ReadFile(filepath.Join("..", "..", ".bench", "inputs", name))
			if err != nil {
				b.Skipf("no benchmark input (run make bench once to make .bench/inputs): %v", err)
			}
			benchMake(b, data)
		})
	}
}

func benchMake(b *testing.B, data []byte) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Make(context.Background(), data, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecode12MP compares decoding the 12 MP JPEG at 1/8 with decoding it whole.
func BenchmarkDecode12MP(b *testing.B) {
	data := jpeg12MP(b)
	b.Run("jpegscale at 1/8", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := jpegscale.Decode(data, 8); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("image/jpeg", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := jpeg.Decode(bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkResize12MP compares ways to bring the decoded 4000x3000 YCbCr photo to 64x48.
func BenchmarkResize12MP(b *testing.B) {
	src, err := jpeg.Decode(bytes.NewReader(jpeg12MP(b)))
	if err != nil {
		b.Fatal(err)
	}
	direct := func(k draw.Scaler) func() {
		return func() {
			dst := image.NewRGBA(image.Rect(0, 0, 64, 48))
			k.Scale(dst, dst.Rect, src, src.Bounds(), draw.Src, nil)
		}
	}
	for _, bm := range []struct {
		name string
		run  func()
	}{
		{"box pre-shrink then CatmullRom (used)", func() { scale(src, 64, 48) }},
		{"CatmullRom over the whole source", direct(draw.CatmullRom)},
		{"ApproxBiLinear over the whole source", direct(draw.ApproxBiLinear)},
		// The resampler the issue suggested, measured for comparison only (unmaintained).
		{"nfnt Lanczos3 over the whole source", func() { nfnt.Resize(64, 48, src, nfnt.Lanczos3) }},
		{"box pre-shrink then nfnt Lanczos3", func() {
			nfnt.Resize(64, 48, boxShrink(src, max(1, min(src.Bounds().Dx()/128, src.Bounds().Dy()/96))), nfnt.Lanczos3)
		}},
	} {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				bm.run()
			}
		})
	}
}

// BenchmarkRefuseBomb: the 30000x30000 PNG bomb is refused from its header.
func BenchmarkRefuseBomb(b *testing.B) {
	bomb := pngBomb(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Make(context.Background(), bomb, Options{}); err == nil {
			b.Fatal("the bomb was accepted")
		}
	}
}

var (
	pngOnce   sync.Once
	photoPNG  []byte
	pngSource string
)

// png12MP is .bench/inputs/png-12mp.png (4000x3000 RGB, written by libvips at zlib level 6, made
// by make bench)
// when it exists, else the 12 megapixel photo of jpeg12MP written as an RGB PNG by image/png.
func png12MP(b *testing.B) []byte {
	pngOnce.Do(func() {
		if data, err := os.ReadFile(filepath.Join("..", "..", ".bench", "inputs", "png-12mp.png")); err == nil {
			photoPNG, pngSource = data, filepath.Join("..", "..", ".bench", "inputs", "png-12mp.png")
			return
		}
		src, err := jpeg.Decode(bytes.NewReader(jpeg12MP(b)))
		if err != nil {
			b.Fatal(err)
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, src); err != nil { // YCbCr is written as 8-bit RGB
			b.Fatal(err)
		}
		photoPNG, pngSource = buf.Bytes(), "generated"
	})
	b.Logf("12 MP PNG: %s, %d bytes", pngSource, len(photoPNG))
	return photoPNG
}

// BenchmarkMakePNG12MP is the whole pipeline on a 12 megapixel PNG, reduced while decoding
// (pngscale) and, for comparison, decoded in full by image/png as before.
func BenchmarkMakePNG12MP(b *testing.B) {
	data := png12MP(b)
	b.Run("reduced while decoding (used)", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Make(context.Background(), data, Options{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("image/png full decode", func(b *testing.B) {
		defer swapFormat("png", func(f *format) { f.decodeReduced = nil })()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Make(context.Background(), data, Options{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
