package vp8l

import (
	"math/rand/v2"
	"testing"
)

// A bitWriter writes bits least significant first, as a VP8L stream is read.
type bitWriter struct {
	buf  []byte
	nbit uint
}

func (bw *bitWriter) write(v uint32, n uint) {
	for i := range n {
		if bw.nbit%8 == 0 {
			bw.buf = append(bw.buf, 0)
		}
		bw.buf[len(bw.buf)-1] |= byte(v>>i&1) << (bw.nbit % 8)
		bw.nbit++
	}
}

// writeLengths writes code lengths as a normal code (section 6.2.1) whose code-length code gives
// each of the lengths 0..15 a 4-bit code (the canonical code of length l is l).
func (bw *bitWriter) writeLengths(lengths []uint8) {
	bw.write(0, 1)  // normal
	bw.write(15, 4) // 19 code-length code lengths
	for _, s := range codeLengthOrder {
		if s < 16 {
			bw.write(4, 3)
		} else {
			bw.write(0, 3)
		}
	}
	bw.write(0, 1) // max_symbol: the alphabet
	for _, l := range lengths {
		for i := 3; i >= 0; i-- {
			bw.write(uint32(l)>>i&1, 1)
		}
	}
}

// randomLengths returns code lengths over n symbols: a complete code, or if odd also codes with a
// length or two changed (over-full or incomplete), one length repeated, or a single symbol.
func randomLengths(rng *rand.Rand, n int, odd bool) []uint8 {
	lengths := make([]uint8, n)
	kind := 2
	if odd {
		kind = rng.IntN(6)
	}
	switch kind {
	case 0: // m symbols of one length, around 2^l
		l := 1 + rng.IntN(8)
		m := min(n, max(1, 1<<l+rng.IntN(5)-2))
		for _, s := range rng.Perm(n)[:m] {
			lengths[s] = uint8(l)
		}
		return lengths
	case 1: // one symbol, of any length
		lengths[rng.IntN(n)] = uint8(rng.IntN(16))
		return lengths
	}
	// A complete code: split leaves at random, up to 15 bits, on a few symbols.
	depths := []uint8{0}
	target := 2 + rng.IntN(min(n, 40)-1)
	for len(depths) < target {
		i := rng.IntN(len(depths))
		if depths[i] == maxCodeLength {
			continue
		}
		depths[i]++
		depths = append(depths, depths[i])
	}
	perm := rng.Perm(n)
	if !odd {
		perm = rng.Perm(min(n, numLiterals)) // no backward references, which random data gets wrong
	}
	for i, d := range depths {
		lengths[perm[i]] = d
	}
	for range rng.IntN(3) {
		if !odd {
			break
		}
		// change a length or two
		s := perm[rng.IntN(len(depths))]
		lengths[s] = uint8(min(max(int(lengths[s])+rng.IntN(3)-1, 1), 15))
	}
	return lengths
}

// TestRandomCodesDecodeAsXImage writes small images whose five prefix codes have random code
// lengths (one of them possibly over-full, incomplete, of one symbol or of one length), followed
// by random pixel data, and requires x/image's outcome: its pixels, or an error where it refuses.
func TestRandomCodesDecodeAsXImage(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	var agreed, refused int
	reasons := map[string]int{}
	for i := range 3000 {
		var bw bitWriter
		w, h := 1+rng.IntN(20), 1+rng.IntN(6)
		bw.write(signature, 8)
		bw.write(uint32(w-1), 14)
		bw.write(uint32(h-1), 14)
		bw.write(0, 4)     // alpha hint, version
		bw.write(0, 1)     // no transform
		bw.write(0, 1)     // no colour cache
		bw.write(0, 1)     // no meta prefix codes
		odd := rng.IntN(5) // the one code that may be odd
		for j, n := range []int{numLiterals + numLengthCodes, numLiterals, numLiterals, numLiterals, numDistCodes} {
			bw.writeLengths(randomLengths(rng, n, j == odd))
		}
		for range 1000 {
			bw.write(rng.Uint32(), 8)
		}
		data := bw.buf
		want, xerr := reference(data)
		got, err := collect(t, data)
		switch {
		case xerr != nil && err == nil:
			t.Fatalf("image %d: Decode succeeded; x/image/vp8l refuses: %v", i, xerr)
		case xerr != nil:
			refused++
			reasons[xerr.Error()]++
		case err != nil:
			t.Fatalf("image %d: Decode: %v; x/image/vp8l decodes it", i, err)
		default:
			samePixels(t, got, want)
			agreed++
		}
	}
	t.Logf("%d images decoded alike, %d refused by both (x/image: %v)", agreed, refused, reasons)
	if agreed < 100 || refused < 100 {
		t.Errorf("too few images decoded (%d) or refused (%d) to mean anything", agreed, refused)
	}
}
