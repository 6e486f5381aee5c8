package thumb

import (
	"context"
	"errors"
	"image"
	"io"
	"path/filepath"
	"testing"

	"github.com/thumbq/thumbq/worker/failure"
)

// withoutScaledJPEG runs f with JPEG decoded at full size by image/jpeg, as before jpegscale.
// Tests of this package do not run in parallel.
func withoutScaledJPEG(f func()) {
	defer swapFormat("jpeg", func(f *format) { f.decodeReduced = nil })()
	f()
}

// TestJPEGThumbnailsMatchVipsthumbnail compares Make's thumbnails of JPEG photos, decoded reduced
// in the DCT domain, with those of libvips 8.14.1 (`vipsthumbnail -s 64x64`, which also reduces
// JPEG while decoding, with libjpeg-turbo), kept in testdata/reference.
func TestJPEGThumbnailsMatchVipsthumbnail(t *testing.T) {
	tests := []struct {
		name      string
		file      string
		w, h      int
		tolerance float64 // mean difference in levels of 255, measured then rounded up
	}{
		{"a baseline 4:2:0 photo decoded at 1/8", "photos/photo-420.jpg", 64, 43, 1.0},
		{"a progressive 4:2:0 photo decoded at 1/8 from its DC scans", "photos/photo-progressive.jpg", 64, 48, 0.9},
		{"a 4:4:4 photo decoded at 1/8", "photos/photo-444.jpg", 64, 36, 1.1},
		{"a grey photo decoded at 1/8", "photos/photo-gray.jpg", 64, 36, 0.6},
		{"a photo with EXIF orientation 6 is decoded at 1/8 and turned upright", "orientation/photo-orientation-6.jpg", 64, 43, 1.8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := readFile(t, tt.file)
			res, got := mustMake(t, data, Options{})
			if res.Width != tt.w || res.Height != tt.h {
				t.Fatalf("Make(%s) = %dx%d; want %dx%d", tt.file, res.Width, res.Height, tt.w, tt.h)
			}
			ref := filepath.Join("reference", filepath.Base(tt.file)+".png")
			want := decodePNG(t, ref)
			d := meanDiff(got, want)
			var full float64
			withoutScaledJPEG(func() {
				_, img := mustMake(t, data, Options{})
				full = meanDiff(img, want)
			})
			if d > tt.tolerance {
				t.Errorf("thumbnail of %s differs from %s by %.2f on average; want at most %.1f (image/jpeg at full size: %.2f)", tt.file, ref, d, tt.tolerance, full)
			} else {
				t.Logf("thumbnail of %s differs from %s by %.2f on average (image/jpeg at full size: %.2f)", tt.file, ref, d, full)
			}
		})
	}
}

func TestJPEGIsDecodedReducedWhereItCanBe(t *testing.T) {
	tests := []struct {
		name   string
		file   string
		sw, sh int // size of the source
		shrink int
		w, h   int // size of the decoded image; 0 when the full-size decoder must take it
	}{
		{"a 1200x800 photo allowed 9 is decoded at 1/8", "photos/photo-420.jpg", 1200, 800, 9, 150, 100},
		{"allowed 7 it is decoded at 1/4", "photos/photo-420.jpg", 1200, 800, 7, 300, 200},
		{"allowed 2 it is decoded at 1/2", "photos/photo-420.jpg", 1200, 800, 2, 600, 400},
		{"a progressive photo allowed 8 is decoded at 1/8", "photos/photo-progressive.jpg", 1024, 768, 8, 128, 96},
		{"a CMYK (Adobe YCCK) JPEG allowed 8 is decoded at 1/8", "cmyk.jpg", 300, 200, 8, 38, 25},
		{"allowed 1 it goes to image/jpeg", "cmyk.jpg", 300, 200, 1, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, err := decodeJPEGReduced(context.Background(), readFile(t, tt.file), tt.sw, tt.sh, tt.shrink)
			if tt.w == 0 {
				if !errors.Is(err, errFullDecode) {
					t.Errorf("decodeJPEGReduced(%s) = %v; want errFullDecode", tt.file, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("decodeJPEGReduced(%s, %d): %v", tt.file, tt.shrink, err)
			}
			if b := img.Bounds(); b.Dx() != tt.w || b.Dy() != tt.h {
				t.Errorf("decodeJPEGReduced(%s, %d) = %dx%d; want %dx%d", tt.file, tt.shrink, b.Dx(), b.Dy(), tt.w, tt.h)
			}
		})
	}
}

func TestATruncatedJPEGIsCorrupt(t *testing.T) {
	data := readFile(t, "photos/photo-420.jpg")
	_, err := Make(context.Background(), data[:len(data)/2], Options{})
	if reason := codeOf(t, err); reason != failure.Corrupt || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("Make(half of photo-420.jpg) = %v; want %s wrapping io.ErrUnexpectedEOF", err, failure.Corrupt)
	}
}

func TestTrimPartialEdgesKeepsTheTrueGeometry(t *testing.T) {
	tests := []struct {
		name         string
		w, h         int // source
		f            int // reduced by 1/f
		dw, dh       int // decoded
		wantW, wantH int
	}{
		{"1200x675 at 1/8 loses a last row of 3 source rows", 1200, 675, 8, 150, 85, 150, 84},
		{"4001x3000 at 1/8 loses a last column of 1 source column", 4001, 3000, 8, 501, 375, 500, 375},
		{"1205x677 at 1/8 keeps a last column and row of 5 source pixels", 1205, 677, 8, 151, 85, 151, 85},
		{"an image at full size is left alone", 675, 675, 1, 675, 675, 675, 675},
		{"a 3 pixel high source keeps its one row", 4001, 3, 8, 501, 1, 500, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := image.NewYCbCr(image.Rect(0, 0, tt.dw, tt.dh), image.YCbCrSubsampleRatio420)
			b := trimPartialEdges(img, tt.w, tt.h, tt.f).Bounds()
			if b.Dx() != tt.wantW || b.Dy() != tt.wantH {
				t.Errorf("trimPartialEdges(%dx%d of %dx%d) = %dx%d; want %dx%d", tt.dw, tt.dh, tt.w, tt.h, b.Dx(), b.Dy(), tt.wantW, tt.wantH)
			}
		})
	}
}
