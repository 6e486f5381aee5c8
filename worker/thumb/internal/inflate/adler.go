package inflate

// adler is an Adler-32 (RFC 1950) that sums eight bytes a step with 64-bit sums, reduced modulo
// 65521 once a megabyte rather than every 5552 bytes: hash/adler32 was a tenth of the decode.
type adler struct{ s1, s2 uint32 }

const adlerMod = 65521

func (a *adler) reset() { a.s1, a.s2 = 1, 0 }

func (a *adler) sum() uint32 { return a.s2<<16 | a.s1 }

func (a *adler) write(p []byte) {
	s1, s2 := uint64(a.s1), uint64(a.s2)
	for len(p) > 0 {
		// Within a megabyte s1 stays below 2^29 and s2 below 2^50.
		q := p[:min(len(p), 1<<20)]
		p = p[len(q):]
		for len(q) >= 8 {
			s2 += 8*s1 + 8*uint64(q[0]) + 7*uint64(q[1]) + 6*uint64(q[2]) + 5*uint64(q[3]) +
				4*uint64(q[4]) + 3*uint64(q[5]) + 2*uint64(q[6]) + uint64(q[7])
			s1 += uint64(q[0]) + uint64(q[1]) + uint64(q[2]) + uint64(q[3]) +
				uint64(q[4]) + uint64(q[5]) + uint64(q[6]) + uint64(q[7])
			q = q[8:]
		}
		for _, b := range q {
			s1 += uint64(b)
			s2 += s1
		}
		s1 %= adlerMod
		s2 %= adlerMod
	}
	a.s1, a.s2 = uint32(s1), uint32(s2)
}
