package thumb

import (
	"path/filepath"
	"testing"
)

// withoutScaledJPEG runs f with JPEG decoded at full size by image/jpeg, as before jpegscale.
// Tests of this package do not run in parallel.
func withoutScaledJPEG(f func()) {
	saved := scaledDecoders["jpeg"]
	delete(scaledDecoders, "jpeg")
	defer func() { scaledDecoders["jpeg"] = saved }()
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
