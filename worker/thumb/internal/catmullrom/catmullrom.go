// Package catmullrom resamples premultiplied 8-bit RGBA images with the Catmull-Rom kernel, giving
// the picture golang.org/x/image/draw's CatmullRom.Scale gives (within a level of 255) at a
// fraction of its time and memory.
//
// The geometry is x/image/draw's: output pixel x is centred on source coordinate
// (x+0.5)*sw/dw - 0.5; when shrinking, the kernel's support of 2 source pixels is widened by the
// scale factor so that every source pixel counts; taps that fall outside the image are dropped
// and the remaining weights renormalised (no edge pixel is repeated). Colour that the kernel's
// negative lobes push above alpha is clamped to alpha, and the result to 0..255, as x/image does,
// and the final rounding is x/image's (through 16 bits, then the high byte).
//
// The filter is separable and works in fixed point: the weights of each output pixel are
// precomputed once per axis as integers that sum exactly to 1<<Bits. Each source row is filtered
// horizontally, as soon as the vertical pass needs it, into a ring of rows just as tall as the
// vertical kernel; each output row is then the weighted sum of the ring's rows. Memory is the
// ring (taps x dw x 16 bytes) plus the output, never a dw x sh intermediate.
package catmullrom

import (
	"image"
	"math"
)

// Bits is the number of fractional bits of the fixed-point weights. 14 would do for a few taps,
// but a kernel widened for a large reduction has thousands of small weights (4000 pixels to 1
// when the box pre-shrink is held back by the other axis), and their rounding errors then add up
// to whole levels. With 20, a horizontal sum (255 x one x at most 2, the weights' absolute sum)
// stays within int32 and a vertical one (that times one x 2 x 257 for the rounding) within int64.
const Bits = 20

const one = 1 << Bits

// taps holds, for every output pixel along one axis, the first source pixel it reads and the
// weights of it and the pixels after it.
type taps struct {
	start   []int   // first source pixel of output pixel i
	offsets []int   // weights of output pixel i are weights[offsets[i]:offsets[i+1]]
	weights []int32 // sum to one for every output pixel
}

// rows is how many consecutive source pixels the filter must keep at once when it makes the
// output pixels in order: from each one's first to the furthest any before it read.
func (t *taps) rows() int {
	n, end := 1, 0
	for i, s := range t.start {
		end = max(end, s+t.offsets[i+1]-t.offsets[i])
		n = max(n, end-s)
	}
	return n
}

func (t *taps) of(i int) (start int, w []int32) {
	return t.start[i], t.weights[t.offsets[i]:t.offsets[i+1]]
}

// kernel is Catmull-Rom's cubic (B = 0, C = 1/2), support 2.
func kernel(t float64) float64 {
	if t < 1 {
		return (1.5*t-2.5)*t*t + 1
	}
	if t < 2 {
		return ((-0.5*t+2.5)*t-4)*t + 2
	}
	return 0
}

// newTaps computes the fixed-point weights that map sw source pixels to dw output pixels.
func newTaps(dw, sw int) taps {
	scale := float64(sw) / float64(dw)
	half, argScale := 2.0, 1.0
	if scale > 1 {
		half *= scale
		argScale = 1 / scale
	}
	t := taps{start: make([]int, dw), offsets: make([]int, dw+1)}
	var f []float64
	for x := range dw {
		center := (float64(x)+0.5)*scale - 0.5
		i := max(0, int(math.Floor(center-half)))
		j := max(i, min(sw, int(math.Ceil(center+half))))
		f = f[:0]
		total := 0.0
		for c := i; c < j; c++ {
			w := kernel(math.Abs(center-float64(c)) * argScale)
			f = append(f, w)
			total += w
		}
		// Drop zero weights at either end, so the window is no wider than it has to be.
		for len(f) > 1 && f[0] == 0 {
			f, i = f[1:], i+1
		}
		for len(f) > 1 && f[len(f)-1] == 0 {
			f = f[:len(f)-1]
		}
		if total == 0 { // cannot happen with this kernel and geometry; keep the nearest pixel
			i, f = min(max(0, int(math.Round(center))), sw-1), append(f[:0], 1)
			total = 1
		}
		t.start[x] = i
		t.weights = append(t.weights, quantize(f, total)...)
		t.offsets[x+1] = len(t.weights)
	}
	return t
}

// quantize rounds the weights f/total to fixed point by rounding their running sums, so that they
// sum to exactly one and every partial sum is within half a unit of its exact value.
func quantize(f []float64, total float64) []int32 {
	w := make([]int32, len(f))
	run, prev := 0.0, int32(0)
	for k, v := range f {
		run += v
		end := int32(math.Round(run / total * one))
		if k == len(f)-1 {
			end = one
		}
		w[k], prev = end-prev, end
	}
	return w
}

// Scale resamples all of src to fill all of dst, both premultiplied RGBA.
func Scale(dst, src *image.RGBA) {
	sw := src.Rect.Dx()
	ScaleRows(dst, sw, src.Rect.Dy(), func(y int) []uint8 {
		return src.Pix[src.PixOffset(src.Rect.Min.X, src.Rect.Min.Y+y):][:4*sw]
	})
}

// ScaleRows is Scale for a source of sw x sh pixels given a row at a time: row(y) returns source
// row y as premultiplied RGBA (4*sw bytes), each row asked for once, top to bottom. Its result is
// read before the next call, so row may reuse one buffer: a source in another layout (a decoded
// YCbCr image) is converted a row at a time, never whole.
func ScaleRows(dst *image.RGBA, sw, sh int, row func(y int) []uint8) {
	dw, dh := dst.Rect.Dx(), dst.Rect.Dy()
	if dw <= 0 || dh <= 0 || sw <= 0 || sh <= 0 {
		return
	}
	h, v := newTaps(dw, sw), newTaps(dh, sh)

	// ring[y%len(ring)] is source row y filtered horizontally: 4 samples per output column, in
	// 8-bit units times one (the weights sum to one, so no rescaling between the passes).
	ring := make([][]int32, v.rows())
	for i := range ring {
		ring[i] = make([]int32, 4*dw)
	}
	next := 0 // the next source row to filter
	acc := make([]int64, 4*dw)
	pairs := make([]uint64, 2*sw)
	rows := make([][]int32, 0, len(ring)) // the ring's rows that output row oy reads, in order
	for oy := range dh {
		start, ws := v.of(oy)
		for ; next < start+len(ws); next++ {
			horizontal(ring[next%len(ring)], row(next), pairs, &h)
		}
		clear(acc)
		rows = rows[:0]
		for k := range ws {
			rows = append(rows, ring[(start+k)%len(ring)])
		}
		vertical(acc, rows, ws)
		emit(dst.Pix[dst.PixOffset(dst.Rect.Min.X, dst.Rect.Min.Y+oy):][:4*dw], acc)
	}
}

// horizontal filters one source row of premultiplied RGBA into out, 4 sums per output column.
//
// It works on two samples at once: pairs holds the row as (R + B<<32, G + A<<32), and a pair times
// a weight is the two products side by side (mod 2^64, a negative low product borrowing from the
// high one, which lane reads undo). Each sum stays within int32, at most 255 x one x the weights'
// absolute sum (under 2), so the lanes do not overflow into each other.
func horizontal(out []int32, row []uint8, pairs []uint64, t *taps) {
	for x := range len(pairs) / 2 {
		q := row[4*x : 4*x+4 : 4*x+4]
		pairs[2*x] = uint64(q[0]) | uint64(q[2])<<32
		pairs[2*x+1] = uint64(q[1]) | uint64(q[3])<<32
	}
	for x := range len(out) / 4 {
		start, ws := t.of(x)
		p := pairs[2*start:][:2*len(ws)]
		var rb, ga uint64
		for i, w := range ws {
			w := uint64(int64(w))
			rb += p[2*i] * w
			ga += p[2*i+1] * w
		}
		o := out[4*x : 4*x+4 : 4*x+4]
		o[0], o[2] = lanes(rb)
		o[1], o[3] = lanes(ga)
	}
}

// lanes splits a sum of pairs into its low and high int32 sums.
func lanes(v uint64) (lo, hi int32) {
	lo = int32(uint32(v))
	return lo, int32((v - uint64(int64(lo))) >> 32)
}

// vertical adds the rows, weighted by ws, into acc; four rows at a time, so that acc is read and
// written a quarter as often.
func vertical(acc []int64, rows [][]int32, ws []int32) {
	for ; len(ws) >= 4; rows, ws = rows[4:], ws[4:] {
		w0, w1, w2, w3 := int64(ws[0]), int64(ws[1]), int64(ws[2]), int64(ws[3])
		r0, r1, r2, r3 := rows[0][:len(acc)], rows[1][:len(acc)], rows[2][:len(acc)], rows[3][:len(acc)]
		for x := range acc {
			acc[x] += int64(r0[x])*w0 + int64(r1[x])*w1 + int64(r2[x])*w2 + int64(r3[x])*w3
		}
	}
	for k, w := range ws {
		w, r := int64(w), rows[k][:len(acc)]
		for x := range acc {
			acc[x] += int64(r[x]) * w
		}
	}
}

// emit writes a row of output pixels from the vertical sums, which are in 8-bit units times
// one*one: colour is clamped to alpha, then each sample rounded as x/image/draw rounds (to 16 bits,
// clamped to 0..0xffff, then the high byte), so that colour never exceeds alpha.
func emit(dst []uint8, acc []int64) {
	for x := 0; x+4 <= len(acc); x += 4 {
		s := acc[x : x+4 : x+4]
		a := s[3]
		d := dst[x : x+4 : x+4]
		d[0] = to8(min(s[0], a))
		d[1] = to8(min(s[1], a))
		d[2] = to8(min(s[2], a))
		d[3] = to8(a)
	}
}

// to8 turns a sum in 8-bit units times one*one into a byte: v*257 rounded to 16 bits, clamped, and
// its high byte. The sum is under 2^50 (255 x one x one x 4) and 257 under 2^9: the product fits int64.
func to8(v int64) uint8 {
	v = (v*257 + 1<<(2*Bits-1)) >> (2 * Bits)
	return uint8(max(0, min(v, 0xffff)) >> 8)
}
