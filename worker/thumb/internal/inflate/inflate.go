// Package inflate decompresses a zlib stream (RFC 1950, 1951) that is already in memory, possibly
// split over several segments (the data of a PNG's IDAT chunks), into the caller's buffers. It
// is compress/zlib specialised for that case, because inflating is most of the time of a PNG
// decode; package pngscale is its user. It accepts what compress/zlib accepts (FuzzInflate
// compares them) and checks the Adler-32.
package inflate

import (
	"encoding/binary"
	"errors"
	"io"
	"math/bits"
)

// A Source gives a Reader its compressed input one segment at a time. The Reader reads each
// segment in place, without copying it, and asks for the next once it has used it up.
type Source interface {
	// Next returns the next segment, or false at the end of the input.
	Next() ([]byte, bool)
}

// A Reader inflates one zlib stream at a time. It reads the input 64 bits at a time into a bit
// buffer, decodes Huffman codes with a table of 10 bits for literals and lengths (8 for
// distances) plus second-level tables for longer codes, and copies matches 8 bytes at a time.
//
// The output goes into a window of winSize bytes (256 KB, inside the Reader, so reuse Readers
// rather than allocate one per stream) that keeps at least the 32 KB of history that matches may
// refer to; the caller takes its bytes with ReadFull. The zero Reader is ready for Reset.
type Reader struct {
	src  Source // where the input segments come from
	seg  []byte // the current input segment, read from pos
	pos  int
	bits uint64 // bit buffer, least significant bit first; bits above nb are zero or lookahead
	nb   uint   // how many bits of bits are valid
	over int    // zero bytes fed past the end of the input; reading them means truncation

	buf  [winSize]byte
	o, r int // buf[:o] is decoded, buf[r:o] not yet taken
	adl  adler

	state  int // what comes next: stHeader, stStored, stHuffman, stEnd
	stored int // bytes left in a stored block
	final  bool
	lit    [litTableSize]uint32
	dist   [distTableSize]uint32
	litT   *[litTableSize]uint32 // the current block's tables (the fixed ones or lit, dist)
	distT  *[distTableSize]uint32
	err    error
}

const (
	winSize       = 1 << 18
	history       = 1 << 15
	slack         = 258 + 8 // room a match needs, with the 8-byte overrun of fast copies
	litBits       = 10
	distBits      = 8
	litTableSize  = 1<<litBits + 2048
	distTableSize = 1<<distBits + 2048
)

// Inflater states.
const (
	stBlockHeader = iota
	stStoredBlock
	stHuffmanBlock
	stStreamEnd
)

// A table entry: bits 0-3 the code length to consume, 4-7 the extra bits that follow (or a
// second-level table's bits), 8-15 the kind, 16-31 the value (literal, length or distance base,
// or the second-level table's offset).
const (
	kLiteral = iota << 8
	kBase    // a length or distance base, with extra bits
	kEnd     // end of block
	kLink    // a second-level table
	kInvalid
)

// Errors of invalid streams. A stream that ends too early gives io.ErrUnexpectedEOF.
var (
	ErrCorrupt  = errors.New("corrupt deflate data")
	ErrChecksum = errors.New("zlib checksum error")                // the Adler-32 of the output is not the stream's
	ErrTrailing = errors.New("output left after the expected end") // see Finish
)

var (
	lengthBase  = [29]uint16{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lengthExtra = [29]uint8{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	distBase    = [30]uint16{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	distExtra   = [30]uint8{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
	// The order in which code length code lengths are sent.
	clOrder = [19]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}

	fixedLit  [litTableSize]uint32
	fixedDist [distTableSize]uint32
)

func init() {
	var l [288]uint8
	for i := range l {
		switch {
		case i < 144:
			l[i] = 8
		case i < 256:
			l[i] = 9
		case i < 280:
			l[i] = 7
		default:
			l[i] = 8
		}
	}
	var d [32]uint8
	for i := range d {
		d[i] = 5
	}
	if !build(fixedLit[:], l[:], litBits, litEntry) || !build(fixedDist[:], d[:], distBits, distEntry) {
		panic("inflate: fixed Huffman tables")
	}
}

func litEntry(sym int) uint32 {
	switch {
	case sym < 256:
		return kLiteral | uint32(sym)<<16
	case sym == 256:
		return kEnd
	case sym < 286:
		return kBase | uint32(lengthExtra[sym-257])<<4 | uint32(lengthBase[sym-257])<<16
	}
	return kInvalid
}

func distEntry(sym int) uint32 {
	if sym < 30 {
		return kBase | uint32(distExtra[sym])<<4 | uint32(distBase[sym])<<16
	}
	return kInvalid
}

func codeLenEntry(sym int) uint32 { return kLiteral | uint32(sym)<<16 }

// build fills a decoding table for the canonical Huffman code with the given code lengths:
// 1<<p first-level entries indexed by the next p bits, then second-level tables for the longer
// codes. Like compress/flate it accepts only complete codes, an empty one, or a single code of
// one bit; it reports false for any other.
func build(t []uint32, lengths []uint8, p uint, entry func(int) uint32) bool {
	var count [16]int
	maxLen := 0
	for _, n := range lengths {
		count[n]++
		maxLen = max(maxLen, int(n))
	}
	size := 1 << p
	for i := range t[:size] {
		t[i] = kInvalid
	}
	if maxLen == 0 {
		return true
	}
	var next [16]int
	code := 0
	for n := 1; n <= maxLen; n++ {
		code = (code + count[n-1]*boolInt(n > 1)) << 1
		next[n] = code
	}
	// code is now the first code of maxLen; complete means all 1<<maxLen codes are used.
	if used := next[maxLen] + count[maxLen]; used != 1<<maxLen && !(used == 1 && maxLen == 1) {
		return false
	}
	// Count each first-level slot's second-level bits, then place the second-level tables.
	var sub [1 << litBits]uint8
	var codes [320]uint16
	for sym, n := range lengths {
		if n == 0 {
			continue
		}
		c := next[n]
		next[n]++
		if c >= 1<<n { // over-subscribed (cannot happen once complete, but keep the table safe)
			return false
		}
		codes[sym] = uint16(bits.Reverse16(uint16(c)) >> (16 - n))
		if uint(n) > p {
			s := &sub[codes[sym]&uint16(size-1)]
			*s = max(*s, n-uint8(p))
		}
	}
	off := size
	for i, s := range sub[:size] {
		if s == 0 {
			continue
		}
		if off+1<<s > len(t) {
			return false
		}
		t[i] = kLink | uint32(s)<<4 | uint32(off)<<16 | uint32(p)
		for j := range t[off : off+1<<s] {
			t[off+j] = kInvalid
		}
		off += 1 << s
	}
	for sym, n := range lengths {
		if n == 0 {
			continue
		}
		e := entry(sym) | uint32(n)
		c := int(codes[sym])
		if uint(n) <= p {
			for i := c; i < size; i += 1 << n {
				t[i] = e
			}
			continue
		}
		link := t[c&(size-1)]
		base, sb := int(link>>16), int(link>>4&15)
		for i := c >> p; i < 1<<sb; i += 1 << (uint(n) - p) {
			t[base+i] = e
		}
	}
	return true
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Reset starts on a new zlib stream read from src and reads its header.
func (f *Reader) Reset(src Source) error {
	*f = Reader{src: src}
	f.adl.reset()
	f.refill()
	cmf, flg := f.bits&0xff, f.bits>>8&0xff
	f.take(16)
	if f.truncated() {
		return io.ErrUnexpectedEOF
	}
	if cmf&0x0f != 8 || cmf>>4 > 7 || (cmf<<8|flg)%31 != 0 {
		return errors.New("invalid zlib header")
	}
	if flg&0x20 != 0 { // a preset dictionary, which PNG does not use
		f.refill()
		f.take(32)
		if f.truncated() {
			return io.ErrUnexpectedEOF
		}
		return errors.New("zlib stream needs a preset dictionary")
	}
	return nil
}

func (f *Reader) take(n uint) {
	f.bits >>= n
	f.nb -= n
}

// truncated tells whether the decoder has consumed some of the zero bytes fed past the end.
func (f *Reader) truncated() bool { return f.over*8 > int(f.nb) }

// refill makes the bit buffer hold at least 56 bits, with zeros past the end of the input.
func (f *Reader) refill() {
	if f.pos+8 <= len(f.seg) {
		f.bits |= binary.LittleEndian.Uint64(f.seg[f.pos:]) << f.nb
		f.pos += int((63 - f.nb) >> 3)
		f.nb |= 56
		return
	}
	f.refillSlow()
}

func (f *Reader) refillSlow() {
	for f.nb <= 56 {
		if f.pos >= len(f.seg) {
			if seg, ok := f.src.Next(); ok {
				f.seg, f.pos = seg, 0
				continue
			}
			f.over++
			f.nb += 8
			continue
		}
		f.bits |= uint64(f.seg[f.pos]) << f.nb
		f.pos++
		f.nb += 8
	}
}

// ReadFull fills p with the next bytes of the output. An output that ends before p is full gives
// io.ErrUnexpectedEOF.
func (f *Reader) ReadFull(p []byte) error {
	for len(p) > 0 {
		if f.r == f.o {
			if f.state == stStreamEnd {
				return io.ErrUnexpectedEOF
			}
			if err := f.fill(); err != nil {
				return err
			}
			continue
		}
		n := copy(p, f.buf[f.r:f.o])
		f.r += n
		p = p[n:]
	}
	return nil
}

// Finish reads to the end of the stream, which checks its checksum, and returns ErrTrailing if
// the stream has output the caller did not take.
func (f *Reader) Finish() error {
	for f.state != stStreamEnd {
		if f.r != f.o {
			return ErrTrailing
		}
		if err := f.fill(); err != nil {
			return err
		}
	}
	if f.r != f.o {
		return ErrTrailing
	}
	return nil
}

// Release drops the Reader's references to its input, so that a Reader kept for reuse does not
// keep the input alive.
func (f *Reader) Release() { f.src, f.seg = nil, nil }

// fill decodes more output once the caller has taken all there was.
func (f *Reader) fill() error {
	if f.err != nil {
		return f.err
	}
	if f.o > winSize-slack-history {
		keep := f.o - history
		copy(f.buf[:], f.buf[keep:f.o])
		f.o -= keep
		f.r -= keep
	}
	start := f.o
	err := f.decode()
	f.adl.write(f.buf[start:f.o])
	if f.truncated() || (err != nil && f.over > 0) {
		// Bad codes read from the zeros past the end mean that the input ends too early.
		err = io.ErrUnexpectedEOF
	}
	if err == nil && f.state == stStreamEnd {
		// The Adler-32 follows, big-endian, from the next byte boundary.
		f.take(f.nb % 8)
		f.refill()
		sum := bits.ReverseBytes32(uint32(f.bits))
		f.take(32)
		switch {
		case f.truncated():
			err = io.ErrUnexpectedEOF
		case sum != f.adl.sum():
			err = ErrChecksum
		}
	}
	if err != nil {
		f.err = err
		f.state = stStreamEnd
	}
	return err
}

// decode decodes blocks until the window is nearly full or the stream ends.
func (f *Reader) decode() error {
	for f.o <= winSize-slack {
		switch f.state {
		case stBlockHeader:
			if f.final {
				f.state = stStreamEnd
				return nil
			}
			if err := f.blockHeader(); err != nil {
				return err
			}
		case stStoredBlock:
			if err := f.copyStored(); err != nil {
				return err
			}
		case stHuffmanBlock:
			if err := f.huffman(); err != nil {
				return err
			}
		case stStreamEnd:
			return nil
		}
		if f.truncated() {
			return io.ErrUnexpectedEOF
		}
	}
	return nil
}

func (f *Reader) blockHeader() error {
	f.refill()
	f.final = f.bits&1 == 1
	typ := f.bits >> 1 & 3
	f.take(3)
	switch typ {
	case 0:
		f.take(f.nb % 8)
		f.refill()
		n, nn := uint16(f.bits), uint16(f.bits>>16)
		f.take(32)
		if n != ^nn {
			return ErrCorrupt
		}
		f.stored, f.state = int(n), stStoredBlock
	case 1:
		f.litT, f.distT, f.state = &fixedLit, &fixedDist, stHuffmanBlock
	case 2:
		if err := f.dynamicTables(); err != nil {
			return err
		}
		f.litT, f.distT, f.state = &f.lit, &f.dist, stHuffmanBlock
	default:
		return ErrCorrupt
	}
	return nil
}

// copyStored copies a stored block's bytes: first those left in the bit buffer (which is at a
// byte boundary), then straight from the input.
func (f *Reader) copyStored() error {
	for f.stored > 0 && f.o < winSize {
		if f.nb >= 8 {
			f.buf[f.o] = byte(f.bits)
			f.take(8)
			f.o++
			f.stored--
			continue
		}
		if f.over > 0 {
			return io.ErrUnexpectedEOF
		}
		f.bits, f.nb = 0, 0 // drop the lookahead: the input is read directly now
		if f.pos >= len(f.seg) {
			seg, ok := f.src.Next()
			if !ok {
				return io.ErrUnexpectedEOF
			}
			f.seg, f.pos = seg, 0
		}
		n := copy(f.buf[f.o:min(winSize, f.o+f.stored)], f.seg[f.pos:])
		f.pos += n
		f.o += n
		f.stored -= n
	}
	if f.stored == 0 {
		f.state = stBlockHeader
	}
	return nil
}

// dynamicTables reads the code lengths of a dynamic block and builds its tables.
func (f *Reader) dynamicTables() error {
	f.refill()
	nlit := int(f.bits&31) + 257
	ndist := int(f.bits>>5&31) + 1
	nclen := int(f.bits>>10&15) + 4
	f.take(14)
	if nlit > 286 || ndist > 30 {
		return ErrCorrupt
	}
	var clen [19]uint8
	for i := range nclen {
		if f.nb < 3 {
			f.refill()
		}
		clen[clOrder[i]] = uint8(f.bits & 7)
		f.take(3)
	}
	var clT [1 << 7]uint32
	if !build(clT[:], clen[:], 7, codeLenEntry) {
		return ErrCorrupt
	}
	var lengths [286 + 30]uint8
	for i := 0; i < nlit+ndist; {
		f.refill()
		e := clT[f.bits&127]
		if e&0xff00 != kLiteral {
			return ErrCorrupt
		}
		f.take(uint(e & 15))
		sym := e >> 16
		if sym < 16 {
			lengths[i] = uint8(sym)
			i++
			continue
		}
		var rep int
		var v uint8
		switch sym {
		case 16:
			if i == 0 {
				return ErrCorrupt
			}
			rep, v = 3+int(f.bits&3), lengths[i-1]
			f.take(2)
		case 17:
			rep = 3 + int(f.bits&7)
			f.take(3)
		default:
			rep = 11 + int(f.bits&127)
			f.take(7)
		}
		if i+rep > nlit+ndist {
			return ErrCorrupt
		}
		for range rep {
			lengths[i] = v
			i++
		}
	}
	if f.truncated() {
		return io.ErrUnexpectedEOF
	}
	if lengths[256] == 0 {
		return ErrCorrupt
	}
	if !build(f.lit[:], lengths[:nlit], litBits, litEntry) || !build(f.dist[:], lengths[nlit:nlit+ndist], distBits, distEntry) {
		return ErrCorrupt
	}
	return nil
}

// huffman decodes a Huffman block's symbols until the block ends or the window is nearly full.
func (f *Reader) huffman() error {
	lit, dist := f.litT, f.distT
	buf := f.buf[:]
	o := f.o
	bitbuf, nb := f.bits, f.nb
	// The input, kept in registers: nothing is read from it between here and refillSlow.
	in, pos := f.seg, f.pos
	for o <= winSize-slack {
		// Refill: at least 56 bits, enough for a length code and its extra bits (15+5) and a
		// distance code and its extra bits (15+13).
		if pos+8 <= len(in) {
			bitbuf |= binary.LittleEndian.Uint64(in[pos:]) << nb
			pos += int((63 - nb) >> 3)
			nb |= 56
		} else {
			f.bits, f.nb, f.o, f.pos = bitbuf, nb, o, pos
			f.refillSlow()
			bitbuf, nb, in, pos = f.bits, f.nb, f.seg, f.pos
			if f.over*8 > int(nb)+64 { // far past the end: stop decoding garbage
				f.bits, f.nb, f.o, f.pos = bitbuf, nb, o, pos
				return io.ErrUnexpectedEOF
			}
		}
		e := lit[bitbuf&(1<<litBits-1)]
		if e&0xff00 == kLink {
			e = lit[e>>16+uint32(bitbuf>>litBits)&(1<<(e>>4&15)-1)]
		}
		n := uint(e & 15)
		bitbuf >>= n
		nb -= n
		switch e & 0xff00 {
		case kLiteral:
			buf[o] = byte(e >> 16)
			o++
			// A second literal without a refill: at least 56-15 bits are left.
			e = lit[bitbuf&(1<<litBits-1)]
			if e&0xff00 != kLiteral {
				continue
			}
			n = uint(e & 15)
			bitbuf >>= n
			nb -= n
			buf[o] = byte(e >> 16)
			o++
			continue
		case kEnd:
			f.bits, f.nb, f.o, f.pos = bitbuf, nb, o, pos
			f.state = stBlockHeader
			return nil
		case kBase:
		default:
			f.bits, f.nb, f.o, f.pos = bitbuf, nb, o, pos
			return ErrCorrupt
		}
		x := uint(e >> 4 & 15)
		length := int(e>>16) + int(bitbuf&(1<<x-1))
		bitbuf >>= x
		nb -= x

		e = dist[bitbuf&(1<<distBits-1)]
		if e&0xff00 == kLink {
			e = dist[e>>16+uint32(bitbuf>>distBits)&(1<<(e>>4&15)-1)]
		}
		if e&0xff00 != kBase {
			f.bits, f.nb, f.o, f.pos = bitbuf, nb, o, pos
			return ErrCorrupt
		}
		n = uint(e & 15)
		bitbuf >>= n
		nb -= n
		x = uint(e >> 4 & 15)
		d := int(e>>16) + int(bitbuf&(1<<x-1))
		bitbuf >>= x
		nb -= x
		if d > o {
			f.bits, f.nb, f.o, f.pos = bitbuf, nb, o, pos
			return ErrCorrupt
		}
		src := o - d
		switch {
		case d >= 8:
			for i := 0; i < length; i += 8 {
				binary.LittleEndian.PutUint64(buf[o+i:], binary.LittleEndian.Uint64(buf[src+i:]))
			}
		case d == 1:
			v := buf[src]
			for i := range buf[o : o+length] {
				buf[o+i] = v
			}
		default:
			for i := range buf[o : o+length] {
				buf[o+i] = buf[src+i]
			}
		}
		o += length
	}
	f.bits, f.nb, f.o, f.pos = bitbuf, nb, o, pos
	return nil
}
