package vp8

import (
	"encoding/binary"
	"math/bits"
)

// A boolDecoder reads the booleans of one partition (RFC 6386, section 7), each coded with the
// probability, out of 256, that it is false.
//
// The arithmetic decoder compares an 8-bit window of the data with the split of its range.
// Rather than shifting the window in a bit at a time, the decoder keeps up to 63 bits of the
// partition in value, loaded 7 bytes at a time, and the window is the 8 bits starting at bit
// count: normalising the range moves count down instead of shifting value.
//
// The partition ends when a decision needs a window that reaches past its last byte. That is
// when golang.org/x/image/vp8 reports io.ErrUnexpectedEOF, so eof is set at exactly the same
// decision; a decision past the end reads false and leaves the decoder unchanged, as x/image's
// does.
//
// An encoder never starts a partition with 0xff: the window would start at or above the range,
// which no arithmetic decoder is meant to see, and every decision reads true while the excess
// doubles. x/image keeps that excess in a 32-bit register, which wraps, and its decisions then
// depend on the wrapping. To give the same samples for such partitions too, the decoder reads
// them with a byte-at-a-time register of the same width (wrapped).
type boolDecoder struct {
	buf   []byte // the partition's bytes not yet in value
	value uint64 // the loaded bits not yet decided; value>>count is the window, less than rng
	count int    // how many loaded bits lie below the window; negative while the window lacks bits
	rng   uint32 // the range: 128..255 between decisions
	eof   bool   // a decision needed bits past the end of the partition

	// wrapped is set for a partition that starts with 0xff. Its decisions all go through
	// readWrapped, which keeps count at -1: value is then a 32-bit register whose bits 8..15
	// are the window, and have counts its loaded bits from bit 15 down.
	wrapped bool
	have    int
}

// init starts decoding the partition buf.
func (d *boolDecoder) init(buf []byte) {
	*d = boolDecoder{buf: buf, count: -8, rng: 255}
	if len(buf) > 0 && buf[0] == 0xff {
		d.wrapped, d.count = true, -1
	}
}

// readBit decodes a boolean that is false with probability prob/256.
func (d *boolDecoder) readBit(prob uint8) bool {
	if d.count < 0 {
		return d.loadAndRead(prob)
	}
	split := 1 + (d.rng-1)*uint32(prob)>>8
	bigSplit := uint64(split) << uint(d.count)
	bit := d.value >= bigSplit
	if bit {
		d.rng -= split
		d.value -= bigSplit
	} else {
		d.rng = split
	}
	// Both halves of the range are at least 1, so rng is 1..255 here.
	shift := bits.LeadingZeros8(uint8(d.rng))
	d.rng <<= uint(shift)
	d.count -= shift
	return bit
}

// loadAndRead is readBit when the window lacks bits: it moves the partition's next bytes into
// value and decides. It is kept out of readBit, which needs it once in 7 bytes.
//
//go:noinline
func (d *boolDecoder) loadAndRead(prob uint8) bool {
	if d.wrapped {
		return d.readWrapped(prob)
	}
	// count is -8..-1, so value holds at most 7 bits and 56 more fit.
	if len(d.buf) >= 8 {
		d.value = d.value<<56 | binary.BigEndian.Uint64(d.buf)>>8
		d.count += 56
		d.buf = d.buf[7:]
		return d.readBit(prob)
	}
	for _, b := range d.buf {
		d.value = d.value<<8 | uint64(b)
		d.count += 8
	}
	d.buf = nil
	if d.count < 0 {
		d.eof = true
		return false
	}
	return d.readBit(prob)
}

// readWrapped decodes a boolean of a partition that starts with 0xff, keeping the excess of the
// window over the range in a 32-bit register that wraps, as x/image's does.
func (d *boolDecoder) readWrapped(prob uint8) bool {
	if d.have < 8 {
		if len(d.buf) == 0 {
			d.eof = true
			return false
		}
		d.value |= uint64(d.buf[0]) << uint(8-d.have)
		d.buf = d.buf[1:]
		d.have += 8
	}
	split := 1 + (d.rng-1)*uint32(prob)>>8
	bit := d.value >= uint64(split)<<8
	if bit {
		d.rng -= split
		d.value -= uint64(split) << 8
	} else {
		d.rng = split
	}
	shift := bits.LeadingZeros8(uint8(d.rng))
	d.rng <<= uint(shift)
	d.value = uint64(uint32(d.value << uint(shift)))
	d.have -= shift
	return bit
}

// readFlag decodes a boolean of even odds, the header's L(1).
func (d *boolDecoder) readFlag() bool {
	return d.readBit(128)
}

// readLiteral decodes an n-bit unsigned number of even-odds bits, most significant first, the
// header's L(n).
func (d *boolDecoder) readLiteral(n int) int32 {
	v := int32(0)
	for range n {
		v <<= 1
		if d.readBit(128) {
			v |= 1
		}
	}
	return v
}

// readOptionalSigned decodes the header's optional signed numbers: a flag, and when it is set
// an n-bit magnitude followed by a sign; 0 when the flag is clear.
func (d *boolDecoder) readOptionalSigned(n int) int32 {
	if !d.readFlag() {
		return 0
	}
	v := d.readLiteral(n)
	if d.readFlag() {
		return -v
	}
	return v
}

// readTree decodes a value coded with a tree in the RFC's tree_index form (section 8.1) and
// the probabilities of its nodes.
func (d *boolDecoder) readTree(tree []int8, probs []uint8) uint8 {
	i := int8(0)
	for {
		next := tree[i]
		if d.readBit(probs[i>>1]) {
			next = tree[i+1]
		}
		if next <= 0 {
			return uint8(-next)
		}
		i = next
	}
}
