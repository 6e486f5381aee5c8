package catmullrom

import (
	"fmt"
	"image"
	"image/color"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/image/draw"

	_ "image/jpeg"
	_ "image/png"
)

// load decodes a file of package thumb's testdata into premultiplied RGBA.
func load(t testing.TB, name string) *image.RGBA {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, _, err := image.Decode(f)
	if err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	rgba := image.NewRGBA(m.Bounds())
	draw.Draw(rgba, rgba.Rect, m, m.Bounds().Min, draw.Src)
	return rgba
}

// noise is w x h pixels of random premultiplied colour and alpha, the hardest case for the clamps:
// every edge is as sharp as it can be.
func noise(w, h int, seed uint64) *image.RGBA {
	rng := rand.New(rand.NewPCG(seed, 1))
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(m.Pix); i += 4 {
		a := uint8(rng.IntN(256))
		if rng.IntN(3) == 0 {
			a = 255
		}
		m.Pix[i+3] = a
		for c := range 3 {
			m.Pix[i+c] = uint8(rng.IntN(int(a) + 1))
		}
	}
	return m
}

// source is an image to resample and the sizes to resample it to.
type source struct {
	name  string
	img   *image.RGBA
	sizes [][2]int
}

func sources(t testing.TB) []source {
	down := func(m *image.RGBA) [][2]int {
		w, h := m.Rect.Dx(), m.Rect.Dy()
		return [][2]int{
			{w / 2, h / 2}, {w / 3, h / 3}, {w * 2 / 7, h * 2 / 7}, {w / 4, h / 4}, {w / 10, h / 10},
			{w - 1, h - 1}, {w, h}, {64, 48}, {1, 1}, {1, h / 3}, {w / 3, 1}, {w / 2, h}, {w, h / 3},
		}
	}
	up := [][2]int{{3, 3}, {2, 7}, {16, 16}, {33, 21}, {100, 1}, {1, 100}}
	var ss []source
	for _, name := range []string{"photos/photo-420.jpg", "photos/photo-gray.jpg", "photo-alpha.png", "palette-alpha.png", "gray-alpha.png", "panorama.jpg"} {
		m := load(t, name)
		ss = append(ss, source{name, m, down(m)})
	}
	small := load(t, "photo-alpha.png")
	small = small.SubImage(image.Rect(10, 10, 29, 23)).(*image.RGBA) // a sub-image, not at the origin
	ss = append(ss, source{"a 19x13 piece of photo-alpha.png", small, append(up, [2]int{7, 5}, [2]int{1, 1}, [2]int{19, 13}, [2]int{40, 26}, [2]int{200, 130})})
	ss = append(ss, source{"noise 97x61", noise(97, 61, 1), append(down(noise(97, 61, 1)), up...)})
	ss = append(ss, source{"noise 1x1", noise(1, 1, 2), [][2]int{{1, 1}, {1, 5}, {7, 1}, {9, 9}}})
	ss = append(ss, source{"noise 1x50", noise(1, 50, 3), [][2]int{{1, 1}, {1, 7}, {3, 20}, {1, 50}, {4, 200}}})
	ss = append(ss, source{"noise 50x1", noise(50, 1, 4), [][2]int{{1, 1}, {7, 1}, {20, 3}, {50, 1}, {200, 4}}})
	ss = append(ss, source{"noise 5x3", noise(5, 3, 5), [][2]int{{1, 1}, {2, 2}, {4, 3}, {5, 3}, {6, 4}, {17, 11}}})
	return ss
}

// TestScaleMatchesXImage compares Scale with golang.org/x/image/draw's CatmullRom.Scale: at most
// 1 level of 255 apart on 99.9% of the samples, and at most 2 anywhere.
func TestScaleMatchesXImage(t *testing.T) {
	var total, off0, off1, off2 int
	for _, s := range sources(t) {
		for _, sz := range s.sizes {
			w, h := max(1, sz[0]), max(1, sz[1])
			t.Run(fmt.Sprintf("%s to %dx%d", s.name, w, h), func(t *testing.T) {
				want := image.NewRGBA(image.Rect(0, 0, w, h))
				draw.CatmullRom.Scale(want, want.Rect, s.img, s.img.Rect, draw.Src, nil)
				got := image.NewRGBA(image.Rect(0, 0, w, h))
				Scale(got, s.img)
				n, d1, d2, worst := 0, 0, 0, 0
				for i := range got.Pix {
					d := int(got.Pix[i]) - int(want.Pix[i])
					d = max(d, -d)
					n++
					if d > 0 {
						off0++
					}
					if d > 1 {
						d1++
					}
					if d > 2 {
						d2++
					}
					worst = max(worst, d)
					if i%4 < 3 && got.Pix[i] > got.Pix[i-i%4+3] {
						t.Fatalf("pixel %d: colour %d above alpha %d", i/4, got.Pix[i], got.Pix[i-i%4+3])
					}
				}
				total, off1, off2 = total+n, off1+d1, off2+d2
				if d2 > 0 || float64(d1) > 0.001*float64(n) {
					t.Errorf("Scale differs from x/image's CatmullRom.Scale by more than 1 on %d of %d samples (more than 2 on %d, up to %d); want at most 0.1%% and none over 2", d1, n, d2, worst)
				}
			})
		}
	}
	t.Logf("%d samples: %d apart, %d more than 1 apart, %d more than 2", total, off0, off1, off2)
}

func TestTapsSumToOne(t *testing.T) {
	for _, c := range [][2]int{{1, 1}, {1, 5}, {5, 1}, {3, 4000}, {768, 3000}, {1024, 1000}, {4000, 3}, {7, 7}} {
		tp := newTaps(c[0], c[1])
		for x := range c[0] {
			start, ws := tp.of(x)
			sum := int32(0)
			for _, w := range ws {
				sum += w
			}
			if sum != one || start < 0 || start+len(ws) > c[1] {
				t.Errorf("newTaps(%d, %d): pixel %d reads %d..%d with weights summing to %d; want within 0..%d and %d", c[0], c[1], x, start, start+len(ws), sum, c[1], one)
			}
		}
	}
}

func TestOpaqueStaysOpaque(t *testing.T) {
	src := image.NewRGBA(image.Rect(0, 0, 40, 30))
	draw.Draw(src, src.Rect, image.NewUniform(color.RGBA{200, 10, 90, 255}), image.Point{}, draw.Src)
	dst := image.NewRGBA(image.Rect(0, 0, 13, 7))
	Scale(dst, src)
	for i := 0; i < len(dst.Pix); i += 4 {
		if c := dst.Pix[i : i+4]; c[0] != 200 || c[1] != 10 || c[2] != 90 || c[3] != 255 {
			t.Fatalf("pixel %d = %v; want the flat colour [200 10 90 255]", i/4, c)
		}
	}
}

// BenchmarkResample compares Scale with x/image's CatmullRom.Scale on a 12 megapixel image made
// into the sizes the engine's final resample meets.
func BenchmarkResample(b *testing.B) {
	src := noise(4000, 3000, 9)
	for _, sz := range [][2]int{{1024, 768}, {256, 192}} {
		dst := image.NewRGBA(image.Rect(0, 0, sz[0], sz[1]))
		b.Run(fmt.Sprintf("catmullrom.Scale 4000x3000 to %dx%d", sz[0], sz[1]), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Scale(dst, src)
			}
		})
		b.Run(fmt.Sprintf("x-image CatmullRom.Scale 4000x3000 to %dx%d", sz[0], sz[1]), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				draw.CatmullRom.Scale(dst, dst.Rect, src, src.Rect, draw.Src, nil)
			}
		})
	}
}
