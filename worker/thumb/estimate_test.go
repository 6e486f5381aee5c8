package thumb

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"

	"github.com/thumbq/thumbq/worker/failure"
)

// TestEstimateReadsTheHeaderAsMakeDoes: Estimate names the format and size Make finds, and
// refuses what Make refuses with the same failure.
func TestEstimateReadsTheHeaderAsMakeDoes(t *testing.T) {
	withFullDecoder(t, inProcess(new(int))) // as the program sets it
	for _, name := range []string{"progressive.jpg", "photo-rgb.png", "animated.gif", "lossy.webp",
		"image.bmp", "../bmpscale/testdata/rose-rle8.bmp", "orientation-6.tiff", "orientation/Landscape_6.jpg", "image.heic", "notes.txt", "truncated.png"} {
		t.Run(name, func(t *testing.T) {
			data := readFile(t, name)
			h, n, err := Estimate(data, Options{})
			res, merr := Make(context.Background(), data, Options{})
			if merr != nil {
				var want *failure.Error
				errors.As(merr, &want)
				switch got := failure.As(err); {
				case got == nil && want.Code == failure.Corrupt: // corrupt pixels show only when decoding
				case got == nil || got.Error() != want.Error():
					t.Errorf("Estimate = %v; want Make's %v", err, merr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Estimate = %v; Make succeeds", err)
			}
			sw, sh := h.Width, h.Height
			if h.Orientation >= 5 {
				sw, sh = sh, sw
			}
			if h.Format != res.Format || sw != res.SourceWidth || sh != res.SourceHeight || h.Orientation != res.Orientation {
				t.Errorf("Estimate = %+v; Make found %s %dx%d, orientation %d", h, res.Format, res.SourceWidth, res.SourceHeight, res.Orientation)
			}
			if n <= encoderMemory {
				t.Errorf("Estimate = %d bytes; want more than the encoder's %d", n, encoderMemory)
			}
		})
	}
}

// TestEstimateBoundsWhatMakeAllocates: for every decodable fixture, reduced and at full size,
// the estimate is at least all that Make allocates (the total, which bounds the peak).
func TestEstimateBoundsWhatMakeAllocates(t *testing.T) {
	files := []string{"progressive.jpg", "cmyk.jpg", "gray.jpg", "panorama.jpg", "photos/photo-420.jpg",
		"photos/photo-444.jpg", "photos/photo-progressive.jpg", "photos/photo-gray.jpg", "photo-rgb.png",
		"photo-alpha.png", "rgb16.png", "palette-alpha.png", "gray-alpha.png", "animated.gif",
		"lossy.webp", "lossy-alpha.webp", "lossless-alpha.webp", "image.bmp", "../bmpscale/testdata/rose-rle8.bmp",
		"../bmpscale/testdata/rose-rle4.bmp", "image.tiff", "orientation-6.tiff"}
	for _, name := range files {
		for _, box := range []int{16, 64, 4000} {
			t.Run(fmt.Sprintf("%s in a %d pixel box", name, box), func(t *testing.T) {
				data := readFile(t, name)
				opts := Options{Width: box, Height: box}
				_, est, err := Estimate(data, opts)
				if err != nil {
					t.Fatal(err)
				}
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				if _, err := Make(context.Background(), data, opts); err != nil {
					t.Fatal(err)
				}
				runtime.ReadMemStats(&after)
				got := int64(after.TotalAlloc - before.TotalAlloc)
				if got > est {
					t.Errorf("Make allocated %d bytes; Estimate said %d", got, est)
				}
			})
		}
	}
}
