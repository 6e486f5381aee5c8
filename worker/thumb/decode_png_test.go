package thumb

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// TestPNGThumbnailsMatchLibvips compares thumbnails of PNG fixtures with libvips' (vipsthumbnail
// -s 64x64, committed under testdata/reference), colour and alpha. The photos are big enough to
// be reduced while decoding (by 2); the others are decoded in full.
func TestPNGThumbnailsMatchLibvips(t *testing.T) {
	for _, tt := range []struct {
		file      string
		tolerance float64
	}{
		{"photo-rgb.png", 2.5},
		{"photo-alpha.png", 2.5},
		{"rgb16.png", 2.5},
		{"palette-alpha.png", 2.5},
		{"gray-alpha.png", 2.5},
	} {
		t.Run("the thumbnail of "+tt.file+" looks like libvips'", func(t *testing.T) {
			res, got := mustMake(t, readFile(t, tt.file), Options{})
			want := decodePNG(t, "reference/"+tt.file+".png")
			if res.Width != want.Bounds().Dx() || res.Height != want.Bounds().Dy() {
				t.Fatalf("Make(%s) = %dx%d; libvips made %v", tt.file, res.Width, res.Height, want.Bounds().Size())
			}
			if d := meanDiff(got, want); d > tt.tolerance {
				t.Errorf("thumbnail of %s differs from libvips' by %.2f on average; want at most %.1f", tt.file, d, tt.tolerance)
			} else {
				t.Logf("mean difference from libvips %.2f", d)
			}
		})
	}
}

// TestLibvipsComparisonCatchesAlphaBleeding: averaging straight (not premultiplied) colour lets
// the black under the transparent frame of photo-alpha.png darken its edges; the comparison
// above must see that.
func TestLibvipsComparisonCatchesAlphaBleeding(t *testing.T) {
	src, ok := decodePNG(t, "photo-alpha.png").(*image.NRGBA)
	if !ok {
		t.Fatal("photo-alpha.png does not decode to NRGBA")
	}
	wrong := &image.RGBA{Pix: src.Pix, Stride: src.Stride, Rect: src.Rect} // straight colour read as premultiplied
	got := scale(wrong, 64, 43)
	want := decodePNG(t, "reference/photo-alpha.png.png")
	if d := meanDiff(got, want); d <= 2.5 {
		t.Errorf("averaging straight colour differs from libvips by only %.2f; want more than the 2.5 allowed", d)
	} else {
		t.Logf("averaging straight colour: mean difference %.2f", d)
	}
}

// TestScaledPNGDecodeLooksLikeTheFullDecode: for a PNG big enough to be reduced while decoding,
// Make gives the thumbnail it gives through image/png and the box pre-shrink.
func TestScaledPNGDecodeLooksLikeTheFullDecode(t *testing.T) {
	for _, file := range []string{"photo-rgb.png", "photo-alpha.png"} {
		t.Run(file, func(t *testing.T) {
			data := readFile(t, file)
			j := &job{data: data, format: &pngFormat, opts: Options{}.withDefaults(), orientation: 1}
			if e := checkLimits(j); e != nil {
				t.Fatal(e)
			}
			if k := j.shrink(); k < 2 {
				t.Fatalf("%s is shrunk %d-fold; want a fixture big enough to be reduced while decoding", file, k)
			}
			img, err := decodePNGReduced(context.Background(), data, j.width, j.height, j.shrink())
			if err != nil {
				t.Fatal(err)
			}
			full, err := png.Decode(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if d := maxPixelDiff(img, boxShrink(full, j.shrink())); d > 1 {
				t.Errorf("reduced while decoding, %s differs from image/png's decode box-shrunk by up to %.0f; want at most 1", file, d)
			}
		})
	}
}

func TestAnInterlacedPNGIsReducedWhileDecodingToo(t *testing.T) {
	path := filepath.Join(goroot(), "src", "image", "png", "testdata", "pngsuite", "basn3p04-31i.png") // Adam7, despite its name
	data, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("PngSuite is not installed: %v", err)
	}
	got, err := decodePNGReduced(context.Background(), data, 32, 32, 2)
	if err != nil {
		t.Fatalf("decodePNGReduced(interlaced, 2) = %v; want the image reduced", err)
	}
	full, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if d := maxPixelDiff(got, boxShrink(full, 2)); d > 1 {
		t.Errorf("reduced while decoding, it differs from image/png's decode box-shrunk by up to %.0f; want at most 1", d)
	}
}
