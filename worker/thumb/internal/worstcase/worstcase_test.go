package worstcase

import (
	"bytes"
	"errors"
	"image"
	_ "image/gif"
	_ "image/jpeg"
	_ "image/png"
	"os"
	"os/exec"
	"strings"
	"testing"

	_ "golang.org/x/image/bmp"
	_ "golang.org/x/image/tiff"
	_ "golang.org/x/image/webp"

	"github.com/thumbq/thumbq/worker/thumb/bmpscale"
)

// TestCasesDecode: every case, written small, is a valid file of its size that the standard or
// x/image decoder reads; RLE BMP, which x/image/bmp refuses, bmpscale and ImageMagick's identify
// read (identify where it is installed).
func TestCasesDecode(t *testing.T) {
	dir := t.TempDir()
	for _, c := range Cases() {
		t.Run(c.Name, func(t *testing.T) {
			path, err := WriteFile(c, dir, 1037, 611)
			if errors.Is(err, ErrNoTool) {
				t.Skip(err)
			}
			if err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			img, _, err := image.Decode(bytes.NewReader(data))
			if strings.HasPrefix(c.Name, "bmp-rle") {
				if err == nil {
					t.Fatal("x/image/bmp decodes RLE now: make it a reference")
				}
				img, err = bmpscale.Decode(data, 1)
				identify(t, path, "1037x611")
			}
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if b := img.Bounds(); b.Dx() != 1037 || b.Dy() != 611 {
				t.Fatalf("decoded %v; want 1037x611", b)
			}
		})
	}
}

// identify checks that ImageMagick's identify reads the file at path as an RLE image of the size
// geometry ("1037x611"); without identify it does nothing.
func identify(t *testing.T, path, geometry string) {
	t.Helper()
	if _, err := exec.LookPath("identify"); err != nil {
		t.Logf("identify (ImageMagick) is not installed: %v", err)
		return
	}
	out, err := exec.Command("identify", "-format", "%wx%h %C", path).CombinedOutput()
	if err != nil {
		t.Fatalf("identify %s: %v: %s", path, err, out)
	}
	if got := strings.TrimSpace(string(out)); got != geometry+" RLE" {
		t.Fatalf("identify says %q; want %q", got, geometry+" RLE")
	}
}

// TestTIFFCompressions: each compression and layout WriteTIFF writes decodes to the same pixels.
func TestTIFFCompressions(t *testing.T) {
	var want image.Image
	for _, comp := range []int{tiffNone, tiffLZW, tiffDeflate, tiffPackBits} {
		for _, tile := range []int{0, 64} {
			for _, pred := range []bool{false, true} {
				var buf bytes.Buffer
				if err := WriteTIFF(&buf, 700, 300, 8, comp, tile, pred, noisy); err != nil {
					t.Fatal(err)
				}
				img, _, err := image.Decode(&buf)
				if err != nil {
					t.Fatalf("compression %d, tile %d, predictor %v: %v", comp, tile, pred, err)
				}
				if want == nil {
					want = img
					continue
				}
				for y := range 300 {
					for x := range 700 {
						if img.At(x, y) != want.At(x, y) {
							t.Fatalf("compression %d, tile %d, predictor %v: pixel (%d,%d) = %v; want %v", comp, tile, pred, x, y, img.At(x, y), want.At(x, y))
						}
					}
				}
			}
		}
	}
}
