package thumb

import (
	"bytes"
	"image"
	"image/color"
	"image/gif"
	"testing"

	"github.com/thumbq/thumbq/worker/fit"
)

// photo.png is libvips' thumbnail of the upright 1800x1200 photograph from which every photo
// fixture was made (by ImageMagick, cwebp), so it is an independent reference for them all.
const photoReference = "reference/photo.png"

func TestMakeDecodesEveryFormat(t *testing.T) {
	tests := []struct {
		name        string
		file        string
		format      string
		w, h        int // thumbnail size
		sw, sh      int // source size as displayed
		orientation int
		alpha       bool    // whether some thumbnail pixels must be transparent
		reference   string  // a thumbnail by other software to compare with; "" for none
		gray        bool    // compare only the luma with the reference
		tolerance   float64 // largest mean pixel difference from the reference
	}{
		{"a progressive JPEG looks like the photo", "progressive.jpg", "jpeg", 64, 43, 300, 200, 1, false, photoReference, false, 4},
		{"a CMYK JPEG (Adobe YCCK) has the photo's colours", "cmyk.jpg", "jpeg", 64, 43, 300, 200, 1, false, photoReference, false, 5},
		{"a grey JPEG has the photo's luma", "gray.jpg", "jpeg", 64, 43, 300, 200, 1, false, photoReference, true, 4},
		{"a 16-bit PNG looks like the photo", "rgb16.png", "png", 64, 43, 150, 100, 1, false, photoReference, false, 4},
		{"a palette PNG with transparency keeps it", "palette-alpha.png", "png", 64, 43, 150, 100, 1, true, "", false, 0},
		{"a grey PNG with alpha keeps it", "gray-alpha.png", "png", 64, 43, 150, 100, 1, true, "", false, 0},
		{"a 24-bit BMP looks like the photo", "image.bmp", "bmp", 64, 43, 300, 200, 1, false, photoReference, false, 4},
		{"an LZW TIFF looks like the photo", "image.tiff", "tiff", 64, 43, 300, 200, 1, false, photoReference, false, 4},
		{"a TIFF with orientation 6 is turned upright", "orientation-6.tiff", "tiff", 64, 43, 300, 200, 6, false, photoReference, false, 5},
		{"a lossy WebP has libwebp's colours", "lossy.webp", "webp", 64, 43, 300, 200, 1, false, "reference/lossy.webp.png", false, 3},
		{"a lossy WebP with alpha has libwebp's colours and alpha", "lossy-alpha.webp", "webp", 64, 43, 300, 200, 1, true, "reference/lossy-alpha.webp.png", false, 3},
		{"a lossless WebP with alpha has libwebp's colours and alpha", "lossless-alpha.webp", "webp", 64, 43, 300, 200, 1, true, "reference/lossless-alpha.webp.png", false, 3},
		{"a WebP with an EXIF chunk of orientation 6 is turned upright", "orientation-6.webp", "webp", 64, 43, 300, 200, 6, false, photoReference, false, 5},
		{"a panorama keeps its shape", "panorama.jpg", "jpeg", 64, 8, 4000, 500, 1, false, "", false, 0},
		{"a 1x1 PNG is not enlarged", "one-pixel.png", "png", 1, 1, 1, 1, 1, false, "", false, 0},
		{"an animated GIF gives its first frame", "animated.gif", "gif", 64, 48, 80, 60, 1, false, "", false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, got := mustMake(t, readFile(t, tt.file), Options{})
			if res.Width != tt.w || res.Height != tt.h {
				t.Errorf("Make(%s %dx%d) = %dx%d; want %dx%d", tt.file, res.SourceWidth, res.SourceHeight, res.Width, res.Height, tt.w, tt.h)
			}
			if res.SourceWidth != tt.sw || res.SourceHeight != tt.sh {
				t.Errorf("Make(%s) source = %dx%d; want %dx%d", tt.file, res.SourceWidth, res.SourceHeight, tt.sw, tt.sh)
			}
			if res.Format != tt.format || res.Orientation != tt.orientation {
				t.Errorf("Make(%s) format, orientation = %q, %d; want %q, %d", tt.file, res.Format, res.Orientation, tt.format, tt.orientation)
			}
			if transparent := !got.(interface{ Opaque() bool }).Opaque(); transparent != tt.alpha {
				t.Errorf("Make(%s) has transparent pixels = %v; want %v", tt.file, transparent, tt.alpha)
			}
			if tt.reference != "" {
				want, have := decodePNG(t, tt.reference), got
				if tt.gray {
					want, have = toGray(want), toGray(have)
				}
				if d := meanDiff(have, want); d > tt.tolerance {
					t.Errorf("thumbnail of %s differs from %s by %.2f on average; want at most %.1f", tt.file, tt.reference, d, tt.tolerance)
				} else {
					t.Logf("thumbnail of %s differs from %s by %.2f on average", tt.file, tt.reference, d)
				}
			}
			checkGolden(t, tt.file, res, got)
		})
	}
}

func TestMakeKeepsPixelsRight(t *testing.T) {
	t.Run("the first frame of the animated GIF is red, not the blue second frame", func(t *testing.T) {
		_, got := mustMake(t, readFile(t, "animated.gif"), Options{})
		if m := meanColour(got); colourDistance(m, [4]float64{255, 0, 0, 255}) > 1 {
			t.Errorf("mean colour = %.0f; want pure red", m)
		}
	})
	t.Run("the 1x1 PNG keeps its colour", func(t *testing.T) {
		_, got := mustMake(t, readFile(t, "one-pixel.png"), Options{})
		if p := premul(got, 0, 0); p != [4]float64{0x33, 0x66, 0xcc, 0xff} {
			t.Errorf("pixel = %.0f; want [51 102 204 255]", p)
		}
	})
	for _, file := range []string{"palette-alpha.png", "gray-alpha.png", "lossless-alpha.webp", "lossy-alpha.webp"} {
		t.Run("the corners of "+file+" stay transparent and its centre opaque", func(t *testing.T) {
			_, got := mustMake(t, readFile(t, file), Options{})
			b := got.Bounds()
			for _, pt := range []image.Point{{0, 0}, {b.Dx() - 1, 0}, {0, b.Dy() - 1}, {b.Dx() - 1, b.Dy() - 1}} {
				if a := premul(got, pt.X, pt.Y)[3]; a > 8 {
					t.Errorf("alpha at %v = %.0f; want about 0", pt, a)
				}
			}
			if a := premul(got, b.Dx()/2, b.Dy()/2)[3]; a < 250 {
				t.Errorf("alpha at the centre = %.0f; want 255", a)
			}
		})
	}
	t.Run("the grey PNG with alpha stays grey", func(t *testing.T) {
		_, got := mustMake(t, readFile(t, "gray-alpha.png"), Options{})
		b := got.Bounds()
		for y := range b.Dy() {
			for x := range b.Dx() {
				if p := premul(got, x, y); p[0] != p[1] || p[1] != p[2] {
					t.Fatalf("pixel (%d,%d) = %.0f; want R = G = B", x, y, p)
				}
			}
		}
	})
}

func TestFitKeepsTheAspectRatio(t *testing.T) {
	tests := []struct {
		name             string
		w, h, boxW, boxH int
		wantW, wantH     int
	}{
		{"a 4000x3000 photo fits as 64x48", 4000, 3000, 64, 64, 64, 48},
		{"a 3000x4000 photo fits as 48x64", 3000, 4000, 64, 64, 48, 64},
		{"a 4000x500 panorama fits as 64x8", 4000, 500, 64, 64, 64, 8},
		{"a 100000x1 line keeps one row", 100000, 1, 64, 64, 64, 1},
		{"a 1x1 image is not enlarged", 1, 1, 64, 64, 1, 1},
		{"a 64x64 image is kept", 64, 64, 64, 64, 64, 64},
		{"a 65x64 image shrinks to 64x63", 65, 64, 64, 64, 64, 63},
		{"a 1800x1200 photo fits a 200x100 box as 150x100", 1800, 1200, 200, 100, 150, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := fit.Box{Width: tt.boxW, Height: tt.boxH, Mode: fit.Contain}.Plan(tt.w, tt.h)
			if w, h := p.CanvasW, p.CanvasH; w != tt.wantW || h != tt.wantH {
				t.Errorf("fit(%dx%d in %dx%d) = %dx%d; want %dx%d", tt.w, tt.h, tt.boxW, tt.boxH, w, h, tt.wantW, tt.wantH)
			}
		})
	}
}

func TestMakeFitsTheConfiguredBox(t *testing.T) {
	res, _ := mustMake(t, readFile(t, "progressive.jpg"), Options{Width: 120, Height: 30})
	if res.Width != 45 || res.Height != 30 {
		t.Errorf("Make(300x200, box 120x30) = %dx%d; want 45x30", res.Width, res.Height)
	}
}

func TestAGIFFirstFrameSmallerThanItsScreenKeepsTheScreenSize(t *testing.T) {
	// An 80x60 screen whose first frame paints only its left half red; the rest stays transparent.
	frame := image.NewPaletted(image.Rect(0, 0, 40, 60), color.Palette{color.RGBA{255, 0, 0, 255}, color.Transparent})
	var buf bytes.Buffer
	err := gif.EncodeAll(&buf, &gif.GIF{
		Image:  []*image.Paletted{frame},
		Delay:  []int{0},
		Config: image.Config{ColorModel: frame.Palette, Width: 80, Height: 60},
	})
	if err != nil {
		t.Fatal(err)
	}
	res, got := mustMake(t, buf.Bytes(), Options{})
	if res.Width != 64 || res.Height != 48 || res.SourceWidth != 80 || res.SourceHeight != 60 {
		t.Fatalf("Make(80x60 GIF) = %dx%d from %dx%d; want 64x48 from 80x60", res.Width, res.Height, res.SourceWidth, res.SourceHeight)
	}
	if left, right := premul(got, 5, 24), premul(got, 58, 24); left != [4]float64{255, 0, 0, 255} || right[3] != 0 {
		t.Errorf("left, right pixels = %.0f, %.0f; want opaque red, transparent", left, right)
	}
}

func TestOptionsDefaults(t *testing.T) {
	tests := []struct {
		name      string
		in        Options
		want      Options
		wantBoxes string
	}{
		{"the zero Options mean a 64x64 box and 100 megapixels", Options{}, Options{Width: 64, Height: 64, MaxPixels: 100_000_000}, "64x64"},
		{"negative values mean the defaults too", Options{Width: -1, Height: -5, MaxPixels: -7}, Options{Width: 64, Height: 64, MaxPixels: 100_000_000}, "64x64"},
		{"set values are kept", Options{Width: 200, Height: 100, MaxPixels: 5}, Options{Width: 200, Height: 100, MaxPixels: 5}, "200x100"},
		{"sizes, when set, are the boxes", Options{Width: 200, Sizes: fit.MustParse("32x32:pad,8x8")}, Options{Width: 200, Height: 64, MaxPixels: 100_000_000}, "32x32:pad,8x8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.in.withDefaults()
			if got.Width != tt.want.Width || got.Height != tt.want.Height || got.MaxPixels != tt.want.MaxPixels {
				t.Errorf("%+v.withDefaults() = %+v; want %+v", tt.in, got, tt.want)
			}
			if b := fit.Format(tt.in.Boxes()); b != tt.wantBoxes {
				t.Errorf("%+v.Boxes() = %s; want %s", tt.in, b, tt.wantBoxes)
			}
		})
	}
}
