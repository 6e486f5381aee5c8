package vp8

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// The tests in this file hold reconstruction's pieces against transcriptions of the RFC 6386
// code blocks they implement, on random inputs: the transcriptions are written for reading
// against the RFC, not for speed, and keep its signed 8-bit filter arithmetic and its subblock
// edge array E.

// rfcIDCT is short_idct4x4llm_c (section 14.4) followed by the summation of section 14.5.
func rfcIDCT(in [16]int16, pred [16]byte) [16]byte {
	const cospi8sqrt2minus1, sinpi8sqrt2 = 20091, 35468
	var tmp [16]int
	for i := range 4 {
		ip := func(k int) int { return int(in[i+k]) }
		a1 := ip(0) + ip(8)
		b1 := ip(0) - ip(8)
		c1 := (ip(4)*sinpi8sqrt2)>>16 - (ip(12) + (ip(12)*cospi8sqrt2minus1)>>16)
		d1 := ip(4) + (ip(4)*cospi8sqrt2minus1)>>16 + (ip(12)*sinpi8sqrt2)>>16
		tmp[i], tmp[12+i], tmp[4+i], tmp[8+i] = a1+d1, a1-d1, b1+c1, b1-c1
	}
	var out [16]byte
	for i := range 4 {
		ip := func(k int) int { return tmp[4*i+k] }
		a1 := ip(0) + ip(2)
		b1 := ip(0) - ip(2)
		c1 := (ip(1)*sinpi8sqrt2)>>16 - (ip(3) + (ip(3)*cospi8sqrt2minus1)>>16)
		d1 := ip(1) + (ip(1)*cospi8sqrt2minus1)>>16 + (ip(3)*sinpi8sqrt2)>>16
		res := [4]int{(a1 + d1 + 4) >> 3, (b1 + c1 + 4) >> 3, (b1 - c1 + 4) >> 3, (a1 - d1 + 4) >> 3}
		for c, r := range res {
			out[4*i+c] = byte(min(max(int(pred[4*i+c])+r, 0), 255))
		}
	}
	return out
}

func TestAddResidueIsTheRFCsInverseDCT(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := range 20000 {
		var blk [16]int16
		// Dense blocks, sparse ones, DC-only ones and empty ones, with coefficients small
		// enough for the RFC's 16-bit intermediate values (see idct.go).
		switch n % 4 {
		case 0:
			for i := range blk {
				blk[i] = int16(rng.IntN(2*2048+1) - 2048)
			}
		case 1:
			for range 3 {
				blk[rng.IntN(16)] = int16(rng.IntN(2001) - 1000)
			}
		case 2:
			blk[0] = int16(rng.IntN(4001) - 2000)
		}
		var ws workspace
		var pred [16]byte
		for i := range pred {
			pred[i] = byte(rng.IntN(256))
			ws[wsY+(i/4)*wsStride+i%4] = pred[i]
		}
		b := blk
		addResidue(&b, ws[wsY:])
		want := rfcIDCT(blk, pred)
		for i := range want {
			if got := ws[wsY+(i/4)*wsStride+i%4]; got != want[i] {
				t.Fatalf("addResidue(%v) onto %v: pixel %d = %d; want %d", blk, pred, i, got, want[i])
			}
		}
	}
}

// rfcWHT is vp8_short_inv_walsh4x4_c (section 14.3).
func rfcWHT(in [16]int16) [16]int16 {
	var tmp, out [16]int
	for i := range 4 {
		a1 := int(in[i]) + int(in[12+i])
		b1 := int(in[4+i]) + int(in[8+i])
		c1 := int(in[4+i]) - int(in[8+i])
		d1 := int(in[i]) - int(in[12+i])
		tmp[i], tmp[4+i], tmp[8+i], tmp[12+i] = a1+b1, c1+d1, a1-b1, d1-c1
	}
	for i := range 4 {
		a1 := tmp[4*i] + tmp[4*i+3]
		b1 := tmp[4*i+1] + tmp[4*i+2]
		c1 := tmp[4*i+1] - tmp[4*i+2]
		d1 := tmp[4*i] - tmp[4*i+3]
		out[4*i], out[4*i+1], out[4*i+2], out[4*i+3] = (a1+b1+3)>>3, (c1+d1+3)>>3, (a1-b1+3)>>3, (d1-c1+3)>>3
	}
	var o [16]int16
	for i, v := range out {
		o[i] = int16(v)
	}
	return o
}

func TestInverseWHTIsTheRFCs(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 10000 {
		var c [25][16]int16
		for i := range c[blockY2] {
			c[blockY2][i] = int16(rng.IntN(65536) - 32768)
		}
		want := rfcWHT(c[blockY2])
		inverseWHT(&c)
		for i := range 16 {
			if c[blockY+i][0] != want[i] {
				t.Fatalf("inverseWHT(%v): block %d's DC = %d; want %d", c[blockY2], i, c[blockY+i][0], want[i])
			}
		}
	}
}

// rfcSubblock is subblock_intra_predict (section 12.3): A[-1] is P, A[0..7] the row above and
// above-right, L[0..3] the left column.
func rfcSubblock(mode uint8, P byte, A [8]byte, L [4]byte) (B [4][4]byte) {
	avg3 := func(x, y, z byte) byte { return byte((int(x) + 2*int(y) + int(z) + 2) >> 2) }
	avg2 := func(x, y byte) byte { return byte((int(x) + int(y) + 1) >> 1) }
	Am := append([]byte{P}, A[:]...) // Am[1+i] is A[i]
	a := func(i int) byte { return Am[1+i] }
	avg3pA := func(i int) byte { return avg3(a(i-1), a(i), a(i+1)) }
	E := [9]byte{L[3], L[2], L[1], L[0], P, A[0], A[1], A[2], A[3]}
	avg3pE := func(i int) byte { return avg3(E[i-1], E[i], E[i+1]) }
	avg2pE := func(i int) byte { return avg2(E[i], E[i+1]) }
	Lm := [5]byte{P, L[0], L[1], L[2], L[3]} // Lm[1+i] is L[i]
	switch mode {
	case bDC:
		v := 4
		for i := range 4 {
			v += int(A[i]) + int(L[i])
		}
		for r := range 4 {
			for c := range 4 {
				B[r][c] = byte(v >> 3)
			}
		}
	case bTM:
		for r := range 4 {
			for c := range 4 {
				B[r][c] = byte(min(max(int(L[r])+int(A[c])-int(P), 0), 255))
			}
		}
	case bVE:
		for c := range 4 {
			B[0][c] = avg3pA(c)
			B[1][c], B[2][c], B[3][c] = B[0][c], B[0][c], B[0][c]
		}
	case bHE:
		v := avg3(L[2], L[3], L[3])
		for r := 3; ; {
			B[r][0], B[r][1], B[r][2], B[r][3] = v, v, v, v
			if r--; r < 0 {
				break
			}
			v = avg3(Lm[r], Lm[r+1], Lm[r+2])
		}
	case bLD:
		B[0][0] = avg3pA(1)
		B[0][1], B[1][0] = avg3pA(2), avg3pA(2)
		B[0][2], B[1][1], B[2][0] = avg3pA(3), avg3pA(3), avg3pA(3)
		B[0][3], B[1][2], B[2][1], B[3][0] = avg3pA(4), avg3pA(4), avg3pA(4), avg3pA(4)
		B[1][3], B[2][2], B[3][1] = avg3pA(5), avg3pA(5), avg3pA(5)
		B[2][3], B[3][2] = avg3pA(6), avg3pA(6)
		B[3][3] = avg3(A[6], A[7], A[7])
	case bRD:
		B[3][0] = avg3pE(1)
		B[3][1], B[2][0] = avg3pE(2), avg3pE(2)
		B[3][2], B[2][1], B[1][0] = avg3pE(3), avg3pE(3), avg3pE(3)
		B[3][3], B[2][2], B[1][1], B[0][0] = avg3pE(4), avg3pE(4), avg3pE(4), avg3pE(4)
		B[2][3], B[1][2], B[0][1] = avg3pE(5), avg3pE(5), avg3pE(5)
		B[1][3], B[0][2] = avg3pE(6), avg3pE(6)
		B[0][3] = avg3pE(7)
	case bVR:
		B[3][0] = avg3pE(2)
		B[2][0] = avg3pE(3)
		B[3][1], B[1][0] = avg3pE(4), avg3pE(4)
		B[2][1], B[0][0] = avg2pE(4), avg2pE(4)
		B[3][2], B[1][1] = avg3pE(5), avg3pE(5)
		B[2][2], B[0][1] = avg2pE(5), avg2pE(5)
		B[3][3], B[1][2] = avg3pE(6), avg3pE(6)
		B[2][3], B[0][2] = avg2pE(6), avg2pE(6)
		B[1][3] = avg3pE(7)
		B[0][3] = avg2pE(7)
	case bVL:
		avg2pA := func(i int) byte { return avg2(A[i], A[i+1]) }
		B[0][0] = avg2pA(0)
		B[1][0] = avg3pA(1)
		B[2][0], B[0][1] = avg2pA(1), avg2pA(1)
		B[1][1], B[3][0] = avg3pA(2), avg3pA(2)
		B[2][1], B[0][2] = avg2pA(2), avg2pA(2)
		B[3][1], B[1][2] = avg3pA(3), avg3pA(3)
		B[2][2], B[0][3] = avg2pA(3), avg2pA(3)
		B[3][2], B[1][3] = avg3pA(4), avg3pA(4)
		B[2][3] = avg3pA(5)
		B[3][3] = avg3pA(6)
	case bHD:
		B[3][0] = avg2pE(0)
		B[3][1] = avg3pE(1)
		B[2][0], B[3][2] = avg2pE(1), avg2pE(1)
		B[2][1], B[3][3] = avg3pE(2), avg3pE(2)
		B[2][2], B[1][0] = avg2pE(2), avg2pE(2)
		B[2][3], B[1][1] = avg3pE(3), avg3pE(3)
		B[1][2], B[0][0] = avg2pE(3), avg2pE(3)
		B[1][3], B[0][1] = avg3pE(4), avg3pE(4)
		B[0][2] = avg3pE(5)
		B[0][3] = avg3pE(6)
	case bHU:
		B[0][0] = avg2(L[0], L[1])
		B[0][1] = avg3(L[0], L[1], L[2])
		B[0][2], B[1][0] = avg2(L[1], L[2]), avg2(L[1], L[2])
		B[0][3], B[1][1] = avg3(L[1], L[2], L[3]), avg3(L[1], L[2], L[3])
		B[1][2], B[2][0] = avg2(L[2], L[3]), avg2(L[2], L[3])
		B[1][3], B[2][1] = avg3(L[2], L[3], L[3]), avg3(L[2], L[3], L[3])
		B[2][2], B[2][3], B[3][0], B[3][1], B[3][2], B[3][3] = L[3], L[3], L[3], L[3], L[3], L[3]
	}
	return B
}

func TestSubblockPredictionIsTheRFCs(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for mode := uint8(bDC); mode <= bHU; mode++ {
		for range 2000 {
			var ws workspace
			// Subblock 5 (row 1, column 1): its edges all lie inside the luma area.
			off := wsY + 4*wsStride + 4
			P := byte(rng.IntN(256))
			var A [8]byte
			var L [4]byte
			for i := range A {
				A[i] = byte(rng.IntN(256))
			}
			for i := range L {
				L[i] = byte(rng.IntN(256))
			}
			ws[off-wsStride-1] = P
			copy(ws[off-wsStride:], A[:])
			for r, l := range L {
				ws[off+r*wsStride-1] = l
			}
			predictSubblock(&ws, off, mode)
			want := rfcSubblock(mode, P, A, L)
			for r := range 4 {
				for c := range 4 {
					if got := ws[off+r*wsStride+c]; got != want[r][c] {
						t.Fatalf("mode %d, P %d, A %v, L %v: pixel (%d,%d) = %d; want %d", mode, P, A, L, r, c, got, want[r][c])
					}
				}
			}
		}
	}
}

func TestBlockPredictionAtTheFramesEdges(t *testing.T) {
	tests := []struct {
		name               string
		hasAbove, hasLeft  bool
		above, left, wantY byte
	}{
		{"DC at the top-left corner is 128", false, false, 10, 20, 128},
		{"DC on the top row averages the left column", false, true, 10, 20, 20},
		{"DC on the left column averages the row above", true, false, 10, 20, 10},
		{"DC elsewhere averages both, rounding up", true, true, 10, 21, 16},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, size := range []int{8, 16} {
				var ws workspace
				for i := range size {
					ws[wsY-wsStride+i] = tt.above
					ws[wsY+i*wsStride-1] = tt.left
				}
				predictBlock(&ws, wsY, size, modeDC, tt.hasAbove, tt.hasLeft)
				for r := range size {
					for c := range size {
						if got := ws[wsY+r*wsStride+c]; got != tt.wantY {
							t.Fatalf("%dx%d: pixel (%d,%d) = %d; want %d", size, size, r, c, got, tt.wantY)
						}
					}
				}
			}
		})
	}
}

func TestLoadEdgesGivesXImagesBorders(t *testing.T) {
	aboveY := make([]byte, 2*16+4)
	aboveC := make([]byte, 2*8)
	for i := range aboveY {
		aboveY[i] = byte(200 + i)
	}
	for i := range aboveC {
		aboveC[i] = byte(100 + i)
	}
	var ws workspace
	ws.loadEdges(0, 1, aboveY, aboveC, aboveC)
	if got := ws[wsY-wsStride-1]; got != 129 {
		t.Errorf("above-left of the first macroblock below the top row = %d; want 129", got)
	}
	if got := ws[wsY+5*wsStride-1]; got != 129 {
		t.Errorf("left of the first macroblock = %d; want 129", got)
	}
	for i := range 16 {
		ws[wsY+i*wsStride+15] = byte(i) // the macroblock's right column
	}
	ws.loadEdges(1, 1, aboveY, aboveC, aboveC)
	if got := ws[wsY-wsStride-1]; got != aboveY[15] {
		t.Errorf("above-left of the second macroblock = %d; want %d, the pixel above the first's right column", got, aboveY[15])
	}
	if got := ws[wsY+5*wsStride-1]; got != 5 {
		t.Errorf("left of the second macroblock's row 5 = %d; want 5, the first's right column", got)
	}
	if got := ws[wsY-wsStride+19]; got != aboveY[35] {
		t.Errorf("last above-right pixel of the second macroblock = %d; want %d", got, aboveY[35])
	}
	ws.loadEdges(0, 0, aboveY, aboveC, aboveC)
	if got := ws[wsCr-wsStride-1]; got != 127 {
		t.Errorf("Cr above-left of the top-left macroblock = %d; want 127", got)
	}
}

// The RFC's loop filter arithmetic, on signed 8-bit values (section 15.2 and 15.3).
func rfcC(v int) int    { return min(max(v, -128), 127) }
func rfcU2S(v byte) int { return int(v) - 128 }
func rfcS2U(v int) byte { return byte(rfcC(v) + 128) }
func rfcAbs(v int) int  { return max(v, -v) }
func rfcHEV(t int, s []byte) bool {
	return rfcAbs(int(s[2])-int(s[3])) > t || rfcAbs(int(s[5])-int(s[4])) > t
}

// rfcCommonAdjust is common_adjust on the segment s (p3 p2 p1 p0 q0 q1 q2 q3).
func rfcCommonAdjust(useOuterTaps bool, s []byte) int {
	p1, p0, q0, q1 := rfcU2S(s[2]), rfcU2S(s[3]), rfcU2S(s[4]), rfcU2S(s[5])
	outer := 0
	if useOuterTaps {
		outer = rfcC(p1 - q1)
	}
	a := rfcC(outer + 3*(q0-p0))
	b := rfcC(a+3) >> 3
	a = rfcC(a+4) >> 3
	s[4] = rfcS2U(q0 - a)
	s[3] = rfcS2U(p0 + b)
	return a
}

func rfcFilterYes(I, E int, s []byte) bool {
	v := func(i int) int { return int(s[i]) }
	return rfcAbs(v(3)-v(4))*2+rfcAbs(v(2)-v(5))/2 <= E &&
		rfcAbs(v(0)-v(1)) <= I && rfcAbs(v(1)-v(2)) <= I && rfcAbs(v(2)-v(3)) <= I &&
		rfcAbs(v(7)-v(6)) <= I && rfcAbs(v(6)-v(5)) <= I && rfcAbs(v(5)-v(4)) <= I
}

func rfcSimpleSegment(E int, s []byte) {
	if rfcAbs(int(s[3])-int(s[4]))*2+rfcAbs(int(s[2])-int(s[5]))/2 <= E {
		rfcCommonAdjust(true, s)
	}
}

func rfcSubblockFilter(hevThreshold, I, E int, s []byte) {
	if !rfcFilterYes(I, E, s) {
		return
	}
	p1, q1 := rfcU2S(s[2]), rfcU2S(s[5])
	hv := rfcHEV(hevThreshold, s)
	a := (rfcCommonAdjust(hv, s) + 1) >> 1
	if !hv {
		s[5] = rfcS2U(q1 - a)
		s[2] = rfcS2U(p1 + a)
	}
}

func rfcMBFilter(hevThreshold, I, E int, s []byte) {
	if !rfcFilterYes(I, E, s) {
		return
	}
	if rfcHEV(hevThreshold, s) {
		rfcCommonAdjust(true, s)
		return
	}
	p2, p1, p0, q0, q1, q2 := rfcU2S(s[1]), rfcU2S(s[2]), rfcU2S(s[3]), rfcU2S(s[4]), rfcU2S(s[5]), rfcU2S(s[6])
	w := rfcC(rfcC(p1-q1) + 3*(q0-p0))
	a := rfcC((27*w + 63) >> 7)
	s[4], s[3] = rfcS2U(q0-a), rfcS2U(p0+a)
	a = rfcC((18*w + 63) >> 7)
	s[5], s[2] = rfcS2U(q1-a), rfcS2U(p1+a)
	a = rfcC((9*w + 63) >> 7)
	s[6], s[1] = rfcS2U(q2-a), rfcS2U(p2+a)
}

func TestLoopFiltersAreTheRFCs(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for level := 1; level < 64; level++ {
		for sharpness := range 8 {
			l := newEdgeLimits(level, sharpness)
			for n := range 300 {
				// A segment around a random value with steps small enough to be filtered
				// often, and sometimes large ones.
				var seg [8]byte
				v, spread := rng.IntN(256), 1+rng.IntN(8)
				if n%5 == 0 {
					spread = 64
				}
				for i := range seg {
					seg[i] = byte(min(max(v+rng.IntN(2*spread+1)-spread, 0), 255))
				}
				for _, f := range []struct {
					name string
					ours func(pix []byte)
					rfc  func(s []byte)
				}{
					{"simple", func(pix []byte) { simpleEdge(pix, 3, 4, 1, 8, 1, l.mbEdge) }, func(s []byte) { rfcSimpleSegment(l.mbEdge, s) }},
					{"subblock", func(pix []byte) { subblockEdge(pix, 3, 4, 1, 8, 1, &l) }, func(s []byte) { rfcSubblockFilter(l.hev, l.interior, l.subEdge, s) }},
					{"macroblock", func(pix []byte) { mbEdge(pix, 3, 4, 1, 8, 1, &l) }, func(s []byte) { rfcMBFilter(l.hev, l.interior, l.mbEdge, s) }},
				} {
					got, want := seg, seg
					f.ours(got[:])
					f.rfc(want[:])
					if got != want {
						t.Fatalf("%s filter, level %d, sharpness %d, on %v = %v; want %v", f.name, level, sharpness, seg, got, want)
					}
				}
			}
		}
	}
}

func TestEdgeLimitsAreTheRFCs(t *testing.T) {
	tests := []struct {
		level, sharpness int
		want             edgeLimits
	}{
		{1, 0, edgeLimits{mbEdge: 7, subEdge: 3, interior: 1, hev: 0}},
		{14, 0, edgeLimits{mbEdge: 46, subEdge: 42, interior: 14, hev: 0}},
		{15, 3, edgeLimits{mbEdge: 40, subEdge: 36, interior: 6, hev: 1}},
		{40, 5, edgeLimits{mbEdge: 88, subEdge: 84, interior: 4, hev: 2}},
		{63, 7, edgeLimits{mbEdge: 132, subEdge: 128, interior: 2, hev: 2}},
		{2, 7, edgeLimits{mbEdge: 9, subEdge: 5, interior: 1, hev: 0}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("level %d sharpness %d", tt.level, tt.sharpness), func(t *testing.T) {
			if got := newEdgeLimits(tt.level, tt.sharpness); got != tt.want {
				t.Errorf("newEdgeLimits(%d, %d) = %+v; want %+v", tt.level, tt.sharpness, got, tt.want)
			}
		})
	}
}

// A frame 0 pixels wide or high is valid to x/image/vp8, which decodes it to an empty picture;
// Decode accepts it too, with bands of empty rows covering its height (collect checks them).
// testdata/fuzz/FuzzDecode/1d2c713aefc89d42 is one the fuzzer found.
func TestDecodeAcceptsEmptyPictures(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "cwebp-default.webp"))
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range [][2]int{{0, 0}, {0, 20}, {20, 0}} {
		t.Run(fmt.Sprintf("%dx%d decodes as x/image decodes it", size[0], size[1]), func(t *testing.T) {
			frame := append([]byte(nil), chunk(t, data)...)
			frame[6], frame[7], frame[8], frame[9] = byte(size[0]), 0, byte(size[1]), 0
			want, err := reference(frame)
			if err != nil {
				t.Fatalf("x/image/vp8: %v", err)
			}
			got, err := collect(t, frame)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			samePlanes(t, got, want)
		})
	}
}

// A frame of two macroblock rows hands out its first band after its last row is decoded: a
// cancellation then still stops Decode before the second.
func TestDecodeStopsWhenCancelledBeforeTheLastBand(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "cwebp-17x33.webp"))
	if err != nil {
		t.Fatal(err)
	}
	frame := chunk(t, data)
	frame[8], frame[9] = 32, 0 // 17x32: two macroblock rows
	ctx, cancel := context.WithCancel(context.Background())
	bands := 0
	err = Decode(ctx, frame, func(Band) error {
		bands++
		cancel()
		return nil
	})
	if err != context.Canceled || bands != 1 {
		t.Errorf("Decode of 2 macroblock rows cancelled in its first band: %d bands, error %v; want 1 band and context.Canceled", bands, err)
	}
}
