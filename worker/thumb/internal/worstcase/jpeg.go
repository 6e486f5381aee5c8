package worstcase

import (
	"bufio"
	"io"
)

type jpegKind int

const (
	jpegYCbCr jpegKind = iota // JFIF, 4:2:0
	jpegCMYK                  // Adobe, transform 0, no subsampling
	jpegYCCK                  // Adobe, transform 2, Y and K 2x2, Cb and Cr 1x1
)

func jpegCase(kind jpegKind, progressive bool) func(io.Writer, int, int) error {
	return func(w io.Writer, width, height int) error {
		return WriteJPEG(w, width, height, kind == jpegCMYK, kind == jpegYCCK, progressive)
	}
}

// WriteJPEG writes a JPEG of width x height whose 8x8 blocks are flat (their AC coefficients are
// all zero), so that a 100 megapixel file is a few megabytes and cheap to write: YCbCr 4:2:0
// (JFIF), CMYK (cmyk: Adobe transform 0) or YCCK (ycck: Adobe transform 2, Y and K 2x2), baseline
// or progressive. The blocks follow the blocks pattern.
func WriteJPEG(w io.Writer, width, height int, cmyk, ycck, progressive bool) error {
	bw := bufio.NewWriter(w)
	type comp struct{ id, h, v int }
	comps := []comp{{1, 2, 2}, {2, 1, 1}, {3, 1, 1}}
	switch {
	case cmyk:
		comps = []comp{{1, 1, 1}, {2, 1, 1}, {3, 1, 1}, {4, 1, 1}}
	case ycck:
		comps = []comp{{1, 2, 2}, {2, 1, 1}, {3, 1, 1}, {4, 2, 2}}
	}
	seg := func(marker byte, payload []byte) {
		bw.Write([]byte{0xff, marker, byte((len(payload) + 2) >> 8), byte(len(payload) + 2)})
		bw.Write(payload)
	}
	bw.Write([]byte{0xff, 0xd8})
	if cmyk || ycck {
		transform := byte(0)
		if ycck {
			transform = 2
		}
		seg(0xee, []byte{'A', 'd', 'o', 'b', 'e', 0, 100, 0, 0, 0, 0, transform})
	} else {
		seg(0xe0, []byte{'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0})
	}
	q := make([]byte, 65)
	for i := 1; i < 65; i++ {
		q[i] = 16
	}
	seg(0xdb, q)
	sof := []byte{8, byte(height >> 8), byte(height), byte(width >> 8), byte(width), byte(len(comps))}
	for _, c := range comps {
		sof = append(sof, byte(c.id), byte(c.h<<4|c.v), 0)
	}
	marker := byte(0xc0)
	if progressive {
		marker = 0xc2
	}
	seg(marker, sof)
	// DC: the standard luminance table (categories 0-11). AC: one code, "0", for symbol 0 (EOB).
	dcBits := []byte{0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0}
	dht := append([]byte{0x00}, dcBits...)
	for v := range 12 {
		dht = append(dht, byte(v))
	}
	dht = append(dht, 0x10, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
	seg(0xc4, dht)
	var dcCode [12]uint32
	var dcLen [12]uint
	code, k := uint32(0), 0
	for l, n := range dcBits {
		for range n {
			dcCode[k], dcLen[k] = code, uint(l+1)
			code++
			k++
		}
		code <<= 1
	}

	hmax, vmax := comps[0].h, comps[0].v
	mcuX, mcuY := (width+8*hmax-1)/(8*hmax), (height+8*vmax-1)/(8*vmax)
	level := func(ci, bx, by, h, v int) int {
		// The block's place in source pixels, at its component's sampling.
		x, y := bx*8*hmax/h+4, by*8*vmax/v+4
		r, g, b := blocks(x, y)
		switch ci {
		case 0:
			return int(r)
		case 1:
			return int(g)
		case 2:
			return int(b)
		}
		return int(r ^ g)
	}
	e := &bitWriter{w: bw}
	dc := func(pred *int, l int) {
		v := (l - 128) / 2
		d := v - *pred
		*pred = v
		s, a := uint(0), d
		if a < 0 {
			a = -a
		}
		for a > 0 {
			s++
			a >>= 1
		}
		e.put(dcCode[s], dcLen[s])
		if s > 0 {
			if d < 0 {
				d += 1<<s - 1
			}
			e.put(uint32(d), s)
		}
	}
	sos := func(ids []int, ss, se byte) {
		p := []byte{byte(len(ids))}
		for _, id := range ids {
			p = append(p, byte(id), 0x00)
		}
		seg(0xda, append(p, ss, se, 0))
	}
	ids := make([]int, len(comps))
	for i, c := range comps {
		ids[i] = c.id
	}
	sos(ids, 0, 63*byte(boolInt(!progressive)))
	preds := make([]int, len(comps))
	for my := range mcuY {
		for mx := range mcuX {
			for ci, c := range comps {
				for by := range c.v {
					for bx := range c.h {
						dc(&preds[ci], level(ci, mx*c.h+bx, my*c.v+by, c.h, c.v))
						if !progressive {
							e.put(0, 1) // EOB
						}
					}
				}
			}
		}
	}
	e.flush()
	if progressive {
		for _, c := range comps {
			sos([]int{c.id}, 1, 63)
			cw := ((width*c.h+hmax-1)/hmax + 7) / 8
			ch := ((height*c.v+vmax-1)/vmax + 7) / 8
			for range cw * ch {
				e.put(0, 1) // EOB0: this block's band is zero
			}
			e.flush()
		}
	}
	bw.Write([]byte{0xff, 0xd9})
	if e.err != nil {
		return e.err
	}
	return bw.Flush()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// bitWriter writes entropy-coded bits, MSB first, stuffing a zero after each 0xff.
type bitWriter struct {
	w     *bufio.Writer
	acc   uint64
	nbits uint
	err   error
}

func (b *bitWriter) put(code uint32, n uint) {
	b.acc = b.acc<<n | uint64(code)&(1<<n-1)
	b.nbits += n
	for b.nbits >= 8 {
		c := byte(b.acc >> (b.nbits - 8))
		b.w.WriteByte(c)
		if c == 0xff {
			b.w.WriteByte(0)
		}
		b.nbits -= 8
	}
}

// flush pads the last byte with ones.
func (b *bitWriter) flush() {
	if b.nbits > 0 {
		b.put(1<<(8-b.nbits)-1, 8-b.nbits)
	}
}
