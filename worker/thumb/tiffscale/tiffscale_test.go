package tiffscale

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"golang.org/x/image/tiff"

	"github.com/thumbq/thumbq/worker/thumb/internal/box"
	"github.com/thumbq/thumbq/worker/thumb/internal/worstcase"
)

// reference decodes data with x/image/tiff and box-shrinks it as Decode does.
func reference(t testing.TB, data []byte, shrink int) (*image.RGBA, error) {
	src, err := tiff.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	ow, oh := max(1, w/shrink), max(1, h/shrink)
	dst := image.NewRGBA(image.Rect(0, 0, ow, oh))
	ends := make([]int, ow)
	box.Ends(ends, w)
	acc := make([]uint64, 4*ow)
	for oy := range oh {
		clear(acc)
		y0, y1 := oy*h/oh, (oy+1)*h/oh
		for y := y0; y < y1; y++ {
			x := 0
			for ox, end := range ends {
				for ; x < end; x++ {
					c := color.RGBA64Model.Convert(src.At(b.Min.X+x, b.Min.Y+y)).(color.RGBA64)
					acc[4*ox] += uint64(c.R)
					acc[4*ox+1] += uint64(c.G)
					acc[4*ox+2] += uint64(c.B)
					acc[4*ox+3] += uint64(c.A)
				}
			}
		}
		box.Emit(dst.Pix[oy*dst.Stride:][:4*ow], acc, ends, uint64(y1-y0), box.RGBA, 257)
	}
	return dst, nil
}

func maxDiff(a, b *image.RGBA) int {
	if a.Rect != b.Rect {
		return 256
	}
	d := 0
	for i := range a.Pix {
		d = max(d, int(a.Pix[i])-int(b.Pix[i]), int(b.Pix[i])-int(a.Pix[i]))
	}
	return d
}

// generated returns TIFFs of every layout and compression worstcase writes, and x/image's own
// test files.
func generated(t testing.TB) map[string][]byte {
	files := map[string][]byte{}
	for _, comp := range []int{1, 5, 8, 32773} {
		for _, tile := range []int{0, 32} {
			for _, bits := range []int{8, 16} {
				for _, pred := range []bool{false, true} {
					var buf bytes.Buffer
					if err := worstcase.WriteTIFF(&buf, 101, 67, bits, comp, tile, pred, nil); err != nil {
						t.Fatal(err)
					}
					files[fmt.Sprintf("rgb%d compression %d tile %d predictor %v", bits, comp, tile, pred)] = buf.Bytes()
				}
			}
		}
	}
	matches, _ := filepath.Glob(filepath.Join(xImageTestdata(t), "*.tiff"))
	for _, m := range matches {
		data, err := os.ReadFile(m)
		if err != nil {
			t.Fatal(err)
		}
		files[filepath.Base(m)] = data
	}
	return files
}

// xImageTestdata is x/image/tiff's testdata folder in the module cache.
func xImageTestdata(t testing.TB) string {
	_, file, _, _ := runtime.Caller(0)
	_ = file
	out, err := os.ReadDir(filepath.Join(modCache(), "golang.org/x/image@v0.47.0/tiff/testdata"))
	if err != nil || len(out) == 0 {
		t.Logf("x/image/tiff testdata not found: %v", err)
		return ""
	}
	return filepath.Join(modCache(), "golang.org/x/image@v0.47.0/tiff/testdata")
}

func modCache() string {
	if d := os.Getenv("GOMODCACHE"); d != "" {
		return d
	}
	if d := os.Getenv("GOPATH"); d != "" {
		return filepath.Join(d, "pkg/mod")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, "go/pkg/mod")
}

// TestDecodeMatchesXImage: for every TIFF x/image/tiff decodes and Decode handles, at several
// factors, Decode gives x/image's pixels box-shrunk, to within one level.
func TestDecodeMatchesXImage(t *testing.T) {
	handled := 0
	for name, data := range generated(t) {
		for _, shrink := range []int{1, 2, 3, 7} {
			want, werr := reference(t, data, shrink)
			got, err := Decode(context.Background(), data, shrink)
			if errors.As(err, new(UnsupportedError)) {
				continue
			}
			if werr != nil {
				continue // x/image refuses it; Decode may be more lenient
			}
			if err != nil {
				t.Errorf("%s at 1/%d: %v; x/image decodes it", name, shrink, err)
				continue
			}
			handled++
			if d := maxDiff(got, want); d > 1 {
				t.Errorf("%s at 1/%d: differs from x/image box-shrunk by up to %d", name, shrink, d)
			}
		}
	}
	if handled < 4*32 {
		t.Errorf("only %d decodes compared; want at least the %d generated", handled, 4*32)
	}
}

// TestDecodeStopsWhenCancelled: a cancelled context ends the decode with its error.
func TestDecodeStopsWhenCancelled(t *testing.T) {
	var buf bytes.Buffer
	if err := worstcase.WriteTIFF(&buf, 300, 300, 8, 8, 0, false, nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Decode(ctx, buf.Bytes(), 4); !errors.Is(err, context.Canceled) {
		t.Fatalf("Decode(cancelled) = %v; want context.Canceled", err)
	}
}

// TestTruncatedIsUnexpectedEOFOrNoPixels: a file cut short is an error, never a panic.
func TestTruncated(t *testing.T) {
	var buf bytes.Buffer
	if err := worstcase.WriteTIFF(&buf, 300, 200, 16, 8, 64, true, nil); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	for _, n := range []int{4, 8, 100, len(data) / 2, len(data) - 10} {
		if _, err := Decode(context.Background(), data[:n], 3); err == nil {
			t.Errorf("Decode of the first %d of %d bytes succeeded; want an error", n, len(data))
		}
	}
}

// TestMemoryBoundsAllocations: Memory is at least what Decode allocates, for strips and tiles.
func TestMemoryBoundsAllocations(t *testing.T) {
	for _, tile := range []int{0, 256} {
		var buf bytes.Buffer
		if err := worstcase.WriteTIFF(&buf, 2000, 1500, 16, 8, tile, false, nil); err != nil {
			t.Fatal(err)
		}
		data := buf.Bytes()
		h, err := Read(data)
		if err != nil {
			t.Fatal(err)
		}
		for _, shrink := range []int{2, 8, 30} {
			var m0, m1 runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&m0)
			if _, err := Decode(context.Background(), data, shrink); err != nil {
				t.Fatal(err)
			}
			runtime.ReadMemStats(&m1)
			if got, est := int64(m1.TotalAlloc-m0.TotalAlloc), h.Memory(shrink); got > est {
				t.Errorf("tile %d, 1/%d: allocated %d bytes; Memory = %d", tile, shrink, got, est)
			}
		}
	}
}
