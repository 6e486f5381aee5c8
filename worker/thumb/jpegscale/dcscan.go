package jpegscale

// dcScan decodes, without a call per block, the scans that reduce to DC coefficients: the DC
// scans of a progressive file (first and refinement), and a sequential scan at 1/8, where the
// AC coefficients are decoded only to be skipped. These are all the work of a decode at 1/8.
func (d *decoder) dcScan(s *scan) error {
	type place struct {
		c      *component
		dx, dy int // block offset within the MCU
		mx, my int // blocks per MCU across and down for this component (1, 1 when alone)
	}
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
	br := &d.br
	sequential := !d.progressive
	refine := d.progressive && s.ah > 0
	al := uint(s.al)
	mcu := 0
	for y := range mcuY {
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
				c.coef[(by*c.bw+bx)*d.ncoef] = int16(c.pred << al)
			}
		}
		if br.overrun() {
			return errTruncated
		}
	}
	return nil
}
