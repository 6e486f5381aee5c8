package jpegscale

import (
	"bytes"
	"context"
	"math/bits"
)

// scan is what an SOS header says.
type scan struct {
	comps          []*component
	ss, se, ah, al int
}

// readScan reads an SOS header and the entropy-coded data after it, starting at pos, and
// returns where the next marker starts.
func (d *decoder) readScan(ctx context.Context, seg []byte, pos int) (int, error) {
	if !d.sof {
		return 0, FormatError("missing SOF marker")
	}
	if d.scans == 0 && d.ncomp == 3 && d.isRGB() {
		return 0, unsupported("RGB colour")
	}
	if len(seg) < 1 {
		return 0, FormatError("short SOS")
	}
	ns := int(seg[0])
	if ns < 1 || ns > d.ncomp || len(seg) != 4+2*ns {
		return 0, FormatError("bad SOS length")
	}
	var comps [4]*component
	blocks := 0
	for i := range ns {
		id, tables := seg[1+2*i], seg[2+2*i]
		var c *component
		for j := range d.ncomp {
			if d.comp[j].id == id {
				c = &d.comp[j]
			}
		}
		if c == nil {
			return 0, FormatError("unknown component selector")
		}
		for _, o := range comps[:i] {
			if o == c {
				return 0, FormatError("repeated component selector")
			}
		}
		td, ta := tables>>4, tables&15
		if td > 3 || ta > 3 {
			return 0, FormatError("bad Huffman table selector")
		}
		c.dc, c.ac = nil, nil
		if d.dcDef[td] {
			c.dc = &d.dc[td]
		}
		if d.acDef[ta] {
			c.ac = &d.ac[ta]
		}
		comps[i] = c
		c.scanned = true
		blocks += c.h * c.v
	}
	if ns > 1 && blocks > 10 {
		return 0, FormatError("too many blocks in an MCU")
	}
	s := scan{comps: comps[:ns], ss: int(seg[1+2*ns]), se: int(seg[2+2*ns]), ah: int(seg[3+2*ns] >> 4), al: int(seg[3+2*ns] & 15)}
	if !d.progressive {
		s.ss, s.se, s.ah, s.al = 0, 63, 0, 0
	} else if s.ss == 0 && s.se != 0 || s.ss > 0 && (ns != 1 || s.se < s.ss || s.se > 63) {
		return 0, FormatError("bad spectral selection")
	} else if s.al > 13 || s.ah > 13 { // invalid for 8-bit samples, but image/jpeg goes on
		return 0, unsupported("successive approximation Ah=%d Al=%d", s.ah, s.al)
	}
	for _, c := range s.comps {
		if !d.qdef[c.tq] { // invalid, but image/jpeg decodes it (with zeros): let it
			return 0, unsupported("missing quantization table")
		}
		if (s.ss == 0 && s.ah == 0 && c.dc == nil) || (s.se > 0 && c.ac == nil) {
			return 0, FormatError("missing Huffman table")
		}
	}
	d.scans++

	if d.progressive && d.scans == 1 && d.kmax > 0 && d.kmax < 63 {
		d.planSkips(pos)
	}
	if s.ss > 0 && s.se > d.kmax {
		c := s.comps[0]
		band := bandBits(s.ss, s.se)
		if s.ss > d.kmax && band&c.needNZ == 0 {
			// An AC scan of coefficients no output pixel needs (all of them at 1/8) and no later
			// refinement of needed ones looks at: skip it without decoding it.
			c.skipped |= band
			return nextMarker(d.data, pos), nil
		}
		if s.ah > 0 && c.skipped&band != 0 {
			return 0, unsupported("refinement of a band that was not decoded")
		}
		if len(c.nz) == 0 {
			n := c.bw * c.bh
			if cap(c.nz) < n {
				c.nz = make([]uint64, n)
			} else {
				c.nz = c.nz[:n]
				clear(c.nz)
			}
		}
	}
	return d.decodeScan(ctx, &s, pos)
}

// bandBits has bit k set for ss <= k <= se.
func bandBits(ss, se int) uint64 {
	return (^uint64(0) >> (63 - se)) &^ (1<<ss - 1)
}

// planSkips reads ahead the headers of the scans after pos: a refinement scan that is decoded
// (it reaches down to kmax) and whose band goes beyond kmax needs to know which of those
// coefficients are non-zero, so the first scans of them cannot be skipped.
func (d *decoder) planSkips(pos int) {
	data := d.data
	for p := nextMarker(data, pos); p+4 <= len(data); {
		m := data[p+1]
		if m == 0xd9 {
			return
		}
		n := int(data[p+2])<<8 | int(data[p+3])
		if n < 2 || p+2+n > len(data) {
			return
		}
		if m != 0xda {
			p = nextMarker(data, p+2+n)
			continue
		}
		seg := data[p+4 : p+2+n]
		if len(seg) < 1 || len(seg) != 4+2*int(seg[0]) {
			return
		}
		ns := int(seg[0])
		ss, se, ah := int(seg[1+2*ns]), int(seg[2+2*ns]), seg[3+2*ns]>>4
		if ns == 1 && ss > 0 && ss <= d.kmax && se > d.kmax && se <= 63 && ah > 0 {
			for i := range d.ncomp {
				if d.comp[i].id == seg[1] {
					d.comp[i].needNZ |= bandBits(d.kmax+1, se)
				}
			}
		}
		p = nextMarker(data, p+2+n)
	}
}

// nextMarker returns the position of the first marker at or after pos that is not a restart
// marker, or len(data).
func nextMarker(data []byte, pos int) int {
	for pos < len(data) {
		i := bytes.IndexByte(data[pos:], 0xff)
		if i < 0 {
			return len(data)
		}
		pos += i
		for pos+1 < len(data) && data[pos+1] == 0xff { // fill bytes
			pos++
		}
		if pos+1 >= len(data) {
			return len(data)
		}
		if m := data[pos+1]; m != 0 && (m < 0xd0 || m > 0xd7) {
			return pos
		}
		pos += 2
	}
	return len(data)
}

// decodeScan decodes the entropy-coded data of a scan, MCU by MCU.
func (d *decoder) decodeScan(ctx context.Context, s *scan, pos int) (int, error) {
	br := &d.br
	br.reset(d.data, pos)
	for _, c := range s.comps {
		c.pred = 0
	}
	d.eobrun = 0
	if !d.progressive && d.kmax < 63 && d.scanBlocks(s) >= skipTableMinBlocks {
		for _, c := range s.comps {
			if !c.ac.skipOK {
				c.ac.buildSkip()
			}
		}
	}
	if s.ss == 0 && (d.progressive || d.kmax == 0 || d.kmax < 63 && skipTables(s)) {
		if err := d.dcScan(ctx, s); err != nil {
			return 0, err
		}
		return nextMarker(d.data, min(br.pos, len(d.data))), nil
	}
	mx, my := d.mcuX, d.mcuY
	if len(s.comps) == 1 {
		mx, my = s.comps[0].cw, s.comps[0].ch
	}
	mcu := 0
	for y := range my {
		if y%16 == 0 && ctx.Err() != nil {
			return 0, ctx.Err()
		}
		for x := range mx {
			if d.ri > 0 && mcu > 0 && mcu%d.ri == 0 {
				if err := d.restart(s); err != nil {
					return 0, err
				}
			}
			mcu++
			if len(s.comps) == 1 {
				if err := d.block(s, s.comps[0], x, y); err != nil {
					return 0, err
				}
				continue
			}
			for _, c := range s.comps {
				for by := range c.v {
					for bx := range c.h {
						if err := d.block(s, c, x*c.h+bx, y*c.v+by); err != nil {
							return 0, err
						}
					}
				}
			}
		}
		if br.overrun() {
			return 0, errTruncated
		}
	}
	if d.eobrun > 0 {
		// An end-of-band run past the last block: invalid. image/jpeg carries what is left of it
		// into the next scan (found by FuzzDecode); let it decide.
		return 0, unsupported("end-of-band run past the end of a scan")
	}
	return nextMarker(d.data, min(br.pos, len(d.data))), nil
}

// skipTableMinBlocks is how many blocks a sequential scan needs for its AC tables to be given
// skip tables: building one costs about as much as skipping the coefficients of 1000 blocks with
// it saves. A variable for the tests, which compare decodes with and without them.
var skipTableMinBlocks = 4096

// scanBlocks returns how many blocks the scan s has.
func (d *decoder) scanBlocks(s *scan) int {
	if len(s.comps) == 1 {
		return s.comps[0].cw * s.comps[0].ch
	}
	n := 0
	for _, c := range s.comps {
		n += c.h * c.v
	}
	return n * d.mcuX * d.mcuY
}

// restart handles the end of a restart interval: the bits left are padding, an RSTn marker
// should come next, and the predictions start again.
func (d *decoder) restart(s *scan) error {
	br := &d.br
	if br.overrun() {
		return errTruncated
	}
	p := nextRST(br.data, br.pos)
	br.reset(br.data, p)
	for _, c := range s.comps {
		c.pred = 0
	}
	d.eobrun = 0
	return nil
}

// nextRST finds the next marker from pos and returns the position after it if it is a restart
// marker, or its own position (where the reader will supply zeros) if it is another marker.
func nextRST(data []byte, pos int) int {
	for pos < len(data) {
		i := bytes.IndexByte(data[pos:], 0xff)
		if i < 0 {
			return len(data)
		}
		pos += i
		for pos+1 < len(data) && data[pos+1] == 0xff {
			pos++
		}
		if pos+1 >= len(data) {
			return len(data)
		}
		m := data[pos+1]
		if m >= 0xd0 && m <= 0xd7 {
			return pos + 2
		}
		if m != 0 {
			return pos
		}
		pos += 2
	}
	return len(data)
}

// block decodes one block of a scan at block position (bx, by) of its component.
func (d *decoder) block(s *scan, c *component, bx, by int) error {
	br := &d.br
	if br.n < 32 {
		br.refill()
	}
	if !d.progressive {
		dc, err := d.dcDiff(c)
		if err != nil {
			return err
		}
		c.pred += dc
		if d.kmax == 0 {
			if err := br.skipAC(c.ac, 1); err != nil {
				return err
			}
			q := d.quant[c.tq][0]
			c.pix[by*c.stride+bx] = dcPixel(c.pred * q)
			return nil
		}
		d.blk[0] = c.pred
		if err := br.readAC(c.ac, &d.blk, d.kmax); err != nil {
			return err
		}
		d.output(c, &d.blk, bx, by)
		clear(d.blk[:d.kmax+1])
		return nil
	}
	i := by*c.bw + bx
	coef := c.coef[i*d.ncoef : (i+1)*d.ncoef]
	switch {
	case s.ss == 0 && s.ah == 0:
		dc, err := d.dcDiff(c)
		if err != nil {
			return err
		}
		c.pred += dc
		w := c.pred << s.al
		if w != int32(int16(w)) {
			return errCoefRange
		}
		coef[0] = int16(w)
	case s.ss == 0:
		if br.bit() {
			coef[0] |= 1 << s.al
		}
	case s.ah == 0:
		return d.acFirst(s, c, coef, i)
	default:
		return d.acRefine(s, c, coef, i)
	}
	return nil
}

// dcDiff decodes the DC difference of a block.
func (d *decoder) dcDiff(c *component) (int32, error) {
	return d.br.dcDiff(c.dc)
}

// acFirst decodes the first scan of a band of AC coefficients of a block (T.81 G.1.2.2).
func (d *decoder) acFirst(s *scan, c *component, coef []int16, i int) error {
	if d.eobrun > 0 {
		d.eobrun--
		return nil
	}
	br := &d.br
	for k := s.ss; k <= s.se; {
		if br.n < 32 {
			br.refill()
		}
		rs, err := br.symbol(c.ac)
		if err != nil {
			return err
		}
		r, sz := int(rs>>4), uint(rs&15)
		if sz == 0 {
			if r < 15 {
				d.eobrun = 1<<r - 1
				if r > 0 {
					d.eobrun += br.bits(uint(r))
				}
				break
			}
			k += 16
			continue
		}
		k += r
		if k > s.se { // invalid; stop where image/jpeg does, before the extra bits
			break
		}
		v := br.receive(sz)
		if k <= d.kmax {
			w := v << s.al
			if w != int32(int16(w)) {
				return errCoefRange
			}
			coef[k] = int16(w)
		} else {
			c.nz[i] |= 1 << k
		}
		k++
	}
	return nil
}

// errCoefRange refuses a progressive file whose coefficients do not fit the int16 they are kept
// in: invalid for 8-bit samples (T.81 limits them to 11 bits), where image/jpeg keeps int32s.
var errCoefRange = unsupported("coefficient out of range")

// acRefine decodes a refinement scan of a band of AC coefficients of a block (T.81 G.1.2.3).
// Coefficients above kmax are not kept, only whether they are non-zero (c.nz): their correction
// bits are skipped a run at a time with bit operations on that mask.
func (d *decoder) acRefine(s *scan, c *component, coef []int16, i int) error {
	br := &d.br
	p1, m1 := int16(1)<<s.al, int16(-1)<<s.al
	k := s.ss
	if d.eobrun == 0 {
		for k <= s.se {
			if br.n < 32 {
				br.refill()
			}
			rs, err := br.symbol(c.ac)
			if err != nil {
				return err
			}
			r, sz := int(rs>>4), rs&15
			var v int16
			if sz != 0 {
				if br.bit() {
					v = p1
				} else {
					v = m1
				}
			} else if r != 15 {
				d.eobrun = 1 << r
				if r > 0 {
					d.eobrun += br.bits(uint(r))
				}
				break
			}
			k = d.refineRun(c, coef, i, k, s.se, r, v, p1, m1)
		}
	}
	if d.eobrun > 0 {
		for ; k <= s.se && k <= d.kmax; k++ {
			if coef[k] != 0 {
				refineCoef(br, coef, k, p1, m1)
			}
		}
		if k <= s.se {
			br.skip(bits.OnesCount64(c.nz[i] & bandBits(k, s.se)))
		}
		d.eobrun--
	}
	return nil
}

// refineRun passes r zero coefficients from k, reading a correction bit for each non-zero one
// on the way, puts v at the zero coefficient after them, and returns the index after it.
func (d *decoder) refineRun(c *component, coef []int16, i, k, se, r int, v, p1, m1 int16) int {
	br := &d.br
	for ; k <= se && k <= d.kmax; k++ {
		if coef[k] != 0 {
			refineCoef(br, coef, k, p1, m1)
			continue
		}
		if r == 0 {
			if v != 0 {
				coef[k] = v
			}
			return k + 1
		}
		r--
	}
	for k <= se {
		z := k + bits.TrailingZeros64(^(c.nz[i] >> k)) // the next zero coefficient
		if z > se {
			br.skip(z - k - max(0, z-se-1))
			return se + 1
		}
		br.skip(z - k)
		if r == 0 {
			if v != 0 {
				c.nz[i] |= 1 << z
			}
			return z + 1
		}
		r--
		k = z + 1
	}
	return k
}

// refineCoef reads the correction bit of the non-zero coefficient k.
func refineCoef(br *bitReader, coef []int16, k int, p1, m1 int16) {
	if br.bit() && coef[k]&p1 == 0 {
		if coef[k] >= 0 {
			coef[k] += p1
		} else {
			coef[k] += m1
		}
	}
}

// reconstruct computes the pixels of a progressive file's component from its coefficients.
func (d *decoder) reconstruct(c *component) {
	q := &d.quant[c.tq]
	for by := range c.bh {
		for bx := range c.bw {
			i := by*c.bw + bx
			coef := c.coef[i*d.ncoef : (i+1)*d.ncoef]
			if d.kmax == 0 {
				c.pix[by*c.stride+bx] = dcPixel(int32(coef[0]) * q[0])
				continue
			}
			for k, v := range coef {
				d.blk[k] = int32(v)
			}
			d.output(c, &d.blk, bx, by)
		}
	}
}
