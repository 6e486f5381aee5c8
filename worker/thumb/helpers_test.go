package thumb

import (
	"context"
	"os/exec"
	"strings"
	"sync"

	"github.com/thumbq/thumbq/worker/failure"

	"bytes"
	"errors"
	"flag"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden thumbnails in testdata/golden")

// readFile reads a fixture from testdata.
func readFile(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// mustMake makes a thumbnail and decodes it back, failing the test on any error.
func mustMake(t testing.TB, data []byte, opts Options) (Result, image.Image) {
	t.Helper()
	res, err := Make(context.Background(), data, opts)
	if err != nil {
		t.Fatalf("Make: %v; want a thumbnail", err)
	}
	img, err := png.Decode(bytes.NewReader(res.PNG))
	if err != nil {
		t.Fatalf("the thumbnail is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != res.Width || b.Dy() != res.Height {
		t.Fatalf("Result says %dx%d but the PNG is %dx%d", res.Width, res.Height, b.Dx(), b.Dy())
	}
	return res, img
}

// decodePNG decodes a PNG fixture.
func decodePNG(t testing.TB, name string) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(readFile(t, name)))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return img
}

// premul returns the 8-bit premultiplied RGBA of the pixel at (x, y) counted from the top left.
func premul(img image.Image, x, y int) [4]float64 {
	b := img.Bounds()
	r, g, bl, a := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
	return [4]float64{float64(r) / 257, float64(g) / 257, float64(bl) / 257, float64(a) / 257}
}

// meanDiff is the mean absolute difference of two same-sized images over all pixels and the four
// premultiplied channels, on a 0..255 scale. It is +Inf when the sizes differ.
func meanDiff(a, b image.Image) float64 {
	ab, bb := a.Bounds(), b.Bounds()
	if ab.Dx() != bb.Dx() || ab.Dy() != bb.Dy() {
		return math.Inf(1)
	}
	var sum float64
	for y := range ab.Dy() {
		for x := range ab.Dx() {
			pa, pb := premul(a, x, y), premul(b, x, y)
			for c := range 4 {
				sum += math.Abs(pa[c] - pb[c])
			}
		}
	}
	return sum / float64(4*ab.Dx()*ab.Dy())
}

// meanColour is the average premultiplied colour of an image (0..255 per channel).
func meanColour(img image.Image) [4]float64 {
	b := img.Bounds()
	var m [4]float64
	for y := range b.Dy() {
		for x := range b.Dx() {
			p := premul(img, x, y)
			for c := range 4 {
				m[c] += p[c]
			}
		}
	}
	for c := range 4 {
		m[c] /= float64(b.Dx() * b.Dy())
	}
	return m
}

// colourDistance is the largest per-channel difference of two mean colours.
func colourDistance(a, b [4]float64) float64 {
	var d float64
	for c := range 4 {
		d = max(d, math.Abs(a[c]-b[c]))
	}
	return d
}

// toGray turns an image into its luma, to compare a grey thumbnail with a colour one.
func toGray(img image.Image) image.Image {
	b := img.Bounds()
	g := image.NewGray(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			g.Set(x, y, color.GrayModel.Convert(img.At(x, y)))
		}
	}
	return g
}

// checkGolden compares a thumbnail with testdata/golden/<name>.png by size and pixels, or rewrites
// the golden file when the test runs with -update.
func checkGolden(t *testing.T, name string, res Result, got image.Image) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name+".png")
	if *update {
		if err := os.WriteFile(path, res.PNG, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want := decodePNG(t, filepath.Join("golden", name+".png"))
	if d := meanDiff(got, want); d > 1 {
		t.Errorf("thumbnail of %s is %dx%d and differs from golden/%s.png (%dx%d) by %.2f on average; want at most 1 (run go test -update if the change is intended)",
			name, res.Width, res.Height, name, want.Bounds().Dx(), want.Bounds().Dy(), d)
	}
}

// codeOf returns the code of a *failure.Error, failing the test if err is not one.
func codeOf(t *testing.T, err error) failure.Code {
	t.Helper()
	var e *failure.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *failure.Error", err, err)
	}
	return e.Code
}

// swapFormat changes the named format with change and returns the function that restores it.
// Tests of this package do not run in parallel.
func swapFormat(name string, change func(*format)) (restore func()) {
	f := formatNamed(name)
	saved := *f
	change(f)
	return func() { *f = saved }
}

// goroot is the Go installation's root, where the standard library's test images are, from
// "go env GOROOT" (runtime.GOROOT is deprecated). The tests that use them skip without it.
var goroot = sync.OnceValue(func() string {
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
})
