package thumb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
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
// decoder (JPEG, PNG, TIFF, GIF) before the end: the cancel is made from inside the decode, when the
// decoder asks ctx.Err the second time.
func TestTheReducedDecodersStopMidImage(t *testing.T) {
	files := worstCases(t, 3000, 2000)
	for _, name := range []string{"jpeg-baseline.jpg", "jpeg-progressive.jpg", "png-rgb8.png", "png-rgb16-interlaced.png",
		"tiff-rgb16-deflate-noisy.tiff", "tiff-rgb8-lzw-tiled.tiff", "gif.gif"} {
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

// TestFormatPixelLimits: WebP, lossy or lossless, with or without alpha, has no pixel limit of its
// own (webpscale streams them all), and a 16.4 MP lossless one is made. CMYK and YCCK JPEG have no
// limit of their own, but for those that only image/jpeg decodes (here: no Adobe marker), which
// keep the limit of a whole decode and are refused over it as too-many-pixels, naming the limit,
// before decoding.
func TestFormatPixelLimits(t *testing.T) {
	files := worstCases(t, 200, 100)
	files["jpeg-cmyk-no-adobe.jpg"] = withoutAdobe(t, files["jpeg-cmyk.jpg"])
	for _, tt := range []struct {
		file  string
		limit int64
	}{{"jpeg-cmyk.jpg", 0}, {"jpeg-ycck.jpg", 0}, {"jpeg-cmyk-no-adobe.jpg", jpegWholeCMYKMaxPixels},
		{"webp-lossless.webp", 0}, {"webp-lossy-alpha.webp", 0}, {"webp-lossy.webp", 0}, {"webp-lossy-alpha-raw.webp", 0}} {
		data, ok := files[tt.file]
		if !ok {
			continue // cwebp missing
		}
		var got int64
		if f := formatNamed(sniffFormat(data).name); f.maxPixels != nil {
			got, _ = f.maxPixels(data)
		}
		if got != tt.limit {
			t.Errorf("%s: limit %d; want %d", tt.file, got, tt.limit)
		}
		_, err := Make(context.Background(), data, Options{})
		if tt.file == "jpeg-cmyk-no-adobe.jpg" { // image/jpeg refuses it, after decoding it whole
			if f := failure.As(err); f == nil || f.Code != failure.Unsupported {
				t.Errorf("Make(%s 200x100) = %v; want unsupported-format", tt.file, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Make(%s 200x100) = %v; want a thumbnail", tt.file, err)
		}
	}
	big := worstCases(t, 4000, 4100) // 16.4 MP: over the whole-decode CMYK limit, and the lossless WebP one there was
	big["jpeg-cmyk-no-adobe.jpg"] = withoutAdobe(t, big["jpeg-cmyk.jpg"])
	for name, refused := range map[string]bool{"jpeg-cmyk.jpg": false, "jpeg-ycck.jpg": false,
		"jpeg-cmyk-no-adobe.jpg": true, "webp-lossless.webp": false, "webp-lossy-alpha.webp": false,
		"webp-lossy.webp": false, "webp-lossy-alpha-raw.webp": false} {
		data, ok := big[name]
		if !ok {
			continue
		}
		_, err := Make(context.Background(), data, Options{})
		if !refused {
			if err != nil {
				t.Errorf("Make(%s 4000x4100) = %v; want a thumbnail", name, err)
			}
			continue
		}
		if f := failure.As(err); f == nil || f.Code != failure.TooManyPixels {
			t.Errorf("Make(%s 4000x4100) = %v; want too-many-pixels", name, err)
		}
		if _, _, err := Estimate(data, Options{}); failure.As(err) == nil || failure.As(err).Code != failure.TooManyPixels {
			t.Errorf("Estimate(%s 4000x4100) = %v; want too-many-pixels", name, err)
		}
	}
}

// TestALargeCMYKJPEGIsNeverDecodedWhole: a 4-component JPEG over jpegWholeCMYKMaxPixels whose
// header promises jpegscale a file it reads, but which jpegscale then refuses (here a progressive
// DC scan with a successive approximation of 14 bits, invalid for 8-bit samples, which image/jpeg
// would go on with), is refused as unsupported-format rather than handed to image/jpeg whole.
func TestALargeCMYKJPEGIsNeverDecodedWhole(t *testing.T) {
	var buf bytes.Buffer
	if err := worstcase.WriteJPEG(&buf, 4000, 4100, true, false, true); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	sos := bytes.Index(data, []byte{0xff, 0xda})
	data[sos+4+1+2*4+2] = 14 // Ah 0, Al 14
	_, err := Make(context.Background(), data, Options{})
	if f := failure.As(err); f == nil || f.Code != failure.Unsupported || !strings.Contains(err.Error(), "decoded whole") {
		t.Errorf("Make(4000x4100 CMYK JPEG with Al=14) = %v; want unsupported-format, as too large to decode whole", err)
	}
}

// withoutAdobe returns a JPEG without its Adobe APP14 segment.
func withoutAdobe(t *testing.T, data []byte) []byte {
	t.Helper()
	i := bytes.Index(data, []byte{0xff, 0xee})
	if i < 0 {
		t.Fatal("no Adobe marker")
	}
	n := int(data[i+2])<<8 | int(data[i+3])
	return slices.Concat(data[:i], data[i+2+n:])
}
