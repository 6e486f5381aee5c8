package worstcase

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"io"
)

// TIFF compressions written.
const (
	tiffNone     = 1
	tiffLZW      = 5
	tiffDeflate  = 8
	tiffPackBits = 32773
)

type tiffSpec struct {
	bits        int // 8 or 16 bits a sample, RGB
	compression int
	pattern     pattern
	tile        int  // tile side; 0 for one strip holding the whole image
	predictor   bool // horizontal differencing
}

func tiffCase(s tiffSpec) func(io.Writer, int, int) error {
	return func(w io.Writer, width, height int) error {
		return WriteTIFF(w, width, height, s.bits, s.compression, s.tile, s.predictor, s.pattern)
	}
}

// WriteTIFF writes a little-endian RGB TIFF of width x height with bits (8 or 16) a sample,
// compressed with compression (1 none, 5 LZW, 8 deflate, 32773 PackBits), in one strip or in
// tiles of tile x tile, with or without horizontal differencing. pat nil means the blocks pattern.
// The compressed data is held in memory (it is small for these patterns), then written.
func WriteTIFF(w io.Writer, width, height, bits, compression, tile int, predictor bool, pat pattern) error {
	if pat == nil {
		pat = blocks
	}
	bpp := 3 * bits / 8
	var data bytes.Buffer
	var offsets, counts []uint32
	chunk := func(x0, y0, chunkW, ch int) error {
		start := data.Len()
		cw2 := chunkW
		var cw io.WriteCloser
		switch compression {
		case tiffDeflate:
			cw = zlib.NewWriter(&data)
		case tiffLZW:
			cw = newLZWWriter(&data)
		case tiffPackBits:
			cw = &packBitsWriter{w: &data}
		default:
			cw = nopCloser{&data}
		}
		row := make([]byte, cw2*bpp)
		for y := y0; y < y0+ch; y++ {
			for x := range cw2 {
				r, g, b := pat(x0+x, y)
				if x0+x >= width || y >= height {
					r, g, b = 0, 0, 0
				}
				p := row[x*bpp:]
				if bits == 16 {
					binary.LittleEndian.PutUint16(p, uint16(r)*257)
					binary.LittleEndian.PutUint16(p[2:], uint16(g)*257+uint16(x&7))
					binary.LittleEndian.PutUint16(p[4:], uint16(b)*257)
				} else {
					p[0], p[1], p[2] = r, g, b
				}
			}
			if predictor {
				differentiate(row, bits)
			}
			if _, err := cw.Write(row); err != nil {
				return err
			}
		}
		if err := cw.Close(); err != nil {
			return err
		}
		offsets = append(offsets, uint32(8+start))
		counts = append(counts, uint32(data.Len()-start))
		return nil
	}
	if tile == 0 {
		if err := chunk(0, 0, width, height); err != nil {
			return err
		}
	} else {
		for y := 0; y < height; y += tile {
			for x := 0; x < width; x += tile {
				if err := chunk(x, y, tile, tile); err != nil {
					return err
				}
			}
		}
	}
	le := binary.LittleEndian
	ifdOff := 8 + data.Len()
	ifdOff += ifdOff & 1
	head := []byte{'I', 'I', 42, 0, 0, 0, 0, 0}
	le.PutUint32(head[4:], uint32(ifdOff))
	if _, err := w.Write(head); err != nil {
		return err
	}
	if data.Len()&1 == 1 {
		data.WriteByte(0)
	}
	if _, err := w.Write(data.Bytes()); err != nil {
		return err
	}
	type entry struct {
		tag, typ uint16
		vals     []uint32
	}
	pred := uint32(1)
	if predictor {
		pred = 2
	}
	entries := []entry{
		{256, 4, []uint32{uint32(width)}},
		{257, 4, []uint32{uint32(height)}},
		{258, 3, []uint32{uint32(bits), uint32(bits), uint32(bits)}},
		{259, 3, []uint32{uint32(compression)}},
		{262, 3, []uint32{2}},
		{277, 3, []uint32{3}},
		{284, 3, []uint32{1}},
		{317, 3, []uint32{pred}},
	}
	if tile == 0 {
		entries = append(entries, entry{273, 4, offsets}, entry{278, 4, []uint32{uint32(height)}}, entry{279, 4, counts})
	} else {
		entries = append(entries, entry{322, 4, []uint32{uint32(tile)}}, entry{323, 4, []uint32{uint32(tile)}},
			entry{324, 4, offsets}, entry{325, 4, counts})
	}
	// Sort by tag, as TIFF wants.
	for i := range entries {
		for j := i + 1; j < len(entries); j++ {
			if entries[j].tag < entries[i].tag {
				entries[i], entries[j] = entries[j], entries[i]
			}
		}
	}
	extra := ifdOff + 2 + 12*len(entries) + 4
	var ifd, ext bytes.Buffer
	binary.Write(&ifd, le, uint16(len(entries)))
	for _, e := range entries {
		size := 2
		if e.typ == 4 {
			size = 4
		}
		binary.Write(&ifd, le, e.tag)
		binary.Write(&ifd, le, e.typ)
		binary.Write(&ifd, le, uint32(len(e.vals)))
		var v [4]byte
		if len(e.vals)*size <= 4 {
			for i, x := range e.vals {
				if size == 2 {
					le.PutUint16(v[2*i:], uint16(x))
				} else {
					le.PutUint32(v[:], x)
				}
			}
		} else {
			le.PutUint32(v[:], uint32(extra+ext.Len()))
			for _, x := range e.vals {
				if size == 2 {
					binary.Write(&ext, le, uint16(x))
				} else {
					binary.Write(&ext, le, x)
				}
			}
		}
		ifd.Write(v[:])
	}
	binary.Write(&ifd, le, uint32(0))
	ifd.Write(ext.Bytes())
	_, err := w.Write(ifd.Bytes())
	return err
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// differentiate applies TIFF's horizontal differencing (predictor 2) to a row of RGB samples.
func differentiate(row []byte, bits int) {
	if bits == 8 {
		for i := len(row) - 1; i >= 3; i-- {
			row[i] -= row[i-3]
		}
		return
	}
	le := binary.LittleEndian
	for i := len(row) - 2; i >= 6; i -= 2 {
		le.PutUint16(row[i:], le.Uint16(row[i:])-le.Uint16(row[i-6:]))
	}
}

// packBitsWriter compresses with PackBits, one Write at a time (each row is one Write).
type packBitsWriter struct{ w io.Writer }

func (p *packBitsWriter) Write(b []byte) (int, error) {
	n := len(b)
	var out []byte
	for len(b) > 0 {
		run := 1
		for run < len(b) && run < 128 && b[run] == b[0] {
			run++
		}
		if run >= 2 {
			out = append(out, byte(1-run), b[0])
			b = b[run:]
			continue
		}
		lit := 1
		for lit < len(b) && lit < 128 && (lit+1 >= len(b) || b[lit] != b[lit+1]) {
			lit++
		}
		out = append(out, byte(lit-1))
		out = append(out, b[:lit]...)
		b = b[lit:]
	}
	_, err := p.w.Write(out)
	return n, err
}

func (p *packBitsWriter) Close() error { return nil }

// lzwWriter compresses with TIFF's LZW (MSB first, codes widened one code early, as libtiff does).
type lzwWriter struct {
	w      io.Writer
	acc    uint32
	nbits  uint
	width  uint
	next   int
	prefix int // -1 when none
	table  []uint16
	buf    []byte
	err    error
}

const (
	lzwClear = 256
	lzwEOI   = 257
)

func newLZWWriter(w io.Writer) *lzwWriter {
	z := &lzwWriter{w: w, prefix: -1, table: make([]uint16, 4096*256)}
	z.reset()
	z.emit(lzwClear)
	return z
}

func (z *lzwWriter) reset() {
	clear(z.table)
	z.width, z.next = 9, 258
}

func (z *lzwWriter) emit(code int) {
	z.acc = z.acc<<z.width | uint32(code)
	z.nbits += z.width
	for z.nbits >= 8 {
		z.buf = append(z.buf, byte(z.acc>>(z.nbits-8)))
		z.nbits -= 8
	}
	if len(z.buf) >= 1<<15 {
		z.flush()
	}
}

func (z *lzwWriter) flush() {
	if z.err == nil {
		_, z.err = z.w.Write(z.buf)
	}
	z.buf = z.buf[:0]
}

func (z *lzwWriter) Write(b []byte) (int, error) {
	for _, c := range b {
		if z.prefix < 0 {
			z.prefix = int(c)
			continue
		}
		k := z.prefix<<8 | int(c)
		if code := z.table[k]; code != 0 {
			z.prefix = int(code)
			continue
		}
		z.emit(z.prefix)
		z.table[k] = uint16(z.next)
		z.next++
		if z.next >= 1<<z.width && z.width < 12 {
			z.width++
		}
		if z.next >= 4093 {
			z.emit(lzwClear)
			z.reset()
		}
		z.prefix = int(c)
	}
	return len(b), z.err
}

func (z *lzwWriter) Close() error {
	if z.prefix >= 0 {
		z.emit(z.prefix)
		z.next++
		if z.next >= 1<<z.width && z.width < 12 {
			z.width++
		}
	}
	z.emit(lzwEOI)
	if z.nbits > 0 {
		z.buf = append(z.buf, byte(z.acc<<(8-z.nbits)))
		z.nbits = 0
	}
	z.flush()
	return z.err
}
