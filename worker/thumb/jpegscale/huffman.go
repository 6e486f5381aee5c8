package jpegscale

import "encoding/binary"

// lookBits is how many bits of the stream the lookup tables are indexed by. Almost every code of a
// photograph's tables is shorter, and most AC codes together with their extra bits fit too.
const lookBits = 10

// huffTable is one Huffman table (ITU T.81 C and F.2.2.3) in the forms the decoder reads it in.
type huffTable struct {
	// fast, indexed by the next lookBits bits: code length<<8 | symbol, 0 when the code is longer.
	fast [1 << lookBits]uint16
	// fused, indexed the same way, decodes a symbol and its extra bits at once: see acEntry for
	// an AC table, dcEntry for a DC one.
	fused [1 << lookBits]uint32
	// For codes longer than lookBits: a code c of length l is valid when c < maxCode[l], and its
	// symbol is vals[c+delta[l]].
	maxCode [17]int32
	delta   [17]int32
	vals    [256]uint8
	// skip, indexed by the next skipBits bits, skips several AC symbols at once (see skipEOB for
	// its entries). Only skipScan uses it: it is allocated and built when a large sequential scan
	// first needs it (skipOK), and kept with the pooled decoder.
	skip   *[1 << skipBits]uint32
	skipOK bool
}

// skipBits is how many bits of the stream the skip tables are indexed by.
const skipBits = 12

// An entry of a skip table packs, for the skipBits bits it is indexed by, what the whole AC symbols (code and
// extra bits) at their start add up to, stopping after an end of block:
//
//	bits 0-4    the bits they take, 0 when not even one fits
//	bit 7       set when the last of them is an end of block
//	bits 8-15   how far they move the zigzag index, plus 1 for an end of block (so that the
//	            entry may be used when k+advance <= 64); 255 when none fits
//	bits 16-20  the bits the first symbol alone takes, 0 when it does not fit either
//	bits 24-31  how far the first symbol alone moves the index (acEOB for an end of block)
const (
	skipEOB  = 1 << 7
	skipNone = 255 << 8
)

// An acEntry packs, for the bits that start with an AC code:
//
//	bits 0-3    consumed: code length plus extra bits when both fit in lookBits, else 0
//	bits 4-7    the code length alone (0 when the code is longer than lookBits)
//	bits 8-15   how far the zigzag index moves: run+1, 16 for ZRL, 128 for end of block
//	bits 16-31  the coefficient value (signed) when consumed != 0, else the size of the extra bits
const (
	acEOB = 128 // an advance that ends any block
)

// build fills the table, a DC one or an AC one, from the BITS and HUFFVAL lists of a DHT segment.
func (t *huffTable) build(counts []byte, vals []byte, dc bool) error {
	clear(t.fast[:])
	clear(t.fused[:])
	t.skipOK = false
	copy(t.vals[:], vals)
	code, k := int32(0), int32(0)
	for l := 1; l <= 16; l++ {
		n := int32(counts[l-1])
		t.maxCode[l] = code + n
		t.delta[l] = k - code
		if code+n > 1<<l { // invalid, but image/jpeg accepts such tables: let it decide
			return unsupported("over-subscribed Huffman table")
		}
		for range n {
			if l <= lookBits {
				sym := vals[k]
				shift := uint(lookBits - l)
				first := code << shift
				for i := first; i < first+1<<shift; i++ {
					t.fast[i] = uint16(l)<<8 | uint16(sym)
					if dc {
						t.fused[i] = dcEntry(uint(l), sym, uint32(i), shift)
					} else {
						t.fused[i] = acEntry(uint(l), sym, uint32(i), shift)
					}
				}
			}
			code++
			k++
		}
		code <<= 1
	}
	return nil
}

// buildSkip fills the skip table from the others.
func (t *huffTable) buildSkip() {
	if t.skip == nil {
		t.skip = new([1 << skipBits]uint32)
	}
	for i := range uint32(len(t.skip)) {
		var used, adv, first uint32
		eob := false
		for used < skipBits {
			l, rs, ok := t.peek(i<<used<<(16-skipBits)&0xffff, skipBits-uint(used))
			if !ok {
				break
			}
			r, s := uint32(rs>>4), uint32(rs&15)
			var a uint32
			switch {
			case s != 0:
				a = r + 1
			case r == 0:
				a, eob = 1, true
			case r == 15:
				a = 16
			default: // an end-of-band run: left to acSlow, which refuses it
				l = skipBits + 1
			}
			if used+l+s > skipBits {
				break
			}
			if used == 0 {
				first = (l+s)<<16 | a<<24
				if eob {
					first = (l+s)<<16 | acEOB<<24
				}
			}
			used += l + s
			adv += a
			if eob {
				break
			}
		}
		switch {
		case used == 0:
			t.skip[i] = skipNone
		case eob:
			t.skip[i] = first | adv<<8 | skipEOB | used
		default:
			t.skip[i] = first | adv<<8 | used
		}
	}
	t.skipOK = true
}

// peek decodes the Huffman code at the start of the 16 bits w, of which only the first n are
// known, returning its length and symbol, or ok == false when no whole code is there.
func (t *huffTable) peek(w uint32, n uint) (l uint32, sym byte, ok bool) {
	if e := t.fast[w>>(16-lookBits)]; e != 0 {
		l := uint32(e >> 8)
		return l, byte(e), l <= uint32(n)
	}
	for l := uint(lookBits + 1); l <= n; l++ {
		if c := int32(w >> (16 - l)); c < t.maxCode[l] {
			return uint32(l), t.vals[(c+t.delta[l])&0xff], true
		}
	}
	return 0, 0, false
}

// acEntry computes the ac table entry for symbol rs whose code has length l, given the lookBits
// bits i that start with it (rest of them follow the code).
func acEntry(l uint, rs byte, i uint32, rest uint) uint32 {
	r, s := uint32(rs>>4), uint(rs&15)
	if s == 0 {
		switch r {
		case 0:
			return acEOB<<8 | uint32(l)<<4 | uint32(l)
		case 15:
			return 16<<8 | uint32(l)<<4 | uint32(l)
		}
		return uint32(l) << 4 // an end-of-band run: acSlow refuses it
	}
	if s > rest {
		return uint32(s)<<16 | (r+1)<<8 | uint32(l)<<4
	}
	v := int32(i>>(rest-s)) & (1<<s - 1)
	v = extend(v, s)
	return uint32(uint16(int16(v)))<<16 | (r+1)<<8 | uint32(l)<<4 | uint32(l+s)
}

// A dcEntry packs, for the bits that start with a DC code, the code length plus the extra bits in
// bits 0-4 when both fit in lookBits (else 0), and the difference they give (signed) in bits 16-31.
func dcEntry(l uint, s byte, i uint32, rest uint) uint32 {
	if uint(s) > rest {
		return 0
	}
	var v int32
	if s > 0 {
		v = extend(int32(i>>(rest-uint(s)))&(1<<s-1), uint(s))
	}
	return uint32(uint16(int16(v)))<<16 | uint32(l+uint(s))
}

// extend turns s extra bits v into the signed value they stand for (T.81 F.2.2.1, EXTEND).
func extend(v int32, s uint) int32 {
	if v < 1<<(s-1) {
		v += -1<<s + 1
	}
	return v
}

// bitReader reads the entropy-coded data of a scan MSB first, removing the 0x00 stuffed after
// each 0xFF. At a marker or at the end of the data it supplies zero bits and counts them in pad.
type bitReader struct {
	data []byte
	pos  int    // next byte of data to read
	acc  uint64 // the next n bits, from the most significant bit
	n    uint
	pad  int // zero bytes supplied past a marker or the end of the data, the last ones in acc
}

func (b *bitReader) reset(data []byte, pos int) {
	*b = bitReader{data: data, pos: pos}
}

// refill tops the accumulator up to at least 57 bits.
func (b *bitReader) refill() {
	// Fast path: eight bytes without 0xFF among them.
	if b.pos+8 <= len(b.data) {
		w := binary.BigEndian.Uint64(b.data[b.pos:])
		x := ^w
		if (x-0x0101010101010101)&^x&0x8080808080808080 == 0 {
			nb := (64 - b.n) >> 3
			b.acc |= w >> b.n
			b.n += nb * 8
			b.pos += int(nb)
			if b.n < 64 {
				b.acc &^= ^uint64(0) >> b.n
			}
			return
		}
	}
	for b.n <= 56 {
		var c byte
		if b.pos < len(b.data) {
			c = b.data[b.pos]
			if c != 0xff {
				b.pos++
			} else if b.pos+1 < len(b.data) && b.data[b.pos+1] == 0 {
				b.pos += 2
			} else {
				c = 0 // a marker: stay on it
				b.pad++
			}
		} else {
			b.pad++
		}
		b.acc |= uint64(c) << (56 - b.n)
		b.n += 8
	}
}

// refillWord is refill's fast path on a bit reader's state held in locals: when the eight bytes
// at pos hold no 0xFF it tops acc up to 56-63 bits and returns ok. The bits of acc past the n it
// returns are not cleared: they are the stream's next bits, which later refills OR in again.
func refillWord(data []byte, pos int, acc uint64, n uint) (uint64, uint, int, bool) {
	if pos < 0 || pos+8 > len(data) {
		return acc, n, pos, false
	}
	w := binary.BigEndian.Uint64(data[pos:])
	if x := ^w; (x-0x0101010101010101)&^x&0x8080808080808080 != 0 {
		return acc, n, pos, false
	}
	return acc | w>>n, n | 56, pos + int(63-n)>>3, true
}

// refillFrom is refill for a bit reader's state held in locals.
func (b *bitReader) refillFrom(acc uint64, n uint, pos int) (uint64, uint, int) {
	b.acc, b.n, b.pos = acc, n, pos
	b.refill()
	return b.acc, b.n, b.pos
}

// overrun tells whether bits past the data (past a marker or the end) were read: the scan's data
// was short. Checked once per MCU row and restart interval, it bounds the work on a file whose
// header promises more than its data holds.
func (b *bitReader) overrun() bool {
	return b.pad*8 > int(b.n)
}

// symbol decodes one Huffman symbol; the caller has made sure of at least 16 bits.
func (b *bitReader) symbol(t *huffTable) (byte, error) {
	if e := t.fast[b.acc>>(64-lookBits)]; e != 0 {
		l := uint(e >> 8)
		b.acc <<= l
		b.n -= l
		return byte(e), nil
	}
	code := int32(b.acc >> 48)
	for l := uint(lookBits + 1); l <= 16; l++ {
		if c := code >> (16 - l); c < t.maxCode[l] {
			b.acc <<= l
			b.n -= l
			return t.vals[(c+t.delta[l])&0xff], nil
		}
	}
	return 0, FormatError("bad Huffman code")
}

// dcDiff decodes a DC difference; the caller has made sure of at least 32 bits.
func (b *bitReader) dcDiff(t *huffTable) (int32, error) {
	sz, err := b.symbol(t)
	if err != nil {
		return 0, err
	}
	if sz > 16 {
		return 0, FormatError("excessive DC component")
	}
	return b.receive(uint(sz)), nil
}

// bits reads s <= 16 bits; the caller has made sure they are there.
func (b *bitReader) bits(s uint) int32 {
	if s == 0 {
		return 0
	}
	v := int32(b.acc >> (64 - s))
	b.acc <<= s
	b.n -= s
	return v
}

// receive reads s extra bits and extends them to a signed value.
func (b *bitReader) receive(s uint) int32 {
	if s == 0 {
		return 0
	}
	return extend(b.bits(s), s)
}

// skip drops n bits.
func (b *bitReader) skip(n int) {
	for n > 0 {
		if b.n == 0 {
			b.refill()
		}
		m := min(uint(n), b.n)
		b.acc <<= m
		b.n -= m
		n -= int(m)
	}
}

// bit reads one bit.
func (b *bitReader) bit() bool {
	if b.n == 0 {
		b.refill()
	}
	v := b.acc>>63 != 0
	b.acc <<= 1
	b.n--
	return v
}

// acSlow decodes an AC symbol and its extra bits when the ac table cannot give both at once.
// It returns how far the zigzag index moves and the value.
func (b *bitReader) acSlow(t *huffTable) (int, int32, error) {
	rs, err := b.symbol(t)
	if err != nil {
		return 0, 0, err
	}
	r, s := int(rs>>4), uint(rs&15)
	switch {
	case s != 0:
	case r == 0:
		return acEOB, 0, nil
	case r == 15:
		return 16, 0, nil
	default:
		// Invalid in a sequential file; image/jpeg reads it as a progressive end-of-band run.
		return 0, 0, unsupported("end-of-band run in a sequential scan")
	}
	return r + 1, b.receive(s), nil
}

// skipAC decodes the AC coefficients of a block from zigzag index k to the end without keeping
// them: the part of the work that a reduced decode cannot avoid in a sequential file (skipScan
// does it several symbols at a time).
func (b *bitReader) skipAC(t *huffTable, k int) error {
	acc, n := b.acc, b.n
	for k < 64 {
		if n < 32 {
			b.acc, b.n = acc, n
			b.refill()
			acc, n = b.acc, b.n
		}
		e := t.fused[acc>>(64-lookBits)]
		if l := uint(e & 15); l != 0 {
			acc <<= l
			n -= l
			k += int(e >> 8 & 0xff)
			continue
		}
		b.acc, b.n = acc, n
		adv, _, err := b.acSlow(t)
		if err != nil {
			return err
		}
		acc, n = b.acc, b.n
		k += adv
	}
	b.acc, b.n = acc, n
	if k > 64 && k < acEOB {
		// A run past the last coefficient: invalid. image/jpeg stops before the extra bits of
		// such a coefficient, this decoder after them; let image/jpeg decide.
		return errPastEnd
	}
	return nil
}

var errPastEnd = unsupported("run past the last coefficient of a block")

// readAC decodes the AC coefficients of a block into blk (zigzag order) up to index kmax, and
// skips the rest.
func (b *bitReader) readAC(t *huffTable, blk *[64]int32, kmax int) error {
	k := 1
	for k <= kmax {
		if b.n < 32 {
			b.refill()
		}
		var adv int
		var v int32
		e := t.fused[b.acc>>(64-lookBits)]
		if l := uint(e & 15); l != 0 {
			b.acc <<= l
			b.n -= l
			adv, v = int(e>>8&0xff), int32(int16(e>>16))
		} else {
			var err error
			if adv, v, err = b.acSlow(t); err != nil {
				return err
			}
		}
		k += adv
		if k > 64 {
			if k < acEOB {
				return errPastEnd
			}
			return nil
		}
		blk[(k-1)&63] = v
	}
	return b.skipAC(t, k)
}
