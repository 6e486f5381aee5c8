package thumb

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGoTestImages runs the standard library's own test images through Make: every variant of
// video-001 (JPEG subsamplings, progressive, CMYK, restart markers, GIF, PNG) must look like the
// thumbnail of video-001.png (or of its own PNG rendering), and every image of PngSuite (32x32 or smaller, so not resized) must
// keep its decoded pixels exactly.
func TestGoTestImages(t *testing.T) {
	dir := filepath.Join(goroot(), "src", "image", "testdata")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("Go's test images are not installed: %v", err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "video-001*"))
	for _, path := range files {
		name := filepath.Base(path)
		// A variant with its own PNG (CMYK made through a colour profile, a truncated progressive
		// JPEG that decodes to its first scans) must look like that PNG; the others like video-001.png.
		ref := strings.TrimSuffix(path, filepath.Ext(path)) + ".png"
		if _, err := os.Stat(ref); err != nil {
			ref = filepath.Join(dir, "video-001.png")
		}
		t.Run(name+" looks like "+filepath.Base(ref), func(t *testing.T) {
			_, want := mustMake(t, mustRead(t, ref), Options{})
			_, got := mustMake(t, mustRead(t, path), Options{})
			if d := meanDiff(got, want); d > 4 {
				t.Errorf("thumbnail of %s differs from %s's by %.2f; want at most 4", name, filepath.Base(ref), d)
			}
		})
	}

	suite, _ := filepath.Glob(filepath.Join(goroot(), "src", "image", "png", "testdata", "pngsuite", "*.png"))
	if len(suite) == 0 {
		t.Fatal("no PngSuite images found")
	}
	for _, path := range suite {
		name := filepath.Base(path)
		t.Run("PngSuite "+name+" keeps its pixels", func(t *testing.T) {
			data := mustRead(t, path)
			src, err := png.Decode(bytes.NewReader(data))
			if err != nil {
				t.Skipf("image/png does not decode it either: %v", err)
			}
			_, got := mustMake(t, data, Options{})
			worst := maxPixelDiff(got, src)
			if worst > 1 {
				t.Errorf("thumbnail of %s differs from the decoded image by up to %.0f in a premultiplied channel; want at most 1", name, worst)
			}
		})
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// maxPixelDiff is the largest difference of two same-sized images in any premultiplied 8-bit
// channel.
func maxPixelDiff(a, b image.Image) float64 {
	if a.Bounds().Size() != b.Bounds().Size() {
		return 256
	}
	var worst float64
	for y := range a.Bounds().Dy() {
		for x := range a.Bounds().Dx() {
			pa, pb := premul(a, x, y), premul(b, x, y)
			for c := range 4 {
				worst = max(worst, abs(pa[c]-pb[c]))
			}
		}
	}
	return worst
}

func abs(f float64) float64 { return max(f, -f) }
