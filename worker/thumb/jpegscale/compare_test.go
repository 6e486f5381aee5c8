package jpegscale

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"math"
)

// channels returns the samples of the pixel at (x, y): Y, Cb, Cr for a YCbCr image, Y for a grey one.
func channels(img image.Image, x, y int) []float64 {
	switch m := img.(type) {
	case *image.YCbCr:
		c := m.YCbCrAt(x, y)
		return []float64{float64(c.Y), float64(c.Cb), float64(c.Cr)}
	case *image.Gray:
		return []float64{float64(m.GrayAt(x, y).Y)}
	}
	panic(fmt.Sprintf("unexpected %T", img))
}

// diffFromStdlib decodes data at 1/scale and compares it with image/jpeg's full-size decode
// averaged over the same scale x scale blocks. It returns the mean absolute difference over all
// pixels and channels (0..255) or an error when the sizes or kinds of image differ.
func diffFromStdlib(data []byte, scale int) (float64, error) {
	ref, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		return 0, fmt.Errorf("image/jpeg: %v", err)
	}
	got, err := Decode(data, scale)
	if err != nil {
		return 0, err
	}
	return diffImages(ref, got, scale)
}

func diffImages(ref, got image.Image, scale int) (float64, error) {
	rb, gb := ref.Bounds(), got.Bounds()
	w, h := (rb.Dx()+scale-1)/scale, (rb.Dy()+scale-1)/scale
	if gb.Dx() != w || gb.Dy() != h {
		return 0, fmt.Errorf("decoded %dx%d at 1/%d = %dx%d; want %dx%d", rb.Dx(), rb.Dy(), scale, gb.Dx(), gb.Dy(), w, h)
	}
	if _, ok := ref.(*image.Gray); ok != isGray(got) {
		return 0, fmt.Errorf("decoded as %T; image/jpeg gives %T", got, ref)
	}
	var sum float64
	var n int
	for y := range h {
		for x := range w {
			want := make([]float64, 3)
			cnt := 0
			for yy := y * scale; yy < min((y+1)*scale, rb.Dy()); yy++ {
				for xx := x * scale; xx < min((x+1)*scale, rb.Dx()); xx++ {
					for c, v := range channels(ref, rb.Min.X+xx, rb.Min.Y+yy) {
						want[c] += v
					}
					cnt++
				}
			}
			for c, v := range channels(got, gb.Min.X+x, gb.Min.Y+y) {
				sum += math.Abs(v - want[c]/float64(cnt))
				n++
			}
		}
	}
	return sum / float64(n), nil
}

func isGray(img image.Image) bool {
	_, ok := img.(*image.Gray)
	return ok
}
