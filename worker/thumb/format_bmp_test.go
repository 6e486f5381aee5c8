package thumb

import (
	"context"
	"fmt"
	"testing"

	"github.com/thumbq/thumbq/worker/failure"
)

// TestRLEBMPLooksLikeImageMagicksPicture: an RLE8 and an RLE4 BMP (bmpscale's fixtures) make, in a
// box small enough to be reduced while decoding and in one that needs the full size, the
// thumbnail of ImageMagick's picture of them; their header is read as Make reads it.
func TestRLEBMPLooksLikeImageMagicksPicture(t *testing.T) {
	for _, name := range []string{"rose-rle8", "rose-rle4"} {
		for _, box := range []int{16, 64} {
			t.Run(fmt.Sprintf("%s in a %d pixel box", name, box), func(t *testing.T) {
				data := readFile(t, "../bmpscale/testdata/"+name+".bmp")
				opts := Options{Width: box, Height: box}
				h, _, err := Estimate(data, opts)
				if err != nil || h.Format != "bmp" || h.Width != 70 || h.Height != 46 {
					t.Fatalf("Estimate = %+v, %v; want bmp 70x46", h, err)
				}
				res, got := mustMake(t, data, opts)
				_, want := mustMake(t, readFile(t, "../bmpscale/testdata/"+name+".png"), opts)
				if res.Format != "bmp" {
					t.Errorf("Make's format = %q; want bmp", res.Format)
				}
				if d := meanDiff(got, want); d > 1 {
					t.Errorf("thumbnail differs from ImageMagick's picture's by %.2f; want at most 1", d)
				}
			})
		}
	}
}

// TestBMPCompressionsRefused: a BMP compressed otherwise than RLE (here BI_JPEG) is refused as
// unsupported-format from its header; a truncated RLE BMP is corrupt.
func TestBMPCompressionsRefused(t *testing.T) {
	data := readFile(t, "../bmpscale/testdata/rose-rle8.bmp")
	jpeg := append([]byte(nil), data...)
	jpeg[30] = 4
	if _, _, err := Estimate(jpeg, Options{}); failure.As(err) == nil || failure.As(err).Code != failure.Unsupported {
		t.Errorf("Estimate(BI_JPEG BMP) = %v; want unsupported-format", err)
	}
	_, err := Make(context.Background(), data[:len(data)/2], Options{})
	if f := failure.As(err); f == nil || f.Code != failure.Corrupt {
		t.Errorf("Make(half an RLE8 BMP) = %v; want corrupt", err)
	}
}
