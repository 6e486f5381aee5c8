package thumb

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/thumbq/thumbq/worker/failure"
	"github.com/thumbq/thumbq/worker/thumb/internal/worstcase"
)

// worstCases writes every worst case of package worstcase at width x height (those needing a
// missing tool are left out) and returns name -> bytes.
func worstCases(t *testing.T, width, height int) map[string][]byte {
	t.Helper()
	dir := t.TempDir()
	files := map[string][]byte{}
	for _, c := range worstcase.Cases() {
		path, err := worstcase.WriteFile(c, dir, width, height)
		if errors.Is(err, worstcase.ErrNoTool) {
			t.Logf("%s left out: %v", c.Name, err)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		files[filepath.Base(path)] = data
	}
	return files
}

// TestEstimateBoundsTheWorstCases: at a moderate size (3 MP), for each format's worst case, the
// estimate is at least all that Make allocates, as TestEstimateBoundsWhatMakeAllocates checks for
// the fixtures.
func TestEstimateBoundsTheWorstCases(t *testing.T) {
	for name, data := range worstCases(t, 2011, 1499) {
		for _, box := range []int{64, 400} {
			t.Run(fmt.Sprintf("%s in a %d pixel box", name, box), func(t *testing.T) {
				opts := Options{Width: box, Height: box}
				_, est, err := Estimate(data, opts)
				if failure.As(err) != nil && failure.As(err).Code == failure.Unsupported {
					t.Skip(err) // RLE BMP
				}
				if err != nil {
					t.Fatal(err)
				}
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				if _, err := Make(context.Background(), data, opts); err != nil {
					t.Fatal(err)
				}
				runtime.ReadMemStats(&after)
				if got := int64(after.TotalAlloc - before.TotalAlloc); got > est {
					t.Errorf("Make allocated %d bytes; Estimate said %d", got, est)
				}
			})
		}
	}
}

// TestMakeStopsWhenTheContextIsDone: for every worst case, a context already done stops Make with
// the context's error, which is no *failure.Error (the input is not at fault); a deadline that
// passes mid-decode does the same for the decoders that check it between rows or blocks.
func TestMakeStopsWhenTheContextIsDone(t *testing.T) {
	for name, data := range worstCases(t, 1500, 1000) {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			_, err := Make(ctx, data, Options{})
			if !errors.Is(err, context.Canceled) || failure.IsPermanent(err) {
				t.Fatalf("Make(cancelled) = %v; want context.Canceled, not a permanent failure", err)
			}
		})
	}
}

// TestTheReducedDecodersStopMidImage: a context cancelled after a few rows stops each reduced
// decoder (JPEG, PNG, TIFF) before the end: the cancel is made from inside the decode, when the
// decoder asks ctx.Err the second time.
func TestTheReducedDecodersStopMidImage(t *testing.T) {
	files := worstCases(t, 3000, 2000)
	for _, name := range []string{"jpeg-baseline.jpg", "jpeg-progressive.jpg", "png-rgb8.png", "png-rgb16-interlaced.png",
		"tiff-rgb16-deflate-noisy.tiff", "tiff-rgb8-lzw-tiled.tiff"} {
		t.Run(name, func(t *testing.T) {
			data := files[name]
			j := newJob(data, Options{})
			if err := j.run(context.Background(), headerSteps); err != nil {
				t.Fatal(err)
			}
			ctx := &countingContext{Context: context.Background(), after: 2}
			_, err := j.format.decodeReduced(ctx, data, j.width, j.height, j.shrink())
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("decodeReduced = %v after %d checks; want context.Canceled", err, ctx.calls)
			}
		})
	}
}

// countingContext is done from its after-th call of Err on.
type countingContext struct {
	context.Context
	after, calls int
}

func (c *countingContext) Err() error {
	c.calls++
	if c.calls >= c.after {
		return context.Canceled
	}
	return nil
}

// TestFormatPixelLimits: CMYK JPEG and WebP over their own pixel limits are refused as
// too-many-pixels, naming the limit, before decoding; under them they are made.
func TestFormatPixelLimits(t *testing.T) {
	files := worstCases(t, 200, 100)
	for _, tt := range []struct {
		file  string
		limit int64
	}{{"jpeg-cmyk.jpg", jpegCMYKMaxPixels}, {"jpeg-ycck.jpg", jpegCMYKMaxPixels},
		{"webp-lossless.webp", webpLosslessMaxPixels}, {"webp-lossy.webp", webpLossyMaxPixels}} {
		data, ok := files[tt.file]
		if !ok {
			continue // cwebp missing
		}
		if got, _ := formatNamed(sniffFormat(data).name).maxPixels(data); got != tt.limit {
			t.Errorf("%s: limit %d; want %d", tt.file, got, tt.limit)
		}
		if _, err := Make(context.Background(), data, Options{}); err != nil {
			t.Errorf("Make(%s 200x100) = %v; want a thumbnail", tt.file, err)
		}
	}
	big := worstCases(t, 4000, 4100) // 16.4 MP: over the CMYK and lossless WebP limits
	for _, name := range []string{"jpeg-cmyk.jpg", "jpeg-ycck.jpg", "webp-lossless.webp"} {
		data, ok := big[name]
		if !ok {
			continue
		}
		_, err := Make(context.Background(), data, Options{})
		if f := failure.As(err); f == nil || f.Code != failure.TooManyPixels {
			t.Errorf("Make(%s 4000x4100) = %v; want too-many-pixels", name, err)
		}
		if _, _, err := Estimate(data, Options{}); failure.As(err) == nil || failure.As(err).Code != failure.TooManyPixels {
			t.Errorf("Estimate(%s 4000x4100) = %v; want too-many-pixels", name, err)
		}
	}
}
