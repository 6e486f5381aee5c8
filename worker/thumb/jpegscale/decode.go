package jpegscale

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"sync"
)

// A FormatError reports that the input is not a valid JPEG.
type FormatError string

func (e FormatError) Error() string { return "invalid JPEG: " + string(e) }

// An UnsupportedError reports that the input is a JPEG this package does not decode but another
// decoder may: arithmetic coding, 12-bit samples, RGB, unusual sampling factors...
type UnsupportedError string

func (e UnsupportedError) Error() string { return "unsupported JPEG feature: " + string(e) }

func unsupported(format string, args ...any) UnsupportedError {
	return UnsupportedError(fmt.Sprintf(format, args...))
}

var errTruncated = fmt.Errorf("jpeg data: %w", io.ErrUnexpectedEOF)

// maxPixels bounds the images decoded at all, whatever the caller checked: 2^28 pixels. A
// variable for FuzzDecode, which keeps each run small.
var maxPixels int64 = 1 << 28

// Decode decodes a baseline or progressive JPEG reduced by shrink on each side.
//
// shrink means what it means in package pngscale: the factor each side is divided by, each output
// pixel standing for a block of about shrink x shrink source pixels. Here it is 1, 2, 4 or 8, the
// blocks are exactly shrink x shrink (the last row and column of blocks may be partial), and the
// result is ceil(width/shrink) x ceil(height/shrink). Each output pixel is computed from the
// top-left (8/shrink)^2 DCT coefficients of its 8x8 block, so it is close to the mean of its
// block of the full-size decode.
//
// It returns an *image.Gray for a greyscale file, an *image.YCbCr (with the file's chroma
// subsampling) for a colour one, and for a 4-component one (Adobe CMYK or YCCK) the *image.CMYK
// image/jpeg returns, at the reduced size (see cmyk). Files it does not decode give an
// UnsupportedError; data that ends too early an error wrapping io.ErrUnexpectedEOF; other invalid
// data a FormatError.
func Decode(data []byte, shrink int) (image.Image, error) {
	return DecodeContext(context.Background(), data, shrink)
}

// DecodeContext is Decode that checks ctx between rows of blocks and returns ctx.Err() once it
// is done.
func DecodeContext(ctx context.Context, data []byte, shrink int) (image.Image, error) {
	size := 0
	switch shrink {
	case 1, 2, 4, 8:
		size = 8 / shrink
	default:
		return nil, fmt.Errorf("jpegscale: shrink %d: want 1, 2, 4 or 8", shrink)
	}
	d := decoders.Get().(*decoder)
	defer decoders.Put(d)
	d.reset(data, shrink, size)
	img, err := d.decode(ctx)
	d.release()
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return nil, err
		}
		return nil, fmt.Errorf("jpegscale: %w", err)
	}
	return img, nil
}

// decoders keeps decoders, with their tables and coefficient buffers, across images.
var decoders = sync.Pool{New: func() any { return new(decoder) }}

type component struct {
	id     byte
	h, v   int // sampling factors
	tq     int // quantization table
	bw, bh int // blocks of the MCU-aligned grid (mcuX*h x mcuY*v)
	cw, ch int // blocks covering the component itself, the grid of a scan of it alone
	stride int // of pix: bw*size
	pix    []byte
	// Progressive files only: coefficients 0..kmax of each block (zigzag order), and for
	// coefficients above kmax, which are not kept, a bit for each that is non-zero (needed by
	// refinement scans).
	coef    []int16
	nz      []uint64
	skipped uint64 // zigzag positions of AC scans skipped
	needNZ  uint64 // zigzag positions above kmax that refinement scans decoded will ask about
	scanned bool   // whether a scan had the component
	pred    int32
	dc, ac  *huffTable
}

type decoder struct {
	data         []byte
	shrink, size int // reduce by shrink; size = 8/shrink pixels per block side
	kmax         int // the largest zigzag index needed for size x size pixels
	ncoef        int // coefficients kept per block (progressive)

	width, height int
	sof           bool
	progressive   bool
	scans         int
	ncomp         int
	comp          [4]component
	hmax, vmax    int
	mcuX, mcuY    int

	quant       [4][64]int32 // zigzag order
	qdef        [4]bool
	dc, ac      [4]huffTable
	dcDef       [4]bool
	acDef       [4]bool
	ri          int
	jfif        bool
	adobe       bool
	adobeTransf byte
	eobrun      int32

	br  bitReader
	blk [64]int32
	// The IDCT's coefficients and row results (output), kept here as they need no clearing.
	f, tmp [64]float32
}

func (d *decoder) reset(data []byte, shrink, size int) {
	d.data, d.shrink, d.size = data, shrink, size
	d.kmax = kmaxFor[size]
	d.ncoef = d.kmax + 1
	d.width, d.height, d.sof, d.progressive, d.scans, d.ncomp = 0, 0, false, false, 0, 0
	d.qdef, d.dcDef, d.acDef = [4]bool{}, [4]bool{}, [4]bool{}
	d.ri, d.jfif, d.adobe, d.adobeTransf, d.eobrun = 0, false, false, 0, 0
	clear(d.blk[:]) // readAC leaves values above kmax, which a decode at another shrink would read
	for i := range d.comp {
		c := &d.comp[i]
		*c = component{coef: c.coef[:0], nz: c.nz[:0]}
	}
}

// release drops what belongs to the caller (the data, the pixels) before the pool keeps d.
func (d *decoder) release() {
	d.data = nil
	d.br.data = nil
	for i := range d.comp {
		d.comp[i].pix = nil
	}
}

func (d *decoder) decode(ctx context.Context) (image.Image, error) {
	data := d.data
	if len(data) < 2 || data[0] != 0xff || data[1] != 0xd8 {
		return nil, FormatError("missing SOI marker")
	}
	pos := 2
	for {
		// Find the next marker, skipping fill bytes (and, as libjpeg does, stray bytes).
		for pos < len(data) && data[pos] != 0xff {
			pos++
		}
		for pos < len(data) && data[pos] == 0xff {
			pos++
		}
		if pos >= len(data) {
			return nil, errTruncated
		}
		m := data[pos]
		pos++
		switch {
		case m == 0xd9: // EOI
			return d.finish()
		case m == 0x00, m == 0x01, m >= 0xd0 && m <= 0xd7: // not a marker, TEM, RSTn
			continue
		case m == 0xd8:
			return nil, FormatError("repeated SOI marker")
		}
		if pos+2 > len(data) {
			return nil, errTruncated
		}
		n := int(data[pos])<<8 | int(data[pos+1])
		if n < 2 {
			return nil, FormatError("short segment length")
		}
		if pos+n > len(data) {
			return nil, errTruncated
		}
		seg := data[pos+2 : pos+n]
		pos += n
		var err error
		switch m {
		case 0xc0, 0xc1:
			err = d.readSOF(seg, false)
		case 0xc2:
			err = d.readSOF(seg, true)
		case 0xc3, 0xc5, 0xc6, 0xc7, 0xcb, 0xcd, 0xce, 0xcf:
			err = unsupported("lossless or hierarchical JPEG (SOF%d)", m-0xc0)
		case 0xc9, 0xca, 0xcc:
			err = unsupported("arithmetic coding")
		case 0xc4:
			err = d.readDHT(seg)
		case 0xdb:
			err = d.readDQT(seg)
		case 0xdd:
			if len(seg) != 2 {
				return nil, FormatError("bad DRI length")
			}
			d.ri = int(seg[0])<<8 | int(seg[1])
		case 0xdc:
			err = unsupported("DNL marker")
		case 0xe0:
			if len(seg) >= 5 && string(seg[:5]) == "JFIF\x00" {
				d.jfif = true
			}
		case 0xee:
			if len(seg) >= 12 && string(seg[:5]) == "Adobe" {
				d.adobe, d.adobeTransf = true, seg[11]
			}
		case 0xda:
			pos, err = d.readScan(ctx, seg, pos)
		}
		if err != nil {
			return nil, err
		}
	}
}

func (d *decoder) readSOF(seg []byte, progressive bool) error {
	if d.sof {
		return FormatError("multiple SOF markers")
	}
	if len(seg) < 6 {
		return FormatError("short SOF")
	}
	if seg[0] != 8 {
		return unsupported("%d-bit samples", seg[0])
	}
	h, w, nf := int(seg[1])<<8|int(seg[2]), int(seg[3])<<8|int(seg[4]), int(seg[5])
	switch {
	case nf != 1 && nf != 3 && nf != 4:
		return unsupported("%d components", nf)
	case len(seg) != 6+3*nf:
		return FormatError("bad SOF length")
	case h == 0:
		return unsupported("height given by a DNL marker")
	case w == 0:
		return FormatError("zero width")
	case int64(w)*int64(h) > maxPixels:
		return unsupported("%dx%d is over the decoder's limit of %d pixels", w, h, maxPixels)
	}
	d.width, d.height, d.ncomp, d.progressive, d.sof = w, h, nf, progressive, true
	d.hmax, d.vmax = 1, 1
	for i := range nf {
		c := &d.comp[i]
		c.id, c.h, c.v, c.tq = seg[6+3*i], int(seg[7+3*i]>>4), int(seg[7+3*i]&15), int(seg[8+3*i])
		if c.tq > 3 {
			return FormatError("bad quantization table selector")
		}
		for j := range i {
			if d.comp[j].id == c.id {
				return FormatError("repeated component identifier")
			}
		}
		if c.h < 1 || c.h > 4 || c.v < 1 || c.v > 4 {
			return unsupported("sampling factors %dx%d", c.h, c.v)
		}
		if nf == 1 { // a single component is never subsampled: its MCU is one block
			c.h, c.v = 1, 1
		}
		d.hmax, d.vmax = max(d.hmax, c.h), max(d.vmax, c.v)
	}
	if nf == 4 && !cmykSampling(d.comp[:4]) {
		c := &d.comp
		return unsupported("4-component sampling factors %dx%d, %dx%d, %dx%d, %dx%d", c[0].h, c[0].v, c[1].h, c[1].v, c[2].h, c[2].v, c[3].h, c[3].v)
	}
	if nf == 3 {
		y, cb, cr := &d.comp[0], &d.comp[1], &d.comp[2]
		if cb.h != cr.h || cb.v != cr.v || y.h != d.hmax || y.v != d.vmax || y.h%cb.h != 0 || y.v%cb.v != 0 {
			return unsupported("sampling factors %dx%d, %dx%d, %dx%d", y.h, y.v, cb.h, cb.v, cr.h, cr.v)
		}
		if _, ok := ratios[[2]int{y.h / cb.h, y.v / cb.v}]; !ok {
			return unsupported("chroma subsampling %d:%d", y.h/cb.h, y.v/cb.v)
		}
	}
	d.mcuX = (w + 8*d.hmax - 1) / (8 * d.hmax)
	d.mcuY = (h + 8*d.vmax - 1) / (8 * d.vmax)
	for i := range nf {
		c := &d.comp[i]
		c.bw, c.bh = d.mcuX*c.h, d.mcuY*c.v
		c.cw = ((w*c.h+d.hmax-1)/d.hmax + 7) / 8
		c.ch = ((h*c.v+d.vmax-1)/d.vmax + 7) / 8
		c.stride = c.bw * d.size
		c.pix = make([]byte, c.stride*c.bh*d.size)
		if progressive {
			n := c.bw * c.bh * d.ncoef
			if cap(c.coef) < n {
				c.coef = make([]int16, n)
			} else {
				c.coef = c.coef[:n]
				clear(c.coef)
			}
		}
	}
	return nil
}

// cmykSampling reports whether the sampling factors of a 4-component frame are one of the two
// image/jpeg decodes (and, it says, the only ones in use): all 1x1, or 2x2, 1x1, 1x1, 2x2, the
// first and last components at full resolution and the middle two halved both ways.
func cmykSampling(c []component) bool {
	for i, want := range [4]int{c[0].h, 1, 1, c[0].h} {
		if c[i].h != want || c[i].v != want || want != 1 && want != 2 {
			return false
		}
	}
	return true
}

var ratios = map[[2]int]image.YCbCrSubsampleRatio{
	{1, 1}: image.YCbCrSubsampleRatio444,
	{2, 1}: image.YCbCrSubsampleRatio422,
	{2, 2}: image.YCbCrSubsampleRatio420,
	{1, 2}: image.YCbCrSubsampleRatio440,
	{4, 1}: image.YCbCrSubsampleRatio411,
	{4, 2}: image.YCbCrSubsampleRatio410,
}

func (d *decoder) readDQT(seg []byte) error {
	for len(seg) > 0 {
		pq, tq := seg[0]>>4, seg[0]&15
		if tq > 3 {
			return FormatError("bad quantization table selector")
		}
		q := &d.quant[tq]
		switch pq {
		case 0:
			if len(seg) < 65 {
				return FormatError("short DQT")
			}
			for i := range 64 {
				q[i] = int32(seg[1+i])
			}
			seg = seg[65:]
		case 1:
			if len(seg) < 129 {
				return FormatError("short DQT")
			}
			for i := range 64 {
				q[i] = int32(seg[1+2*i])<<8 | int32(seg[2+2*i])
			}
			seg = seg[129:]
		default:
			return FormatError("bad quantization table precision")
		}
		d.qdef[tq] = true
	}
	return nil
}

func (d *decoder) readDHT(seg []byte) error {
	for len(seg) > 0 {
		if len(seg) < 17 {
			return FormatError("short DHT")
		}
		tc, th := seg[0]>>4, seg[0]&15
		if tc > 1 || th > 3 {
			return FormatError("bad Huffman table class or selector")
		}
		total := 0
		for _, c := range seg[1:17] {
			total += int(c)
		}
		if total == 0 || total > 256 {
			return FormatError("bad Huffman table length")
		}
		if len(seg) < 17+total {
			return FormatError("short DHT")
		}
		t, def := &d.dc[th], &d.dcDef[th]
		if tc == 1 {
			t, def = &d.ac[th], &d.acDef[th]
		}
		if err := t.build(seg[1:17], seg[17:17+total], tc == 0); err != nil {
			return err
		}
		*def = true
		seg = seg[17+total:]
	}
	return nil
}

// isRGB tells, as image/jpeg does, whether a 3-component file holds R, G, B rather than Y, Cb, Cr.
func (d *decoder) isRGB() bool {
	if d.jfif {
		return false
	}
	if d.adobe {
		return d.adobeTransf == 0
	}
	return d.comp[0].id == 'R' && d.comp[1].id == 'G' && d.comp[2].id == 'B'
}

// finish turns what the scans left into the image.
func (d *decoder) finish() (image.Image, error) {
	if !d.sof {
		return nil, FormatError("missing SOF marker")
	}
	if d.scans == 0 {
		return nil, FormatError("missing SOS marker")
	}
	if d.ncomp == 3 && d.isRGB() {
		return nil, unsupported("RGB colour")
	}
	if d.ncomp == 4 && !d.adobe { // image/jpeg refuses it too, but only once it has decoded it all
		return nil, unsupported("4 components without an Adobe APP14 marker to say CMYK or YCCK")
	}
	for i := range d.ncomp {
		if !d.comp[i].scanned { // invalid; image/jpeg leaves it black
			return nil, unsupported("component %d is in no scan", i)
		}
	}
	if d.progressive {
		for i := range d.ncomp {
			d.reconstruct(&d.comp[i])
		}
	}
	r := image.Rect(0, 0, (d.width+d.shrink-1)/d.shrink, (d.height+d.shrink-1)/d.shrink)
	if d.ncomp == 4 {
		return d.cmyk(r), nil
	}
	if d.ncomp == 1 {
		c := &d.comp[0]
		return &image.Gray{Pix: c.pix, Stride: c.stride, Rect: r}, nil
	}
	y, cb, cr := &d.comp[0], &d.comp[1], &d.comp[2]
	return &image.YCbCr{
		Y: y.pix, Cb: cb.pix, Cr: cr.pix,
		YStride: y.stride, CStride: cb.stride,
		SubsampleRatio: ratios[[2]int{y.h / cb.h, y.v / cb.v}],
		Rect:           r,
	}, nil
}

// cmyk turns the four reduced planes into the *image.CMYK of size r that image/jpeg's decode of
// the file, reduced, would be, with image/jpeg's colours: Adobe's CMYK (transform 0) is stored
// inverted (255 is no ink) and is inverted back; any other transform is YCCK, whose Y, Cb, Cr
// go through color.YCbCrToRGB and are then taken as C, M, Y as they are (the inversion from RGB
// to CMY and Adobe's cancel out), and whose K is inverted. Halved components (sampling 2x2, 1x1,
// 1x1, 2x2) are read at half the coordinates, as image/jpeg upsamples them, by repetition.
//
// YCbCrToRGB is affine but for its clamping, so converting the reduced samples gives the mean of
// converting the full-size ones wherever no clamp is reached.
func (d *decoder) cmyk(r image.Rectangle) *image.CMYK {
	img := image.NewCMYK(r)
	c0, c1, c2, c3 := &d.comp[0], &d.comp[1], &d.comp[2], &d.comp[3]
	sub := uint(0)
	if c0.h != c1.h {
		sub = 1
	}
	w := r.Dx()
	for y := range r.Dy() {
		p0, p3 := c0.pix[y*c0.stride:][:w], c3.pix[y*c3.stride:][:w]
		p1, p2 := c1.pix[(y>>sub)*c1.stride:], c2.pix[(y>>sub)*c2.stride:]
		out := img.Pix[y*img.Stride:][:4*w]
		for x := range w {
			o := out[4*x : 4*x+4 : 4*x+4]
			a, b, c := p0[x], p1[x>>sub], p2[x>>sub]
			if d.adobeTransf == 0 {
				o[0], o[1], o[2] = 255-a, 255-b, 255-c
			} else {
				o[0], o[1], o[2] = color.YCbCrToRGB(a, b, c)
			}
			o[3] = 255 - p3[x]
		}
	}
	return img
}
