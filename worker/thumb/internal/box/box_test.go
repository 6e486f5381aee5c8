package box

import (
	"fmt"
	"image/color"
	"math"
	"math/rand/v2"
	"testing"
)

// mean is the straightforward average the Add functions and Emit must give: each block's
// premultiplied pixels (from pixel, in 0..1) averaged in floating point, on a 0..255 scale.
func mean(w, h, ow int, pixel func(x, y int) [4]float64) [][4]float64 {
	out := make([][4]float64, ow)
	for ox := range ow {
		x0, x1 := ox*w/ow, (ox+1)*w/ow
		for y := range h {
			for x := x0; x < x1; x++ {
				p := pixel(x, y)
				for c := range 4 {
					out[ox][c] += p[c]
				}
			}
		}
		for c := range 4 {
			out[ox][c] *= 255 / float64(h*(x1-x0))
		}
	}
	return out
}

func TestAddAndEmitAverageBlocks(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const w, h = 37, 3
	rows := make([][]byte, h)
	for y := range rows {
		rows[y] = make([]byte, 4*w)
		for i := range rows[y] {
			rows[y][i] = byte(rng.UintN(256))
		}
	}
	at := func(y, i int) float64 { return float64(rows[y][i]) / 255 }
	lut := new([256][4]uint32)
	for i := range lut {
		a := uint32(i ^ 0x5a)
		lut[i] = [4]uint32{uint32(i) * a, uint32(255-i) * a, 7 * a, a * 255}
	}
	tests := []struct {
		name  string
		add   func(row []byte, acc []uint64, ends []int)
		mode  Mode
		unit  uint64
		pixel func(x, y int) [4]float64
	}{
		{"grey", AddGrey8, Grey, 1, func(x, y int) [4]float64 { v := at(y, x); return [4]float64{v, v, v, 1} }},
		{"RGB", AddRGB8, RGB, 1, func(x, y int) [4]float64 { return [4]float64{at(y, 3*x), at(y, 3*x+1), at(y, 3*x+2), 1} }},
		{"grey and alpha", AddGreyAlpha8, GreyAlpha, 255, func(x, y int) [4]float64 {
			v, a := at(y, 2*x), at(y, 2*x+1)
			return [4]float64{v * a, v * a, v * a, a}
		}},
		{"NRGBA", AddNRGBA8, RGBA, 255, func(x, y int) [4]float64 {
			a := at(y, 4*x+3)
			return [4]float64{at(y, 4*x) * a, at(y, 4*x+1) * a, at(y, 4*x+2) * a, a}
		}},
		{"RGBA, premultiplied", AddRGBA8, RGBA, 1, func(x, y int) [4]float64 {
			return [4]float64{at(y, 4*x), at(y, 4*x+1), at(y, 4*x+2), at(y, 4*x+3)}
		}},
		{"RGB with a colour key", AddRGBKey8(rows[0][3], rows[0][4], rows[0][5]), RGBA, 1, func(x, y int) [4]float64 {
			a := 1.0
			if rows[y][3*x] == rows[0][3] && rows[y][3*x+1] == rows[0][4] && rows[y][3*x+2] == rows[0][5] {
				a = 0
			}
			return [4]float64{at(y, 3*x) * a, at(y, 3*x+1) * a, at(y, 3*x+2) * a, a}
		}},
		{"a palette", func(row []byte, acc []uint64, ends []int) { AddTable(row, acc, ends, lut) }, RGBA, 255, func(x, y int) [4]float64 {
			c := lut[rows[y][x]]
			return [4]float64{float64(c[0]) / 255 / 255, float64(c[1]) / 255 / 255, float64(c[2]) / 255 / 255, float64(c[3]) / 255 / 255}
		}},
	}
	for _, tt := range tests {
		for _, ow := range []int{1, 5, 12, w} {
			t.Run(fmt.Sprintf("%s, %d pixels into %d", tt.name, w, ow), func(t *testing.T) {
				ends := make([]int, ow)
				Ends(ends, w)
				acc := make([]uint64, 4*ow)
				for _, row := range rows {
					tt.add(row, acc, ends)
				}
				got := make([]uint8, 4*ow)
				Emit(got, acc, ends, h, tt.mode, tt.unit)
				want := mean(w, h, ow, tt.pixel)
				for ox := range ow {
					for c := range 4 {
						if d := math.Abs(float64(got[4*ox+c]) - want[ox][c]); d > 0.5+1e-6 {
							t.Fatalf("pixel %d channel %d = %d; want %.2f", ox, c, got[4*ox+c], want[ox][c])
						}
					}
				}
			})
		}
	}
}

func TestYCbCrIsConvertedAfterAveraging(t *testing.T) {
	luma := []byte{10, 20, 200, 250, 30, 40}
	cb := []byte{100, 160, 90} // horizontally subsampled by 2
	cr := []byte{120, 60, 200}
	ends := []int{2, 6}
	acc := make([]uint64, 8)
	AddYCbCr(luma, cb, cr, 0, 1, acc, ends)
	got := make([]uint8, 8)
	Emit(got, acc, ends, 1, YCbCr, 1)
	r, g, b := color.YCbCrToRGB(15, 100, 120)
	if want := []uint8{r, g, b, 0xff}; string(got[:4]) != string(want) {
		t.Errorf("first pixel = %v; want %v", got[:4], want)
	}
	r, g, b = color.YCbCrToRGB(130, 125, 130) // Y (200+250+30+40)/4, Cb (160+160+90+90)/4, Cr (60+60+200+200)/4
	if want := []uint8{r, g, b, 0xff}; string(got[4:]) != string(want) {
		t.Errorf("second pixel = %v; want %v", got[4:], want)
	}
}
