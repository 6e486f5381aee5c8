// Package tiffscale decodes the first image of a TIFF file already reduced by an integer factor:
// it decompresses each strip or tile as a stream, a row at a time, converts the row to
// premultiplied 16-bit RGBA (so 16-bit samples are narrowed as they go by, never held) and adds
// it into the block sums of package box. Its memory is a row of a strip or tile, the sums of the
// output rows a strip or a row of tiles spans, and the output, whatever the size of the image:
// golang.org/x/image/tiff, which it follows, holds the whole image and the whole of a strip.
//
// It reads what x/image/tiff reads (grey and grey inverted at 1, 8 and 16 bits; palette at 1 and
// 8 bits; RGB, RGBA with associated or unassociated alpha at 8 and 16 bits; the horizontal
// predictor) in the compressions met in practice: none, LZW, deflate (both codes) and PackBits.
// CCITT fax compressions, palettes at 16 bits and planar (not chunky) samples give an
// UnsupportedError: another decoder may read them.
package tiffscale

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"io"

	"github.com/thumbq/thumbq/worker/thumb/internal/box"
	"github.com/thumbq/thumbq/worker/thumb/internal/tifflzw"
)

// A FormatError reports that the input is not a valid TIFF image.
type FormatError string

func (e FormatError) Error() string { return "tiffscale: invalid TIFF: " + string(e) }

// An UnsupportedError reports a valid TIFF this package does not decode.
type UnsupportedError string

func (e UnsupportedError) Error() string { return "tiffscale: unsupported TIFF feature: " + string(e) }

// Tags and values read (TIFF 6.0 and its supplements).
const (
	tImageWidth        = 256
	tImageLength       = 257
	tBitsPerSample     = 258
	tCompression       = 259
	tPhotometric       = 262
	tStripOffsets      = 273
	tSamplesPerPixel   = 277
	tRowsPerStrip      = 278
	tStripByteCounts   = 279
	tPlanarConfig      = 284
	tPredictor         = 317
	tColorMap          = 320
	tTileWidth         = 322
	tTileLength        = 323
	tTileOffsets       = 324
	tTileByteCounts    = 325
	tExtraSamples      = 338
	tSampleFormat      = 339
	cNone              = 1
	cLZW               = 5
	cDeflate           = 8
	cDeflateOld        = 32946
	cPackBits          = 32773
	pWhiteIsZero       = 0
	pBlackIsZero       = 1
	pRGB               = 2
	pPaletted          = 3
	prHorizontal       = 2
	maxBytesPerPixel   = 8
	smallEntryMaxCount = 16
)

type mode int

const (
	mGray mode = iota
	mGrayInvert
	mPaletted
	mRGB
	mRGBA  // associated alpha: premultiplied already
	mNRGBA // unassociated alpha
)

// Header is what Decode needs of the first IFD. Read returns it.
type Header struct {
	Width, Height int
	order         binary.ByteOrder
	bps           int // bits per sample: 1, 8 or 16
	spp           int // samples per pixel
	mode          mode
	compression   int
	predictor     bool
	palette       [][4]uint16 // premultiplied (opaque) RGBA
	tiled         bool
	// BlockWidth and BlockHeight are the size of a strip (the image's width, RowsPerStrip) or of a
	// tile.
	BlockWidth, BlockHeight int
	across, down            int
	offsets, counts         []uint64
}

type entry struct{ typ, count, value uint32 }

// Read parses the header and first IFD of a TIFF file, checking what x/image/tiff checks.
func Read(data []byte) (*Header, error) {
	if len(data) < 8 {
		return nil, FormatError("malformed header")
	}
	h := &Header{}
	switch string(data[:4]) {
	case "II*\x00":
		h.order = binary.LittleEndian
	case "MM\x00*":
		h.order = binary.BigEndian
	default:
		return nil, FormatError("malformed header")
	}
	off := uint64(h.order.Uint32(data[4:]))
	if off+2 > uint64(len(data)) {
		return nil, errTruncated
	}
	n := int(h.order.Uint16(data[off:]))
	if off+2+12*uint64(n) > uint64(len(data)) {
		return nil, errTruncated
	}
	entries := map[int]entry{}
	prev := -1
	for i := range n {
		p := data[off+2+12*uint64(i):]
		tag := int(h.order.Uint16(p))
		if tag <= prev {
			return nil, FormatError("tags are not sorted in ascending order")
		}
		prev = tag
		entries[tag] = entry{uint32(h.order.Uint16(p[2:])), h.order.Uint32(p[4:]), h.order.Uint32(p[8:])}
	}
	vals := func(tag, maxCount int) ([]uint64, error) {
		e, ok := entries[tag]
		if !ok {
			return nil, nil
		}
		size := map[uint32]uint64{1: 1, 3: 2, 4: 4}[e.typ]
		if size == 0 {
			return nil, UnsupportedError("IFD entry datatype")
		}
		count := min(uint64(e.count), uint64(maxCount))
		var raw []byte
		if uint64(e.count)*size <= 4 {
			var b [4]byte
			h.order.PutUint32(b[:], e.value)
			raw = b[:]
		} else {
			start := uint64(e.value)
			if start+count*size > uint64(len(data)) {
				return nil, errTruncated
			}
			raw = data[start:]
		}
		u := make([]uint64, count)
		for i := range u {
			switch size {
			case 1:
				u[i] = uint64(raw[i])
			case 2:
				u[i] = uint64(h.order.Uint16(raw[2*i:]))
			default:
				u[i] = uint64(h.order.Uint32(raw[4*i:]))
			}
		}
		return u, nil
	}
	first := func(tag int) (uint64, error) {
		v, err := vals(tag, smallEntryMaxCount)
		if err != nil || len(v) == 0 {
			return 0, err
		}
		return v[0], nil
	}
	var err error
	var w, ht, comp, photo, pred, planar, extra uint64
	for _, f := range []struct {
		tag int
		v   *uint64
	}{{tImageWidth, &w}, {tImageLength, &ht}, {tCompression, &comp}, {tPhotometric, &photo},
		{tPredictor, &pred}, {tPlanarConfig, &planar}, {tExtraSamples, &extra}} {
		if *f.v, err = first(f.tag); err != nil {
			return nil, err
		}
	}
	if w == 0 || ht == 0 {
		return nil, FormatError("zero-size image")
	}
	if w > 1<<31 || ht > 1<<31 || w*ht > 1<<40 {
		return nil, FormatError("image too large")
	}
	h.Width, h.Height = int(w), int(ht)
	if sf, err := vals(tSampleFormat, smallEntryMaxCount); err != nil {
		return nil, err
	} else {
		for _, v := range sf {
			if v != 1 {
				return nil, UnsupportedError("sample format")
			}
		}
	}
	bps, err := vals(tBitsPerSample, smallEntryMaxCount)
	if err != nil {
		return nil, err
	}
	if len(bps) == 0 {
		bps = []uint64{1}
	}
	h.bps, h.spp = int(bps[0]), len(bps)
	switch h.bps {
	case 1, 8, 16:
	case 0:
		return nil, FormatError("BitsPerSample must not be 0")
	default:
		return nil, UnsupportedError(fmt.Sprintf("BitsPerSample of %d", h.bps))
	}
	switch photo {
	case pRGB:
		for _, b := range bps {
			if int(b) != h.bps || h.bps == 1 {
				return nil, FormatError("wrong number of samples for RGB")
			}
		}
		switch {
		case h.spp == 3:
			h.mode = mRGB
		case h.spp == 4 && extra == 1:
			h.mode = mRGBA
		case h.spp == 4 && extra == 2:
			h.mode = mNRGBA
		default:
			return nil, FormatError("wrong number of samples for RGB")
		}
	case pPaletted:
		h.mode = mPaletted
		cm, err := vals(tColorMap, 3*256+1)
		if err != nil {
			return nil, err
		}
		k := len(cm) / 3
		if len(cm)%3 != 0 || k <= 0 || k > 256 {
			return nil, FormatError("bad ColorMap length")
		}
		h.palette = make([][4]uint16, k)
		for i := range h.palette {
			h.palette[i] = [4]uint16{uint16(cm[i]), uint16(cm[i+k]), uint16(cm[i+2*k]), 0xffff}
		}
		if h.bps == 16 {
			return nil, UnsupportedError("16-bit palette")
		}
	case pWhiteIsZero:
		h.mode = mGrayInvert
	case pBlackIsZero:
		h.mode = mGray
	default:
		return nil, UnsupportedError("color model")
	}
	if photo != pRGB && h.spp != 1 {
		return nil, UnsupportedError("extra samples")
	}
	if planar == 2 && h.spp > 1 {
		return nil, UnsupportedError("planar configuration")
	}
	h.compression, h.predictor = int(comp), pred == prHorizontal
	if h.predictor && h.bps == 1 {
		return nil, UnsupportedError("horizontal predictor with 1 BitsPerSample")
	}
	switch h.compression {
	case 0, cNone, cLZW, cDeflate, cDeflateOld, cPackBits:
	default:
		return nil, UnsupportedError(fmt.Sprintf("compression value %d", h.compression))
	}
	h.BlockWidth, h.BlockHeight, h.across, h.down = h.Width, h.Height, 1, 1
	offTag, countTag := tStripOffsets, tStripByteCounts
	if tw, err := first(tTileWidth); err != nil {
		return nil, err
	} else if tw != 0 {
		th, err := first(tTileLength)
		if err != nil {
			return nil, err
		}
		if tw < 8 || th < 8 {
			return nil, FormatError("tile size is too small")
		}
		if tw > 1<<31 || th > 1<<31 || tw*th > 1<<40 {
			return nil, FormatError("tile size is too large")
		}
		if (tw > w+16 || th > ht+16) && (tw > 1024 || th > 1024) {
			return nil, FormatError("tile size exceeds image size")
		}
		h.tiled, h.BlockWidth, h.BlockHeight = true, int(tw), int(th)
		h.across, h.down = (h.Width+h.BlockWidth-1)/h.BlockWidth, (h.Height+h.BlockHeight-1)/h.BlockHeight
		offTag, countTag = tTileOffsets, tTileByteCounts
	} else {
		rps, err := first(tRowsPerStrip)
		if err != nil {
			return nil, err
		}
		if rps > 0 && rps < ht {
			h.BlockHeight = int(rps)
		}
		h.down = (h.Height + h.BlockHeight - 1) / h.BlockHeight
	}
	nb := h.across * h.down
	if h.offsets, err = vals(offTag, nb); err != nil {
		return nil, err
	}
	if h.counts, err = vals(countTag, nb); err != nil {
		return nil, err
	}
	if len(h.offsets) < nb || len(h.counts) < nb {
		return nil, FormatError("inconsistent header")
	}
	return h, nil
}

var errTruncated = fmt.Errorf("tiffscale: %w", io.ErrUnexpectedEOF)

// errNoPixels is x/image/tiff's error for a strip or tile with less data than its pixels need.
var errNoPixels = FormatError("not enough pixel data")

// rowBytes is the size of a row of w pixels in a strip or tile: rows start on a byte.
func (h *Header) rowBytes(w int) int { return (w*h.spp*h.bps + 7) / 8 }

// Memory bounds what Decode allocates for h reduced by shrink: two rows of a strip or tile (the
// stored row and its 16-bit RGBA), the block sums of the output rows a row of blocks spans (32
// bytes an output pixel), the output (4 bytes a pixel), the offsets and byte counts (16 bytes a
// strip or tile) and a decompressor's state (under 128 KB for zlib, 20 KB for LZW).
func (h *Header) Memory(shrink int) int64 {
	ow, oh := int64(max(1, h.Width/shrink)), int64(max(1, h.Height/shrink))
	bw := int64(h.BlockWidth)
	rows := int64(h.rowBytes(h.BlockWidth)) + 8*bw
	band := oh
	if !h.tiled {
		band = min(oh, 2)
	} else {
		band = min(oh, int64(h.BlockHeight)*oh/int64(h.Height)+4) // and the slices holding them
	}
	return rows + (32*ow+96)*band + 4*ow*oh + 16*int64(h.across*h.down) + 128<<10
}

// Decode decodes the first image of the TIFF in data reduced by shrink on each side, as
// pngscale.Decode does: the result is max(1, floor(w/shrink)) x max(1, floor(h/shrink))
// premultiplied pixels, each the mean of a block whose edges are at i*w/ow and j*h/oh. It checks
// ctx between rows and returns ctx.Err() once it is done.
//
// A truncated file gives an error wrapping io.ErrUnexpectedEOF, a valid TIFF this package does
// not decode an UnsupportedError, other invalid data a FormatError.
func Decode(ctx context.Context, data []byte, shrink int) (*image.RGBA, error) {
	if shrink < 1 {
		return nil, fmt.Errorf("tiffscale: shrink %d: want 1 or more", shrink)
	}
	h, err := Read(data)
	if err != nil {
		return nil, err
	}
	return h.decode(ctx, data, shrink)
}

func (h *Header) decode(ctx context.Context, data []byte, shrink int) (*image.RGBA, error) {
	ow, oh := max(1, h.Width/shrink), max(1, h.Height/shrink)
	s := &sink{w: h.Width, h: h.Height, ow: ow, oh: oh, dst: image.NewRGBA(image.Rect(0, 0, ow, oh)), ends: make([]int, ow)}
	box.Ends(s.ends, h.Width)
	dec := &decompressors{}
	raw := make([]byte, h.rowBytes(h.BlockWidth))
	px := make([]uint16, 4*h.BlockWidth)
	for j := range h.down {
		for i := range h.across {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			x0, y0 := i*h.BlockWidth, j*h.BlockHeight
			bh := min(h.BlockHeight, h.Height-y0)
			if h.tiled {
				bh = h.BlockHeight // tiles are padded: whole tiles are stored
			}
			k := j*h.across + i
			r, err := h.open(dec, data, h.offsets[k], h.counts[k], int64(len(raw))*int64(bh))
			if err != nil {
				return nil, err
			}
			vis := min(h.BlockWidth, h.Width-x0)
			for y := y0; y < y0+bh && y < h.Height; y++ {
				if y%64 == 0 && ctx.Err() != nil {
					return nil, ctx.Err()
				}
				if _, err := io.ReadFull(r, raw); err != nil {
					if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
						return nil, errNoPixels
					}
					return nil, err
				}
				if err := h.pixels(raw, px, vis); err != nil {
					return nil, err
				}
				s.add(x0, y, px[:4*vis])
				if h.across == 1 {
					s.flush(y + 1)
				}
			}
		}
		s.flush(min(h.Height, (j+1)*h.BlockHeight))
	}
	s.flush(h.Height)
	return s.dst, nil
}

// decompressors are the decompressors of one Decode, reset for each strip or tile rather than
// allocated again.
type decompressors struct {
	lzw  *tifflzw.Reader
	zlib io.ReadCloser
	pack packBits
}

// open returns a reader of the decompressed data of the strip or tile at off, n bytes long, of
// which need bytes are read.
func (h *Header) open(dec *decompressors, data []byte, off, n uint64, need int64) (io.Reader, error) {
	if off > uint64(len(data)) {
		return nil, errTruncated
	}
	end := min(uint64(len(data)), off+n)
	if end < off {
		end = uint64(len(data))
	}
	sec := bytes.NewReader(data[off:end])
	switch h.compression {
	case cLZW:
		if dec.lzw == nil {
			dec.lzw = tifflzw.NewReader(sec, tifflzw.MSB, 8)
		} else {
			dec.lzw.Reset(sec, tifflzw.MSB, 8)
		}
		return dec.lzw, nil
	case cDeflate, cDeflateOld:
		if dec.zlib == nil {
			r, err := zlib.NewReader(sec)
			if err != nil {
				return nil, err
			}
			dec.zlib = r
		} else if err := dec.zlib.(zlib.Resetter).Reset(sec, nil); err != nil {
			return nil, err
		}
		return dec.zlib, nil
	case cPackBits:
		dec.pack = packBits{r: sec}
		return &dec.pack, nil
	}
	if int64(n) > int64(h.BlockWidth)*int64(h.BlockHeight)*maxBytesPerPixel {
		return nil, FormatError("block data size too large")
	}
	if off+n > uint64(len(data)) && int64(end-off) < need {
		return nil, errTruncated
	}
	return sec, nil
}

// pixels converts the first w pixels of a stored row to premultiplied 16-bit RGBA, undoing the
// predictor in place first.
func (h *Header) pixels(raw []byte, px []uint16, w int) error {
	bytesPP := h.spp * h.bps / 8
	if h.predictor {
		if h.bps == 16 {
			for i := bytesPP; i+2 <= len(raw); i += 2 {
				h.order.PutUint16(raw[i:], h.order.Uint16(raw[i:])+h.order.Uint16(raw[i-bytesPP:]))
			}
		} else {
			for i := bytesPP; i < len(raw); i++ {
				raw[i] += raw[i-bytesPP]
			}
		}
	}
	o := h.order
	switch h.mode {
	case mGray, mGrayInvert:
		for x := range w {
			var v uint16
			switch h.bps {
			case 16:
				v = o.Uint16(raw[2*x:])
			case 8:
				v = uint16(raw[x]) * 0x101
			default:
				v = uint16(raw[x/8]>>(7-x%8)&1) * 0xffff
			}
			if h.mode == mGrayInvert {
				v = 0xffff - v
			}
			p := px[4*x : 4*x+4 : 4*x+4]
			p[0], p[1], p[2], p[3] = v, v, v, 0xffff
		}
	case mPaletted:
		for x := range w {
			i := int(raw[x])
			if h.bps == 1 {
				i = int(raw[x/8] >> (7 - x%8) & 1)
			}
			if i >= len(h.palette) {
				return FormatError("invalid color index")
			}
			copy(px[4*x:4*x+4], h.palette[i][:])
		}
	default:
		for x := range w {
			p := px[4*x : 4*x+4 : 4*x+4]
			var r, g, b, a uint16
			if h.bps == 16 {
				q := raw[x*bytesPP:]
				r, g, b, a = o.Uint16(q), o.Uint16(q[2:]), o.Uint16(q[4:]), 0xffff
				if h.spp == 4 {
					a = o.Uint16(q[6:])
				}
			} else {
				q := raw[x*bytesPP:]
				r, g, b, a = uint16(q[0])*0x101, uint16(q[1])*0x101, uint16(q[2])*0x101, 0xffff
				if h.spp == 4 {
					a = uint16(q[3]) * 0x101
				}
			}
			if h.mode == mNRGBA {
				r = uint16(uint32(r) * uint32(a) / 0xffff)
				g = uint16(uint32(g) * uint32(a) / 0xffff)
				b = uint16(uint32(b) * uint32(a) / 0xffff)
			}
			p[0], p[1], p[2], p[3] = r, g, b, a
		}
	}
	return nil
}

// sink adds rows of premultiplied 16-bit pixels, in any order of strips or tiles, into the block
// sums of the output rows they fall in, and writes each output row once all its source rows are
// in.
type sink struct {
	w, h, ow, oh int
	ends         []int
	dst          *image.RGBA
	base         int        // the output row held in rows[0]
	rows         [][]uint64 // sums of output rows base, base+1...
	spare        [][]uint64
}

// outRow is the output row source row y falls in: the first oy with (oy+1)*h/oh > y.
func (s *sink) outRow(y int) int { return int((int64(y+1)*int64(s.oh)+int64(s.h)-1)/int64(s.h)) - 1 }

func (s *sink) add(x0, y int, px []uint16) {
	oy := s.outRow(y)
	for oy-s.base >= len(s.rows) {
		var r []uint64
		if n := len(s.spare); n > 0 {
			r, s.spare = s.spare[n-1], s.spare[:n-1]
		} else {
			r = make([]uint64, 4*s.ow)
		}
		s.rows = append(s.rows, r)
	}
	acc := s.rows[oy-s.base]
	ox := int((int64(x0+1)*int64(s.ow)+int64(s.w)-1)/int64(s.w)) - 1
	end := s.ends[ox]
	for x := 0; x < len(px)/4; x++ {
		if x0+x >= end {
			ox++
			end = s.ends[ox]
		}
		p := px[4*x : 4*x+4 : 4*x+4]
		a := acc[4*ox : 4*ox+4 : 4*ox+4]
		a[0] += uint64(p[0])
		a[1] += uint64(p[1])
		a[2] += uint64(p[2])
		a[3] += uint64(p[3])
	}
}

// flush writes the output rows whose source rows all lie above y.
func (s *sink) flush(y int) {
	for len(s.rows) > 0 && (s.base+1)*s.h/s.oh <= y {
		oy := s.base
		y0, y1 := oy*s.h/s.oh, (oy+1)*s.h/s.oh
		acc := s.rows[0]
		box.Emit(s.dst.Pix[oy*s.dst.Stride:][:4*s.ow], acc, s.ends, uint64(y1-y0), box.RGBA, 257)
		clear(acc)
		s.spare = append(s.spare, acc)
		s.rows = s.rows[1:]
		s.base++
	}
	// Rows with no source pixels added (none, but for an output row no strip reached) stay
	// transparent, as x/image/tiff leaves them zero.
	for len(s.rows) == 0 && s.base < s.oh && (s.base+1)*s.h/s.oh <= y {
		s.base++
	}
}

// packBits decompresses PackBits as a stream.
type packBits struct {
	r        *bytes.Reader
	lit, rep int // bytes left of a literal run, of a repeat run
	b        byte
}

func (p *packBits) Read(out []byte) (int, error) {
	n := 0
	for n < len(out) {
		switch {
		case p.lit > 0:
			c, err := p.r.ReadByte()
			if err != nil {
				return n, io.ErrUnexpectedEOF
			}
			out[n] = c
			n++
			p.lit--
		case p.rep > 0:
			out[n] = p.b
			n++
			p.rep--
		default:
			c, err := p.r.ReadByte()
			if err != nil {
				if n > 0 {
					return n, nil
				}
				return 0, io.EOF
			}
			switch k := int8(c); {
			case k >= 0:
				p.lit = int(k) + 1
			case k != -128:
				b, err := p.r.ReadByte()
				if err != nil {
					return n, io.ErrUnexpectedEOF
				}
				p.b, p.rep = b, 1-int(k)
			}
		}
	}
	return n, nil
}
