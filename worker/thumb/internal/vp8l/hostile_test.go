package vp8l

import (
	"errors"
	"testing"
)

// writeSingle writes a simple prefix code of the one symbol 0.
func (bw *bitWriter) writeSingle() { bw.write(1, 1); bw.write(0, 3) }

// writeFlat writes a complete code over the first n symbols of an alphabet of size symbols, of
// lengths l and l+1, the shorter ones first, as many as a complete code allows.
func (bw *bitWriter) writeFlat(n, size int) {
	l := 0
	for 1<<(l+1) <= n {
		l++
	}
	short := 1<<(l+1) - n // 2*short + (n-short) = 2^(l+1)
	lengths := make([]uint8, size)
	for s := range n {
		lengths[s] = uint8(l + 1)
		if s < short {
			lengths[s] = uint8(l)
		}
	}
	bw.writeLengths(lengths)
}

// hostileCodes writes a 400x400 image whose meta prefix image (4x4-pixel tiles) names groups
// 0..groups-1 in turn, each of the largest codes possible (a colour cache of 11 bits, every
// symbol of every alphabet), followed by zero bits for the pixels.
func hostileCodes(groups int) []byte {
	const w, h = 400, 400
	var bw bitWriter
	bw.write(signature, 8)
	bw.write(w-1, 14)
	bw.write(h-1, 14)
	bw.write(0, 4)
	bw.write(0, 1)  // no transform
	bw.write(1, 1)  // a colour cache
	bw.write(11, 4) // of 2^11 entries
	bw.write(1, 1)  // meta prefix codes
	bw.write(0, 3)  // 4x4 tiles: a 100x100 meta prefix image
	bw.write(0, 1)  // its colour cache: none
	bw.writeFlat(256, numLiterals+numLengthCodes)
	bw.writeFlat(256, numLiterals)
	bw.writeSingle()
	bw.writeSingle()
	bw.writeSingle()
	for i := range 100 * 100 {
		g := i % groups
		for _, v := range []int{g & 255, g >> 8} { // green, red: 8-bit codes, code s for symbol s
			for b := 7; b >= 0; b-- {
				bw.write(uint32(v>>b&1), 1)
			}
		}
	}
	for range groups {
		n := numLiterals + numLengthCodes + 1<<maxCacheBits
		bw.writeFlat(n, n)
		bw.writeFlat(numLiterals, numLiterals)
		bw.writeFlat(numLiterals, numLiterals)
		bw.writeFlat(numLiterals, numLiterals)
		bw.writeFlat(numDistCodes, numDistCodes)
	}
	return append(bw.buf, make([]byte, w*h*48/8)...) // literal pixels of 0: 11+8+8+8 bits
}

// TestMemoryBoundsHostileCodes: an image of as many of the largest prefix codes as its meta
// prefix image can name is decoded as x/image decodes it while the codes fit maxCodeEntries,
// and refused past it; either way within Memory.
func TestMemoryBoundsHostileCodes(t *testing.T) {
	for _, groups := range []int{900, maxGroups - 1} {
		data := hostileCodes(groups)
		w, h, _ := DecodeConfig(data)
		got, err := allocated(data)
		if groups < 1000 {
			want, xerr := reference(data)
			if xerr != nil || err != nil {
				t.Fatalf("%d groups: Decode: %v; x/image/vp8l: %v; want both to decode them", groups, err, xerr)
			}
			m, _ := collect(t, data)
			samePixels(t, m, want)
		} else if !errors.Is(err, errTooManyCodes) {
			t.Errorf("Decode(%d groups of the largest codes) = %v; want %v", groups, err, errTooManyCodes)
		}
		if got > Memory(w, h) {
			t.Errorf("Decode(%d groups, %dx%d) allocated %d bytes; Memory = %d", groups, w, h, got, Memory(w, h))
		}
		t.Logf("%d groups: allocated %d bytes, Memory %d", groups, got, Memory(w, h))
	}
}
