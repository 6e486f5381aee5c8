package pngscale

import (
	"bytes"
	"compress/zlib"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"golang.org/x/image/draw"

	"github.com/thumbq/thumbq/worker/thumb/internal/inflate"
)

var (
	photoOnce sync.Once
	photoPNG  []byte
)

// png12MP is .bench/inputs/png-12mp.png (a 4000x3000 RGB photo written by libvips at zlib level 6,
// made by make bench) when it exists, else a 4000x3000 PNG made here by enlarging the test photograph.
func png12MP(b *testing.B) []byte {
	photoOnce.Do(func() {
		if data, err := os.ReadFile(filepath.Join("..", "..", "..", ".bench", "inputs", "png-12mp.png")); err == nil {
			photoPNG = data
			return
		}
		data, err := os.ReadFile(filepath.Join("..", "testdata", "orientation", "Landscape_1.jpg"))
		if err != nil {
			b.Fatal(err)
		}
		src, err := jpeg.Decode(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		big := image.NewRGBA(image.Rect(0, 0, 4000, 3000))
		draw.CatmullRom.Scale(big, big.Rect, src, src.Bounds(), draw.Src, nil)
		rgb := image.NewRGBA(big.Rect) // opaque, so image/png writes RGB
		copy(rgb.Pix, big.Pix)
		var buf bytes.Buffer
		if err := png.Encode(&buf, rgb); err != nil {
			b.Fatal(err)
		}
		photoPNG = buf.Bytes()
	})
	return photoPNG
}

var (
	paethOnce sync.Once
	paethPNG  []byte
)

// pngPaeth12MP is the 12 megapixel photo written by image/png, which filters nearly every row
// with Paeth (libvips writes no filter by default).
func pngPaeth12MP(b *testing.B) []byte {
	paethOnce.Do(func() {
		src, err := png.Decode(bytes.NewReader(png12MP(b)))
		if err != nil {
			b.Fatal(err)
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, src); err != nil {
			b.Fatal(err)
		}
		paethPNG = buf.Bytes()
	})
	return paethPNG
}

// inputs12MP are the 12 megapixel PNGs the decoders are benchmarked on.
var inputs12MP = []struct {
	name string
	data func(*testing.B) []byte
}{
	{"png-12mp.png (libvips: no filter)", png12MP},
	{"the same written by image/png (Paeth)", pngPaeth12MP},
}

// BenchmarkDecode12MP reduces the 12 megapixel PNG 31-fold, as thumb does for a 64x64 box.
func BenchmarkDecode12MP(b *testing.B) {
	for _, bm := range inputs12MP {
		b.Run(bm.name, func(b *testing.B) {
			data := bm.data(b)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Decode(data, 31); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkImagePNG12MP is image/png's full-size decode of the same files, for comparison.
func BenchmarkImagePNG12MP(b *testing.B) {
	for _, bm := range inputs12MP {
		b.Run(bm.name, func(b *testing.B) {
			data := bm.data(b)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := png.Decode(bytes.NewReader(data)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkInflate12MP inflates the pixel data of the 12 megapixel PNG alone, with package inflate
// and with compress/zlib.
func BenchmarkInflate12MP(b *testing.B) {
	data := png12MP(b)
	h, err := parse(data)
	if err != nil {
		b.Fatal(err)
	}
	row := make([]byte, 1+(h.width*h.depth*channels(h.colorType)+7)/8)
	b.Run("inflater (used)", func(b *testing.B) {
		b.ReportAllocs()
		f := new(inflate.Reader)
		for b.Loop() {
			ir := idatReader{data: data, pos: h.idat}
			if err := f.Reset(&ir); err != nil {
				b.Fatal(err)
			}
			for range h.height {
				if err := f.ReadFull(row); err != nil {
					b.Fatal(err)
				}
			}
			if err := f.Finish(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("compress/zlib", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ir := idatReader{data: data, pos: h.idat}
			r, err := zlib.NewReader(&ir)
			if err != nil {
				b.Fatal(err)
			}
			for range h.height {
				if _, err := io.ReadFull(r, row); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
