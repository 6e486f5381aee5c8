package jpegscale

import "context"

// A place is a block of an MCU.
type place struct {
	c      *component
	dx, dy int // block offset within the MCU
	mx, my int // blocks per MCU across and down for this component (1, 1 when alone)
}

// dcScan decodes, without a call per block, the scans that reduce to DC coefficients: the DC
// scans of a progressive file (first and refinement), and a sequential scan at 1/8, where the
// AC coefficients are decoded only to be skipped. These are all the work of a decode at 1/8.
// It also takes the sequential scans at 1/4 and 1/2 whose AC tables have skip tables, for
// skipScan.
func (d *decoder) dcScan(ctx context.Context, s *scan) error {
	var places [10]place
	n := 0
	mcuX, mcuY := d.mcuX, d.mcuY
	if len(s.comps) == 1 {
		c := s.comps[0]
		places[0] = place{c, 0, 0, 1, 1}
		n = 1
		mcuX, mcuY = c.cw, c.ch
	} else {
		for _, c := range s.comps {
			for dy := range c.v {
				for dx := range c.h {
					places[n] = place{c, dx, dy, c.h, c.v}
					n++
				}
			}
		}
	}
	if !d.progressive && skipTables(s) {
		return d.skipScan(ctx, s, places[:n], mcuX, mcuY)
	}
	br := &d.br
	sequential := !d.progressive
	refine := d.progressive && s.ah > 0
	al := uint(s.al)
	mcu := 0
	for y := range mcuY {
		if y%16 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		for x := range mcuX {
			if d.ri > 0 && mcu > 0 && mcu%d.ri == 0 {
				if err := d.restart(s); err != nil {
					return err
				}
			}
			mcu++
			for _, p := range places[:n] {
				c := p.c
				bx, by := x*p.mx+p.dx, y*p.my+p.dy
				if refine {
					if br.n == 0 {
						br.refill()
					}
					if br.acc>>63 != 0 {
						c.coef[(by*c.bw+bx)*d.ncoef] |= 1 << al
					}
					br.acc <<= 1
					br.n--
					continue
				}
				if br.n < 32 {
					br.refill()
				}
				var sz uint
				if e := c.dc.fast[br.acc>>(64-lookBits)]; e != 0 {
					l := uint(e >> 8)
					br.acc <<= l
					br.n -= l
					sz = uint(e & 0xff)
				} else {
					v, err := br.symbol(c.dc)
					if err != nil {
						return err
					}
					sz = uint(v)
				}
				if sz > 16 {
					return FormatError("excessive DC component")
				}
				if sz > 0 {
					v := int32(br.acc >> (64 - sz))
					br.acc <<= sz
					br.n -= sz
					if v < 1<<(sz-1) {
						v += -1<<sz + 1
					}
					c.pred += v
				}
				if sequential {
					if err := br.skipAC(c.ac, 1); err != nil {
						return err
					}
					c.pix[by*c.stride+bx] = dcPixel(c.pred * d.quant[c.tq][0])
					continue
				}
				w := c.pred << al
				if w != int32(int16(w)) {
					return errCoefRange
				}
				c.coef[(by*c.bw+bx)*d.ncoef] = int16(w)
			}
		}
		if br.overrun() {
			return errTruncated
		}
	}
	return nil
}

// skipTables tells whether all the AC tables of a scan have skip tables.
func skipTables(s *scan) bool {
	for _, c := range s.comps {
		if !c.ac.skipOK {
			return false
		}
	}
	return true
}

// skipScan decodes a sequential scan whose AC tables have skip tables, at 1/8, 1/4 or 1/2. It
// keeps the bit reader's state in locals and inlines the common cases of refilling, decoding the
// DC difference and the AC coefficients up to kmax (as readAC) and skipping the rest (as
// skipAC); the rest goes through the bit reader.
func (d *decoder) skipScan(ctx context.Context, s *scan, places []place, mcuX, mcuY int) error {
	br := &d.br
	data := br.data
	acc, n, pos := br.acc, br.n, br.pos
	type skipPlace struct {
		place
		dc, ac *huffTable
		skip   *[1 << skipBits]uint32
		q      int32 // the DC quantizer
	}
	var sp [10]skipPlace
	for i, p := range places {
		sp[i] = skipPlace{p, p.c.dc, p.c.ac, p.c.ac.skip, d.quant[p.c.tq][0]}
	}
	kmax, blk := d.kmax, &d.blk
	var rows [10]int // the index in c.pix of each place's block in the first MCU of the row
	mcu := 0
	for y := range mcuY {
		if y%16 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		for i, p := range places {
			rows[i] = (y*p.my+p.dy)*p.c.stride + p.dx
		}
		for x := range mcuX {
			if d.ri > 0 && mcu > 0 && mcu%d.ri == 0 {
				br.acc, br.n, br.pos = acc, n, pos
				if err := d.restart(s); err != nil {
					return err
				}
				acc, n, pos = br.acc, br.n, br.pos
			}
			mcu++
			for i := range places {
				p := &sp[i]
				c := p.c
				// Top up for every block, which costs less than a branch that goes either way;
				// then there are at least 32 bits, as dcDiff needs.
				if a, m, q, ok := refillWord(data, pos, acc, n); ok {
					acc, n, pos = a, m, q
				} else if n < 32 {
					acc, n, pos = br.refillFrom(acc, n, pos)
				}
				if e := p.dc.fused[acc>>(64-lookBits)]; e&31 != 0 {
					l := uint(e & 31)
					acc <<= l
					n -= l
					c.pred += int32(e) >> 16
				} else {
					br.acc, br.n, br.pos = acc, n, pos
					v, err := br.dcDiff(p.dc)
					if err != nil {
						return err
					}
					acc, n, pos = br.acc, br.n, br.pos
					c.pred += v
				}

				k := 1
				if kmax > 0 { // readAC with the state in locals
					blk[0] = c.pred
					for k <= kmax {
						if n < 32 {
							var ok bool
							if acc, n, pos, ok = refillWord(data, pos, acc, n); !ok {
								acc, n, pos = br.refillFrom(acc, n, pos)
							}
						}
						var adv int
						var v int32
						if e := p.ac.fused[acc>>(64-lookBits)]; e&15 != 0 {
							l := uint(e & 15)
							acc <<= l
							n -= l
							adv, v = int(e>>8&0xff), int32(int16(e>>16))
						} else {
							br.acc, br.n, br.pos = acc, n, pos
							var err error
							if adv, v, err = br.acSlow(p.ac); err != nil {
								return err
							}
							acc, n, pos = br.acc, br.n, br.pos
						}
						k += adv
						if k > 64 {
							break
						}
						blk[(k-1)&63] = v
					}
				}
				for k < 64 {
					if n < skipBits {
						var ok bool
						if acc, n, pos, ok = refillWord(data, pos, acc, n); !ok {
							acc, n, pos = br.refillFrom(acc, n, pos)
						}
					}
					e := p.skip[acc>>(64-skipBits)]
					if kk := k + int(e>>8&0xff); kk <= 64 {
						l := uint(e & 31)
						acc <<= l
						n -= l
						k = kk
						if e&skipEOB != 0 || k == 64 {
							break
						}
						continue
					}
					if l := uint(e >> 16 & 31); l != 0 {
						acc <<= l
						n -= l
						k += int(e >> 24)
					} else {
						if n < 32 {
							acc, n, pos = br.refillFrom(acc, n, pos)
						}
						br.acc, br.n, br.pos = acc, n, pos
						adv, _, err := br.acSlow(p.ac)
						if err != nil {
							return err
						}
						acc, n, pos = br.acc, br.n, br.pos
						k += adv
					}
				}
				if k > 64 && k < acEOB {
					return errPastEnd
				}
				if kmax > 0 {
					d.output(c, blk, x*p.mx+p.dx, y*p.my+p.dy)
					clear(blk[:kmax+1])
					continue
				}
				c.pix[rows[i]+x*p.mx] = dcPixel(c.pred * p.q)
			}
		}
		if br.pad*8 > int(n) { // br.overrun()
			return errTruncated
		}
	}
	br.acc, br.n, br.pos = acc, n, pos
	return nil
}
