package thumb

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"path/filepath"
	"testing"

	"github.com/thumbq/thumbq/worker/fit"
)

// TestModesMatchVipsthumbnail compares cover and fill thumbnails with libvips 8.14.1's, kept in
// testdata/reference/fit: cover with `vipsthumbnail -s WxH -m centre` (its centre smart crop),
// fill with `vipsthumbnail -s 'WxH!'` (its forced size).
func TestModesMatchVipsthumbnail(t *testing.T) {
	tests := []struct {
		name      string
		file      string
		box       string
		tolerance float64 // mean difference in levels of 255, measured then rounded up
	}{
		{"cover crops the centre of a 3:2 photo to a square", "photos/photo-420.jpg", "64x64:cover", 0.7},
		{"cover of a larger square crops the same centre", "photos/photo-420.jpg", "96x96:cover", 0.7},
		{"cover of a photo turned by EXIF crops the upright picture", "orientation/photo-orientation-6.jpg", "64x32:cover", 1.7},
		{"fill stretches a 3:2 photo to 5:2", "photos/photo-420.jpg", "100x40:fill", 0.7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			box := fit.MustParse(tt.box)[0]
			res, got := mustMake(t, readFile(t, tt.file), Options{Sizes: []fit.Box{box}})
			if res.Width != box.Width || res.Height != box.Height {
				t.Fatalf("Make(%s, %s) = %dx%d; want %dx%d", tt.file, tt.box, res.Width, res.Height, box.Width, box.Height)
			}
			ref := filepath.Join("reference", "fit", filepath.Base(tt.file)+"."+box.Prefix()+".png")
			if d := meanDiff(got, decodePNG(t, ref)); d > tt.tolerance {
				t.Errorf("%s thumbnail of %s differs from %s by %.2f on average; want at most %.1f", tt.box, tt.file, ref, d, tt.tolerance)
			} else {
				t.Logf("%s thumbnail of %s differs from %s by %.2f on average", tt.box, tt.file, ref, d)
			}
		})
	}
}

// TestSeveralSizesComeFromOneDecode makes four boxes of a 1200x800 photo at once and checks each
// against the same box made alone: the image is decoded once, at the reduction the largest box
// allows, so the smaller ones come from a less reduced decode than alone, and differ only by
// resampling.
func TestSeveralSizesComeFromOneDecode(t *testing.T) {
	data := readFile(t, "photos/photo-420.jpg")
	boxes := fit.MustParse("64x64,256x256:cover,100x40:fill,64x64:pad")
	decodes := 0
	restore := swapFormat("jpeg", func(f *format) {
		reduced := f.decodeReduced
		f.decodeReduced = func(ctx context.Context, data []byte, w, h, shrink int) (image.Image, error) {
			decodes++
			if shrink != 1 {
				panic(fmt.Sprintf("decodeReduced asked for shrink %d; the 384x256 cover needs 1", shrink))
			}
			return reduced(ctx, data, w, h, shrink)
		}
		full := f.decode
		f.decode = func(data []byte) (image.Image, error) { decodes++; return full(data) }
	})
	res, err := Make(context.Background(), data, Options{Sizes: boxes})
	restore()
	if err != nil {
		t.Fatal(err)
	}
	if decodes != 1 {
		t.Errorf("Make with %d sizes decoded %d times; want once", len(boxes), decodes)
	}
	want := []struct {
		box  string
		w, h int
	}{{"64x64", 64, 43}, {"256x256:cover", 256, 256}, {"100x40:fill", 100, 40}, {"64x64:pad", 64, 64}}
	if len(res.Thumbnails) != len(want) {
		t.Fatalf("Make with %d sizes gave %d thumbnails", len(boxes), len(res.Thumbnails))
	}
	for i, w := range want {
		th := res.Thumbnails[i]
		t.Run(w.box+" is made as if alone", func(t *testing.T) {
			if th.Box.String() != w.box || th.Width != w.w || th.Height != w.h {
				t.Fatalf("thumbnail %d = %s %dx%d; want %s %dx%d", i, th.Box, th.Width, th.Height, w.box, w.w, w.h)
			}
			got := decodePNGBytes(t, th.PNG)
			_, alone := mustMake(t, data, Options{Sizes: []fit.Box{th.Box}})
			if d := meanDiff(got, alone); d > 1.0 {
				t.Errorf("%s made with the others differs from %s made alone by %.2f on average; want at most 1", w.box, w.box, d)
			}
		})
	}
	if res.Width != 64 || res.Height != 43 || &res.PNG[0] != &res.Thumbnails[0].PNG[0] {
		t.Errorf("Result's own PNG and size = %dx%d; want the first thumbnail's, 64x43", res.Width, res.Height)
	}
}

// TestPadCentresTheContainedImage checks the pad canvas: exactly the box, transparent margins,
// and the contain thumbnail, pixel for pixel, in the middle.
func TestPadCentresTheContainedImage(t *testing.T) {
	tests := []struct {
		name     string
		file     string
		box      string
		contain  string
		offX, oY int
	}{
		{"a 3:2 photo is padded above and below", "photos/photo-420.jpg", "64x64:pad", "64x64", 0, 10},
		{"a photo stored on its side is turned upright, then padded above and below", "orientation/photo-orientation-6.jpg", "64x64:pad", "64x64", 0, 10},
		{"a 300x200 image is not enlarged: it sits in the middle of a 400x400 box", "progressive.jpg", "400x400:pad", "400x400", 50, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := readFile(t, tt.file)
			res, got := mustMake(t, data, Options{Sizes: fit.MustParse(tt.box)})
			_, inner := mustMake(t, data, Options{Sizes: fit.MustParse(tt.contain)})
			box := fit.MustParse(tt.box)[0]
			if res.Width != box.Width || res.Height != box.Height {
				t.Fatalf("Make(%s) = %dx%d; want the whole box %dx%d", tt.box, res.Width, res.Height, box.Width, box.Height)
			}
			ib := inner.Bounds()
			at := image.Rect(tt.offX, tt.oY, tt.offX+ib.Dx(), tt.oY+ib.Dy())
			for y := range res.Height {
				for x := range res.Width {
					p := premul(got, x, y)
					in := image.Pt(x, y).In(at)
					if !in && p[3] != 0 {
						t.Fatalf("pixel (%d,%d) = %.0f outside the image at %v; want transparent", x, y, p, at)
					}
					if in && p != premul(inner, x-tt.offX, y-tt.oY) {
						t.Fatalf("pixel (%d,%d) = %.0f; want the contain thumbnail's %.0f", x, y, p, premul(inner, x-tt.offX, y-tt.oY))
					}
				}
			}
		})
	}
}

func TestEstimateCoversEverySize(t *testing.T) {
	data := readFile(t, "photos/photo-420.jpg")
	_, one, err := Estimate(data, Options{Sizes: fit.MustParse("64x64")})
	if err != nil {
		t.Fatal(err)
	}
	_, three, err := Estimate(data, Options{Sizes: fit.MustParse("64x64,256x256:cover,1024x1024")})
	if err != nil {
		t.Fatal(err)
	}
	// The 1024 box leaves the 1200x800 JPEG unreduced: at least its full-size planes and a
	// 1024x683 thumbnail's copies on top of the 64x64 alone.
	if min := one + 1200*800*3 + 3*4*1024*683; three < min {
		t.Errorf("Estimate for three sizes = %d; want at least %d (one size: %d)", three, min, one)
	}
}

func decodePNGBytes(t testing.TB, data []byte) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("the thumbnail is not a PNG: %v", err)
	}
	return img
}
