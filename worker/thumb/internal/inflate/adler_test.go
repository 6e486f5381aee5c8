package inflate

import (
	"hash/adler32"
	"math/rand/v2"
	"testing"
)

func TestAdlerMatchesHashAdler32(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	data := make([]byte, 3<<20+13)
	for i := range data {
		data[i] = byte(rng.UintN(256)) | 0xf0 // large bytes push the sums towards overflow
	}
	for _, n := range []int{0, 1, 7, 8, 9, 5552, 5553, 1 << 20, 1<<20 + 1, len(data)} {
		var a adler
		a.reset()
		a.write(data[:n/3])
		a.write(data[n/3 : n])
		if got, want := a.sum(), adler32.Checksum(data[:n]); got != want {
			t.Errorf("Adler-32 of %d bytes (in two writes) = %#x; want %#x", n, got, want)
		}
	}
}
