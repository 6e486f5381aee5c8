package jpegscale

import (
	"bytes"
	"errors"
	"image/jpeg"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecode checks that Decode never panics, and that where image/jpeg decodes the input,
// Decode either leaves it to the full decoder (UnsupportedError) or agrees: at 1/1 with about the
// same pixels, at 1/8 and 1/2 with the right size. "About": on random data the coefficients can
// be huge, and image/jpeg's integer IDCT then wraps around where this package's clamps (found by
// the fuzzer: a mean difference of 6.25 on a 17x48 image); a decoder that lost its place in the
// bit stream would differ by far more.
func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.jpg")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	defer func(saved int64) { maxPixels = saved }(maxPixels)
	maxPixels = 1 << 20
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, scale := range []int{8, 2} {
			// Must not panic, whatever it returns, and must not depend on the skip tables.
			if err := sameWithSkipTables(data, scale); err != nil {
				t.Fatalf("1/%d: %v", scale, err)
			}
		}
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(data))
		if err != nil || int64(cfg.Width*cfg.Height) > maxPixels {
			return // keep each run quick: image/jpeg would allocate the whole image
		}
		ref, err := jpeg.Decode(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, scale := range []int{1, 8, 2} {
			got, err := Decode(data, scale)
			if errors.As(err, new(UnsupportedError)) {
				return
			}
			if err != nil {
				t.Fatalf("image/jpeg decodes the input but Decode at 1/%d fails: %v", scale, err)
			}
			d, err := diffImages(ref, got, scale)
			if err != nil {
				t.Fatalf("1/%d: %v", scale, err)
			}
			if scale == 1 && d > 12 {
				t.Fatalf("1/1: mean difference from image/jpeg = %.2f; want at most 12", d)
			}
		}
	})
}
