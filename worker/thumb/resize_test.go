package thumb

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"math/rand/v2"
	"testing"

	"golang.org/x/image/draw"

	"github.com/thumbq/thumbq/worker/thumb/internal/catmullrom"
)

// TestBoxPreShrinkLooksLikeCatmullRomAlone: the shortcut must not change the picture. The
// panorama (4000x500 to 64x8) is shrunk 31-fold by the box filter first.
func TestBoxPreShrinkLooksLikeCatmullRomAlone(t *testing.T) {
	for _, tt := range []struct {
		name   string
		file   string
		tw, th int
	}{
		{"the panorama shrunk 31-fold first", "panorama.jpg", 64, 8},
		{"the panorama to a 200-wide box, shrunk 10-fold first", "panorama.jpg", 200, 25},
		{"a 300x200 photo shrunk 2-fold first", "progressive.jpg", 64, 43},
	} {
		t.Run(tt.name+" looks like Catmull-Rom alone", func(t *testing.T) {
			src, err := jpeg.Decode(bytes.NewReader(readFile(t, tt.file)))
			if err != nil {
				t.Fatal(err)
			}
			want := image.NewRGBA(image.Rect(0, 0, tt.tw, tt.th))
			draw.CatmullRom.Scale(want, want.Rect, src, src.Bounds(), draw.Src, nil)
			got := scale(src, tt.tw, tt.th)
			if d := meanDiff(got, want); d > 2.5 {
				t.Errorf("box+Catmull-Rom differs from Catmull-Rom alone by %.2f on average; want at most 2.5", d)
			} else {
				t.Logf("mean difference %.2f", d)
			}
		})
	}
}

func TestBoxShrinkAveragesBlocks(t *testing.T) {
	t.Run("transparent pixels lend no colour to their block", func(t *testing.T) {
		src := image.NewNRGBA(image.Rect(0, 0, 4, 2))
		for y := range 2 {
			copy(src.Pix[src.PixOffset(0, y):], []uint8{255, 255, 255, 255, 0, 0, 255, 0, 255, 0, 0, 255, 255, 0, 0, 255})
		}
		got := boxShrink(src, 2)
		want := []uint8{128, 128, 128, 128, 255, 0, 0, 255} // premultiplied half-white; red
		if !bytes.Equal(got.Pix, want) {
			t.Errorf("boxShrink(4x2, 2) pixels = %v; want %v", got.Pix, want)
		}
	})
	t.Run("a width that k does not divide gives a wider last block", func(t *testing.T) {
		src := image.NewGray(image.Rect(0, 0, 5, 1))
		copy(src.Pix, []uint8{0, 100, 10, 20, 30})
		got := boxShrink(src, 2)
		if got.Rect.Dx() != 2 || got.Rect.Dy() != 1 {
			t.Fatalf("boxShrink(5x1, 2) = %dx%d; want 2x1", got.Rect.Dx(), got.Rect.Dy())
		}
		if got.Pix[0] != 50 || got.Pix[4] != 20 {
			t.Errorf("boxShrink(5x1, 2) = %d, %d; want the means 50 (of 0,100) and 20 (of 10,20,30)", got.Pix[0], got.Pix[4])
		}
	})
}

// TestBoxShrinkReadsYCbCrLikeTheGenericPath checks the YCbCr fast path (which averages Y, Cb, Cr
// and converts after) against the generic one (which converts every pixel first), for every
// chroma subsampling, odd sizes and a sub-image that starts on an odd pixel. The colours stay
// inside the RGB gamut, where converting before or after averaging is the same up to rounding.
func TestBoxShrinkReadsYCbCrLikeTheGenericPath(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	ratios := map[string]image.YCbCrSubsampleRatio{
		"4:4:4": image.YCbCrSubsampleRatio444, "4:2:2": image.YCbCrSubsampleRatio422,
		"4:2:0": image.YCbCrSubsampleRatio420, "4:4:0": image.YCbCrSubsampleRatio440,
		"4:1:1": image.YCbCrSubsampleRatio411, "4:1:0": image.YCbCrSubsampleRatio410,
	}
	for name, ratio := range ratios {
		m := image.NewYCbCr(image.Rect(0, 0, 37, 23), ratio)
		for i := range m.Y {
			m.Y[i] = uint8(64 + rng.UintN(128))
		}
		for i := range m.Cb {
			m.Cb[i], m.Cr[i] = uint8(112+rng.UintN(32)), uint8(112+rng.UintN(32))
		}
		sub := m.SubImage(image.Rect(3, 1, 36, 22)).(*image.YCbCr)
		for _, src := range []*image.YCbCr{m, sub} {
			for _, k := range []int{1, 2, 3, 5} {
				t.Run(fmt.Sprintf("%s %v shrunk %d-fold", name, src.Rect, k), func(t *testing.T) {
					got := boxShrink(src, k)
					want := boxShrink(struct{ image.Image }{src}, k)
					if d := maxPixelDiff(got, want); d > 2 {
						t.Errorf("the YCbCr path differs from the generic one by up to %.0f; want at most 2", d)
					}
				})
			}
		}
	}
}

// TestBoxShrinkConvertsYCbCrAsTheSumsDo: at k = 1 a YCbCr image is converted by image/draw, which
// must give exactly the pixels the block sums give, for each subsampling and a sub-image.
func TestBoxShrinkConvertsYCbCrAsTheSumsDo(t *testing.T) {
	for _, ratio := range []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio422,
		image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio440} {
		m := image.NewYCbCr(image.Rect(0, 0, 37, 23), ratio)
		for i := range m.Y {
			m.Y[i] = uint8(i * 7)
		}
		for i := range m.Cb {
			m.Cb[i], m.Cr[i] = uint8(i*13), uint8(255-i*5)
		}
		for _, src := range []*image.YCbCr{m, m.SubImage(image.Rect(3, 5, 30, 20)).(*image.YCbCr)} {
			got, want := boxShrink(src, 1), boxSums(src, 1)
			if !bytes.Equal(got.Pix, want.Pix) || got.Rect != want.Rect {
				t.Errorf("%v %v: image/draw's conversion differs from the sums'", ratio, src.Rect)
			}
		}
	}
}

// TestScaleConvertsYCbCrRowByRowAsWhole: a YCbCr image resampled at k = 1 from rows converted one
// at a time gives exactly what converting it whole and resampling gives.
func TestScaleConvertsYCbCrRowByRowAsWhole(t *testing.T) {
	m := image.NewYCbCr(image.Rect(0, 0, 301, 207), image.YCbCrSubsampleRatio420)
	for i := range m.Y {
		m.Y[i] = uint8(i*7 + i/301)
	}
	for i := range m.Cb {
		m.Cb[i], m.Cr[i] = uint8(i*13), uint8(255-i*5)
	}
	for _, src := range []*image.YCbCr{m, m.SubImage(image.Rect(5, 3, 290, 200)).(*image.YCbCr)} {
		for _, size := range [][2]int{{200, 150}, {150, 200}, {290, 10}, {151, 104}} { // each over half the source on one side: k = 1
			got := scale(src, size[0], size[1])
			whole := boxShrink(src, 1)
			want := image.NewRGBA(image.Rect(0, 0, size[0], size[1]))
			catmullrom.Scale(want, whole)
			if !bytes.Equal(got.Pix, want.Pix) {
				t.Errorf("scale(%v to %dx%d) differs from converting whole, then resampling", src.Rect, size[0], size[1])
			}
		}
	}
}
