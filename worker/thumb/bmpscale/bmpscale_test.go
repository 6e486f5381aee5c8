package bmpscale

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"io"
	"math/rand/v2"
	"testing"

	"golang.org/x/image/bmp"

	"github.com/thumbq/thumbq/worker/thumb/internal/box"
)

// reference decodes data with x/image/bmp and averages its image over the blocks Decode uses, as
// package thumb's box shrink reads each image type: *image.RGBA and *image.NRGBA by their bytes,
// others (x/image/bmp's *image.Paletted) by their 16-bit premultiplied colours.
func reference(data []byte, shrink int) (*image.RGBA, error) {
	m, err := bmp.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	return average(m, shrink), nil
}

// average averages m over the blocks Decode uses (see reference).
func average(m image.Image, shrink int) *image.RGBA {
	b := m.Bounds()
	w, h := b.Dx(), b.Dy()
	if w == 0 {
		return image.NewRGBA(image.Rectangle{})
	}
	ow, oh := max(1, w/shrink), max(1, h/shrink)
	dst := image.NewRGBA(image.Rect(0, 0, ow, oh))
	ends := make([]int, ow)
	box.Ends(ends, w)
	acc := make([]uint64, 4*ow)
	for oy := range oh {
		y0, y1 := oy*h/oh, (oy+1)*h/oh
		unit := uint64(257)
		for y := y0; y < y1; y++ {
			switch m := m.(type) {
			case *image.RGBA:
				box.AddRGBA8(m.Pix[y*m.Stride:][:4*w], acc, ends)
				unit = 1
			case *image.NRGBA:
				box.AddNRGBA8(m.Pix[y*m.Stride:][:4*w], acc, ends)
				unit = 255
			default:
				x := 0
				for ox, end := range ends {
					for ; x < end; x++ {
						r, g, b, a := m.At(x, y).RGBA()
						acc[4*ox] += uint64(r)
						acc[4*ox+1] += uint64(g)
						acc[4*ox+2] += uint64(b)
						acc[4*ox+3] += uint64(a)
					}
				}
			}
		}
		box.Emit(dst.Pix[oy*dst.Stride:][:4*ow], acc, ends, uint64(y1-y0), box.RGBA, unit)
		clear(acc)
	}
	return dst
}

// bmpFile describes a BMP for encode to write.
type bmpFile struct {
	w, h      int
	bpp       int
	colours   int  // paletted: entries in the palette (0: 1<<bpp, written as 0)
	topDown   bool // a negative height
	info      int  // info header size: 40, 108 or 124
	bitfields bool // BI_BITFIELDS with the default masks (info > 40)
}

// encode writes f with random pixels (indices below the palette's size) and random padding.
func encode(f bmpFile, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, uint64(f.w*f.h*f.bpp)))
	n := f.colours
	if f.bpp <= 8 && n == 0 {
		n = 1 << f.bpp
	}
	stride := (f.bpp*f.w + 31) / 32 * 4
	offset := 14 + f.info + 4*n
	if f.bpp > 8 {
		offset = 14 + f.info
	}
	data := make([]byte, offset+stride*f.h)
	le := binary.LittleEndian
	copy(data, "BM")
	le.PutUint32(data[2:], uint32(len(data)))
	le.PutUint32(data[10:], uint32(offset))
	le.PutUint32(data[14:], uint32(f.info))
	le.PutUint32(data[18:], uint32(f.w))
	height := int32(f.h)
	if f.topDown {
		height = -height
	}
	le.PutUint32(data[22:], uint32(height))
	le.PutUint16(data[26:], 1)
	le.PutUint16(data[28:], uint16(f.bpp))
	if f.bitfields {
		le.PutUint32(data[30:], 3)
		le.PutUint32(data[54:], 0xff0000)
		le.PutUint32(data[58:], 0xff00)
		le.PutUint32(data[62:], 0xff)
		le.PutUint32(data[66:], 0xff000000)
	}
	if f.bpp <= 8 {
		le.PutUint32(data[46:], uint32(f.colours))
		for i := range n {
			le.PutUint32(data[14+f.info+4*i:], r.Uint32())
		}
	}
	pix := data[offset:]
	if f.bpp > 8 {
		for i := range pix {
			pix[i] = uint8(r.IntN(256))
		}
		if f.bpp == 32 { // some alpha at the ends of the range
			for i := 3; i < len(pix); i += 4 * (1 + r.IntN(3)) {
				pix[i] = []uint8{0, 255}[r.IntN(2)]
			}
		}
		return data
	}
	for y := range f.h {
		row := pix[y*stride:][:stride]
		for i := range row {
			row[i] = uint8(r.IntN(256)) // padding, and the bits past the last pixel
		}
		for x := range f.w {
			bit := x * f.bpp
			sh := 8 - f.bpp - bit%8
			v := uint8(r.IntN(n))
			if r.IntN(8) > 0 { // runs of one index, as pictures have
				v = uint8((x/3 + y/5) % n)
			}
			row[bit/8] = row[bit/8]&^(uint8(1<<f.bpp-1)<<sh) | v<<sh
		}
	}
	return data
}

type bmpCase struct {
	name   string
	data   []byte
	shrink int
}

func cases() []bmpCase {
	var cs []bmpCase
	for _, f := range []bmpFile{
		{w: 64, h: 48, bpp: 1, info: 40},
		{w: 101, h: 37, bpp: 1, colours: 1, info: 40},
		{w: 99, h: 31, bpp: 2, info: 40, topDown: true},
		{w: 103, h: 41, bpp: 4, colours: 11, info: 124},
		{w: 77, h: 66, bpp: 8, info: 40},
		{w: 65, h: 29, bpp: 8, colours: 200, info: 108, topDown: true},
		{w: 101, h: 37, bpp: 24, info: 40},
		{w: 33, h: 200, bpp: 24, info: 124, topDown: true},
		{w: 75, h: 46, bpp: 32, info: 40},
		{w: 75, h: 46, bpp: 32, info: 108},
		{w: 50, h: 63, bpp: 32, info: 124, topDown: true},
		{w: 70, h: 30, bpp: 32, info: 108, bitfields: true},
		{w: 7, h: 5, bpp: 4, info: 40},
		{w: 1, h: 1, bpp: 24, info: 40},
	} {
		data := encode(f, 1)
		for _, s := range []int{1, 2, 3, 8, 1000} {
			cs = append(cs, bmpCase{fmt.Sprintf("%dx%d, %d-bit, %d colours, %d-byte header, bit fields %v, top-down %v, at 1/%d",
				f.w, f.h, f.bpp, f.colours, f.info, f.bitfields, f.topDown, s), data, s})
		}
	}
	return cs
}

func head(b []byte) []byte { return b[:min(len(b), 16)] }

// TestDecodeIsXImageBMPAveraged: for every depth x/image/bmp reads, bottom-up and top-down,
// opaque and with alpha, Decode gives exactly x/image/bmp's image averaged over the same blocks.
func TestDecodeIsXImageBMPAveraged(t *testing.T) {
	for _, c := range cases() {
		t.Run(c.name, func(t *testing.T) {
			want, err := reference(c.data, c.shrink)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(c.data, c.shrink)
			if err != nil {
				t.Fatal(err)
			}
			if got.Rect != want.Rect || !bytes.Equal(got.Pix, want.Pix) {
				t.Errorf("Decode = %v %v...; want x/image/bmp averaged: %v %v...", got.Rect, head(got.Pix), want.Rect, head(want.Pix))
			}
		})
	}
}

// TestAlphaCountsOnlyWithALargerHeader: the fourth byte of a 32-bit pixel is alpha under a
// header larger than 40 bytes and padding under a 40-byte one, as x/image/bmp reads it.
func TestAlphaCountsOnlyWithALargerHeader(t *testing.T) {
	for _, info := range []int{40, 108} {
		data := encode(bmpFile{w: 4, h: 2, bpp: 32, info: info}, 3)
		pix := data[14+info:]
		for i := 0; i < len(pix); i += 4 {
			pix[i], pix[i+1], pix[i+2], pix[i+3] = 10, 20, 200, 0 // B, G, R, transparent
		}
		got, err := Decode(data, 2)
		if err != nil {
			t.Fatal(err)
		}
		want := []uint8{200, 20, 10, 255}
		if info > 40 {
			want = []uint8{0, 0, 0, 0}
		}
		if !bytes.Equal(got.Pix[:4], want) {
			t.Errorf("%d-byte header: Decode's first pixel = %v; want %v", info, got.Pix[:4], want)
		}
	}
}

// TestInvalidDataIsRefusedAsXImageBMPRefusesIt: truncated data is io.ErrUnexpectedEOF, an index
// past the palette a FormatError, compressions other than RLE and unknown depths
// UnsupportedErrors, and x/image/bmp refuses each of them too.
func TestInvalidDataIsRefusedAsXImageBMPRefusesIt(t *testing.T) {
	data := encode(bmpFile{w: 101, h: 37, bpp: 24, info: 40}, 1)
	for _, n := range []int{10, 30, 54, len(data) / 2, len(data) - 1} {
		_, err := Decode(data[:n], 2)
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("Decode(first %d of %d bytes) = %v; want io.ErrUnexpectedEOF", n, len(data), err)
		}
		if _, xerr := bmp.Decode(bytes.NewReader(data[:n])); xerr == nil {
			t.Errorf("x/image/bmp decodes the first %d bytes", n)
		}
	}
	pal := encode(bmpFile{w: 64, h: 48, bpp: 4, colours: 3, info: 40}, 1)
	pal[14+40+3*4] |= 0xf0 // the first pixel of the bottom row: index 15 of 3
	jpeg := bytes.Clone(pal)
	jpeg[30] = 4 // BI_JPEG
	depth := bytes.Clone(data)
	depth[28] = 16
	for _, c := range []struct {
		name string
		data []byte
		want any
	}{
		{"an index past the palette", pal, new(FormatError)},
		{"JPEG compression", jpeg, new(UnsupportedError)},
		{"16 bits a pixel", depth, new(UnsupportedError)},
		{"not a BMP", append([]byte("BX"), data[2:]...), new(FormatError)},
	} {
		if _, err := Decode(c.data, 2); !errors.As(err, c.want) {
			t.Errorf("Decode(%s) = %v; want a %T", c.name, err, c.want)
		}
		if _, xerr := bmp.Decode(bytes.NewReader(c.data)); xerr == nil {
			t.Errorf("x/image/bmp decodes %s", c.name)
		}
	}
}

// TestDecodeStopsWhenTheContextIsDone: a cancelled context stops the decode with its error.
func TestDecodeStopsWhenTheContextIsDone(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	data := encode(bmpFile{w: 64, h: 48, bpp: 8, info: 40}, 1)
	if _, err := DecodeContext(ctx, data, 2); !errors.Is(err, context.Canceled) {
		t.Errorf("DecodeContext(cancelled) = %v; want context.Canceled", err)
	}
}

// FuzzDecode checks that Decode never panics and that where x/image/bmp decodes the input, Decode
// gives the same pixels averaged over the same blocks, and where it refuses it, Decode does too
// (but for RLE, which FuzzDecodeRLE checks).
func FuzzDecode(f *testing.F) {
	for _, c := range cases() {
		if c.shrink == 2 {
			f.Add(c.data, uint8(c.shrink))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, shrink uint8) {
		s := int(shrink%16) + 1
		// An RLE bitmap of any size can be a few bytes: Decode allocates from its header what the
		// caller's pixel limit bounds (FuzzDecodeRLE checks the RLE decode).
		if cfg, err := DecodeConfig(bytes.NewReader(data)); err == nil && cfg.Width*cfg.Height > 1<<20 {
			return
		}
		cfg, err := bmp.DecodeConfig(bytes.NewReader(data))
		if err != nil || cfg.Width*cfg.Height > 1<<20 {
			_, _ = Decode(data, s) // must not panic
			return
		}
		want, werr := reference(data, s)
		got, err := Decode(data, s)
		switch {
		case werr != nil && err == nil:
			t.Fatalf("x/image/bmp refuses the input (%v); Decode succeeds", werr)
		case werr == nil && err != nil:
			t.Fatalf("x/image/bmp decodes the input; Decode fails: %v", err)
		case werr == nil && (got.Rect != want.Rect || !bytes.Equal(got.Pix, want.Pix)):
			t.Fatalf("1/%d: Decode = %v %v...; want x/image/bmp averaged: %v %v...", s, got.Rect, head(got.Pix), want.Rect, head(want.Pix))
		}
	})
}
