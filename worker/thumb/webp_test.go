package thumb

import (
	"bytes"
	"image"
	"testing"

	"golang.org/x/image/webp"
)

// TestWebPColoursMatchLibwebp checks the mean colour of lossy WebP thumbnails against libvips'
// thumbnails (libwebp decoding, committed under testdata/reference), and that the check would
// catch the limited-range bug of golang.org/x/image/webp (golang/go#40173) if webpscale did not
// correct it.
func TestWebPColoursMatchLibwebp(t *testing.T) {
	for _, file := range []string{"lossy.webp", "lossy-alpha.webp", "lossless-alpha.webp"} {
		want := meanColour(decodePNG(t, "reference/"+file+".png"))
		t.Run("the thumbnail of "+file+" has libwebp's mean colour", func(t *testing.T) {
			_, got := mustMake(t, readFile(t, file), Options{})
			if d := colourDistance(meanColour(got), want); d > 1.5 {
				t.Errorf("mean colour = %.1f; want %.1f (libwebp), within 1.5", meanColour(got), want)
			}
		})
	}
	t.Run("without the range correction the lossy thumbnail would be visibly off", func(t *testing.T) {
		raw, err := webp.Decode(bytes.NewReader(readFile(t, "lossy.webp")))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := raw.(*image.YCbCr); !ok {
			t.Skipf("x/image/webp now returns %T, not YCbCr: check whether webpscale's correction still applies", raw)
		}
		got := scale(raw, 64, 43)
		want := decodePNG(t, "reference/lossy.webp.png")
		if d := meanDiff(got, want); d < 3 {
			t.Errorf("uncorrected thumbnail differs from libwebp's by only %.2f; want more than the 3 allowed above, or the correction is no longer needed", d)
		} else if c := colourDistance(meanColour(got), meanColour(want)); c < 1.5 {
			t.Errorf("uncorrected mean colour is only %.2f from libwebp's; want more than the 1.5 allowed above", c)
		} else {
			t.Logf("uncorrected: mean colour %.1f vs libwebp %.1f, mean pixel difference %.2f", meanColour(got), meanColour(want), d)
		}
	})
}
