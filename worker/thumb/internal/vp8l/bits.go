package vp8l

import "encoding/binary"

// A bitReader reads the data's bits least significant first (RFC 9649, section 3.1). Past the
// end of the data it reads zeros and counts them, so that the hot loops need no end-of-data
// test: a caller asks overrun at each checkpoint (a header read, a row finished) and refuses the
// data if any bit it used was one of those zeros.
type bitReader struct {
	data []byte
	pos  int    // the next byte of data to load into val
	val  uint64 // the bits loaded and not used, the next one lowest
	n    uint   // how many bits val holds
	pad  int    // zero bytes loaded past the end of data
	bad  bool   // an unassigned code of an incomplete prefix code was read
}

func newBitReader(data []byte) bitReader { return bitReader{data: data} }

// refill loads bytes into val until it holds at least 56 bits. It is called with fewer than 32.
func (br *bitReader) refill() {
	if br.pos+8 <= len(br.data) {
		br.val |= binary.LittleEndian.Uint64(br.data[br.pos:]) << br.n
		br.pos += int(63-br.n) >> 3
		br.n |= 56
		return
	}
	for br.n <= 56 {
		if br.pos < len(br.data) {
			br.val |= uint64(br.data[br.pos]) << br.n
			br.pos++
		} else {
			br.pad++
		}
		br.n += 8
	}
}

// refillSlow is refill, not inlined, for callers that must stay small enough to be inlined.
//
//go:noinline
func (br *bitReader) refillSlow() { br.refill() }

// read returns the next n bits (n <= 32) as an integer.
func (br *bitReader) read(n uint) uint32 {
	if br.n < n {
		br.refill()
	}
	v := uint32(br.val & (1<<n - 1))
	br.val >>= n
	br.n -= n
	return v
}

// overrun reports whether a bit past the end of the data has been used.
func (br *bitReader) overrun() bool { return 8*br.pad > int(br.n) }

// check returns the error to report at a checkpoint, or nil: an unassigned code read first,
// then data used past its end.
func (br *bitReader) check() error {
	if br.bad {
		return errUnassigned
	}
	if br.overrun() {
		return errTruncated
	}
	return nil
}

// fail returns err unless a checkpoint's error explains it better: an error found while
// decoding the zeros past the end of the data, or a symbol made up for an unassigned code, is
// reported as such, as x/image would have stopped there.
func (br *bitReader) fail(err error) error {
	if e := br.check(); e != nil {
		return e
	}
	return err
}
