package worstcase

import (
	"bufio"
	"compress/lzw"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
	"io"
)

func pngCase(bits int, interlaced bool) func(io.Writer, int, int) error {
	return func(w io.Writer, width, height int) error { return writePNG(w, width, height, bits, interlaced, false) }
}

// adam7 are the passes of PNG's interlacing: x0, y0, dx, dy.
var adam7 = [7][4]int{{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4}, {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}}

// writePNG writes an RGB PNG of the blocks pattern, 8 or 16 bits a sample, Adam7-interlaced or
// not, its rows unfiltered; with alpha (8-bit only), an RGBA one whose alpha is a diagonal ramp.
func writePNG(w io.Writer, width, height, bits int, interlaced, alpha bool) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr, uint32(width))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(height))
	ihdr[8], ihdr[9] = byte(bits), 2
	bpp := 3 * bits / 8
	if alpha {
		ihdr[9], bpp = 6, 4
	}
	if interlaced {
		ihdr[12] = 1
	}
	writeChunk(bw, "IHDR", ihdr)
	cw := &chunkWriter{w: bw}
	z := zlib.NewWriter(cw)
	passes := [][4]int{{0, 0, 1, 1}}
	if interlaced {
		passes = adam7[:]
	}
	for _, p := range passes {
		pw := (width - p[0] + p[2] - 1) / p[2]
		if pw <= 0 {
			continue
		}
		row := make([]byte, 1+pw*bpp)
		for y := p[1]; y < height; y += p[3] {
			for i := range pw {
				x := p[0] + i*p[2]
				r, g, b := blocks(x, y)
				q := row[1+i*bpp:]
				if bits == 16 {
					binary.BigEndian.PutUint16(q, uint16(r)*257)
					binary.BigEndian.PutUint16(q[2:], uint16(g)*257+uint16(x&3))
					binary.BigEndian.PutUint16(q[4:], uint16(b)*257)
				} else {
					q[0], q[1], q[2] = r, g, b
				}
				if alpha {
					q[3] = uint8(x + y)
				}
			}
			if _, err := z.Write(row); err != nil {
				return err
			}
		}
	}
	if err := z.Close(); err != nil {
		return err
	}
	cw.flush()
	writeChunk(bw, "IEND", nil)
	return bw.Flush()
}

func writeChunk(w *bufio.Writer, kind string, data []byte) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(data)))
	w.Write(n[:])
	w.WriteString(kind)
	w.Write(data)
	crc := crc32.NewIEEE()
	crc.Write([]byte(kind))
	crc.Write(data)
	binary.BigEndian.PutUint32(n[:], crc.Sum32())
	w.Write(n[:])
}

// chunkWriter cuts what is written into IDAT chunks of 64 KB.
type chunkWriter struct {
	w   *bufio.Writer
	buf []byte
}

func (c *chunkWriter) Write(p []byte) (int, error) {
	c.buf = append(c.buf, p...)
	if len(c.buf) >= 1<<16 {
		c.flush()
	}
	return len(p), nil
}

func (c *chunkWriter) flush() {
	if len(c.buf) > 0 {
		writeChunk(c.w, "IDAT", c.buf)
		c.buf = c.buf[:0]
	}
}

// writeGIF writes a GIF of one frame covering the screen, 256 colours, of the blocks pattern.
func writeGIF(w io.Writer, width, height int) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("GIF89a")
	binary.Write(bw, binary.LittleEndian, [2]uint16{uint16(width), uint16(height)})
	bw.Write([]byte{0xf7, 0, 0})
	for i := range 256 {
		bw.Write([]byte{byte(i), byte(i * 7), byte(255 - i)})
	}
	bw.WriteByte(0x2c)
	binary.Write(bw, binary.LittleEndian, [4]uint16{0, 0, uint16(width), uint16(height)})
	bw.Write([]byte{0, 8})
	sb := &subBlocks{w: bw}
	z := lzw.NewWriter(sb, lzw.LSB, 8)
	row := make([]byte, width)
	for y := range height {
		for x := range row {
			r, g, _ := blocks(x, y)
			row[x] = r ^ g
		}
		if _, err := z.Write(row); err != nil {
			return err
		}
	}
	if err := z.Close(); err != nil {
		return err
	}
	sb.flush()
	bw.Write([]byte{0, 0x3b})
	return bw.Flush()
}

// subBlocks cuts what is written into GIF data sub-blocks of 255 bytes.
type subBlocks struct {
	w   *bufio.Writer
	buf []byte
}

func (s *subBlocks) Write(p []byte) (int, error) {
	s.buf = append(s.buf, p...)
	for len(s.buf) >= 255 {
		s.w.WriteByte(255)
		s.w.Write(s.buf[:255])
		s.buf = s.buf[255:]
	}
	return len(p), nil
}

func (s *subBlocks) flush() {
	if len(s.buf) > 0 {
		s.w.WriteByte(byte(len(s.buf)))
		s.w.Write(s.buf)
		s.buf = s.buf[:0]
	}
}

// bmpHeaders writes the file and info headers and a palette of n grey entries.
func bmpHeaders(w *bufio.Writer, width, height, bits, compression, colours, dataSize int) {
	off := 14 + 40 + 4*colours
	le := binary.LittleEndian
	w.WriteString("BM")
	binary.Write(w, le, []uint32{uint32(off + dataSize), 0, uint32(off)})
	binary.Write(w, le, []uint32{40, uint32(width), uint32(height)})
	binary.Write(w, le, []uint16{1, uint16(bits)})
	binary.Write(w, le, []uint32{uint32(compression), uint32(dataSize), 2835, 2835, uint32(colours), 0})
	for i := range colours {
		v := byte(i * 255 / max(1, colours-1))
		w.Write([]byte{v, 255 - v, v / 2, 0})
	}
}

// writeBMPRLE8 writes an RLE8-compressed BMP: runs of up to 255 pixels of one index.
func writeBMPRLE8(w io.Writer, width, height int) error {
	bw := bufio.NewWriter(w)
	var data []byte
	for y := height - 1; y >= 0; y-- { // bottom-up
		for x := 0; x < width; {
			n := min(255, width-x, 64-x%64)
			r, g, _ := blocks(x, y)
			data = append(data, byte(n), r^g)
			x += n
		}
		data = append(data, 0, 0)
	}
	data[len(data)-1] = 1 // the last end of line becomes the end of the bitmap
	bmpHeaders(bw, width, height, 8, 1, 256, len(data))
	bw.Write(data)
	return bw.Flush()
}

// writeBMPRLE4 writes an RLE4-compressed BMP: runs of up to 254 pixels of two alternating indices.
func writeBMPRLE4(w io.Writer, width, height int) error {
	bw := bufio.NewWriter(w)
	var data []byte
	for y := height - 1; y >= 0; y-- { // bottom-up
		for x := 0; x < width; {
			n := min(254, width-x, 64-x%64)
			r, g, _ := blocks(x, y)
			data = append(data, byte(n), r^g)
			x += n
		}
		data = append(data, 0, 0)
	}
	data[len(data)-1] = 1 // the last end of line becomes the end of the bitmap
	bmpHeaders(bw, width, height, 4, 2, 16, len(data))
	bw.Write(data)
	return bw.Flush()
}

// writeBMP1 writes an uncompressed 1-bit BMP, the most pixels the 64 MB upload limit allows.
func writeBMP1(w io.Writer, width, height int) error {
	bw := bufio.NewWriter(w)
	stride := (width + 31) / 32 * 4
	bmpHeaders(bw, width, height, 1, 0, 2, stride*height)
	row := make([]byte, stride)
	for y := height - 1; y >= 0; y-- {
		clear(row)
		for x := range width {
			if r, _, _ := blocks(x, y); r&1 == 1 {
				row[x/8] |= 0x80 >> (x % 8)
			}
		}
		bw.Write(row)
	}
	return bw.Flush()
}
