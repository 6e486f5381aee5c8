package pngscale

import "encoding/binary"

// unfilter undoes the filter ft of the row cur (PNG spec, 9.2), given the unfiltered row above it
// (zeros for the first row) and the number of bytes of a pixel (1 below 8 bits).
func unfilter(ft byte, cur, prev []byte, bpp int) error {
	prev = prev[:len(cur)]
	switch ft {
	case 0: // None
	case 1: // Sub
		for i := bpp; i < len(cur); i++ {
			cur[i] += cur[i-bpp]
		}
	case 2: // Up: eight bytes at a time, adding without carries across bytes
		const hi, lo = 0x8080808080808080, 0x7f7f7f7f7f7f7f7f
		i := 0
		for ; i+8 <= len(cur); i += 8 {
			a := binary.LittleEndian.Uint64(cur[i:])
			b := binary.LittleEndian.Uint64(prev[i:])
			binary.LittleEndian.PutUint64(cur[i:], ((a&lo)+(b&lo))^((a^b)&hi))
		}
		for ; i < len(cur); i++ {
			cur[i] += prev[i]
		}
	case 3: // Average
		for i := range min(bpp, len(cur)) {
			cur[i] += prev[i] / 2
		}
		for i := bpp; i < len(cur); i++ {
			cur[i] += uint8((uint(cur[i-bpp]) + uint(prev[i])) / 2)
		}
	case 4: // Paeth
		switch bpp {
		case 3:
			paeth3(cur, prev)
		case 4:
			paeth4(cur, prev)
		default:
			paeth(cur, prev, bpp)
		}
	default:
		return malformed("bad filter type %d", ft)
	}
	return nil
}

// predict is the Paeth predictor of a (left), b (above) and c (above left), written so that the
// compiler can choose with conditional moves rather than branches.
func predict(a, b, c int32) int32 {
	pa := b - c // |p-a| where p = a+b-c
	pb := a - c // |p-b|
	pc := pa + pb
	pa = (pa ^ pa>>31) - pa>>31
	pb = (pb ^ pb>>31) - pb>>31
	pc = (pc ^ pc>>31) - pc>>31
	if pb < pa {
		a, pa = b, pb
	}
	if pc < pa {
		a = c
	}
	return a
}

func paeth(cur, prev []byte, bpp int) {
	for i := range min(bpp, len(cur)) {
		cur[i] += prev[i]
	}
	for i := bpp; i < len(cur); i++ {
		cur[i] += uint8(predict(int32(cur[i-bpp]), int32(prev[i]), int32(prev[i-bpp])))
	}
}

// paeth3 is paeth for 3-byte pixels, with the left and upper-left pixels kept in registers.
func paeth3(cur, prev []byte) {
	var a0, a1, a2, c0, c1, c2 int32
	for len(cur) >= 3 && len(prev) >= 3 {
		b0, b1, b2 := int32(prev[0]), int32(prev[1]), int32(prev[2])
		a0 = int32(uint8(int32(cur[0]) + predict(a0, b0, c0)))
		a1 = int32(uint8(int32(cur[1]) + predict(a1, b1, c1)))
		a2 = int32(uint8(int32(cur[2]) + predict(a2, b2, c2)))
		cur[0], cur[1], cur[2] = uint8(a0), uint8(a1), uint8(a2)
		c0, c1, c2 = b0, b1, b2
		cur, prev = cur[3:], prev[3:]
	}
}

// paeth4 is paeth for 4-byte pixels.
func paeth4(cur, prev []byte) {
	var a0, a1, a2, a3, c0, c1, c2, c3 int32
	for len(cur) >= 4 && len(prev) >= 4 {
		b0, b1, b2, b3 := int32(prev[0]), int32(prev[1]), int32(prev[2]), int32(prev[3])
		a0 = int32(uint8(int32(cur[0]) + predict(a0, b0, c0)))
		a1 = int32(uint8(int32(cur[1]) + predict(a1, b1, c1)))
		a2 = int32(uint8(int32(cur[2]) + predict(a2, b2, c2)))
		a3 = int32(uint8(int32(cur[3]) + predict(a3, b3, c3)))
		cur[0], cur[1], cur[2], cur[3] = uint8(a0), uint8(a1), uint8(a2), uint8(a3)
		c0, c1, c2, c3 = b0, b1, b2, b3
		cur, prev = cur[4:], prev[4:]
	}
}
