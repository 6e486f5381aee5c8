package bmpscale

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/image/bmp"
)

var update = flag.Bool("update", false, "rewrite the RLE fixtures this test writes and the reference PNGs of all of them (needs ImageMagick's convert)")

// rleFile is a hand-written RLE bitmap: a 16-colour palette and the compressed data as given.
type rleFile struct {
	w, h        int
	compression int // rle8 or rle4
	data        []byte
}

// bytes returns the file: headers, a palette of 16 distinct colours, data.
func (f rleFile) bytes() []byte {
	bpp := 8
	if f.compression == rle4 {
		bpp = 4
	}
	return rleBMP(f.w, f.h, bpp, f.compression, testPalette(16), f.data, false)
}

func testPalette(n int) [][3]uint8 {
	pal := make([][3]uint8, n)
	for i := range pal {
		pal[i] = [3]uint8{uint8(i * 16), uint8(255 - i*13), uint8(i*7 + 40)} // R, G, B
	}
	return pal
}

// rleBMP writes a BMP with a 40-byte info header, the palette pal (R, G, B) and data.
func rleBMP(w, h, bpp, compression int, pal [][3]uint8, data []byte, topDown bool) []byte {
	le := binary.LittleEndian
	off := 14 + 40 + 4*len(pal)
	b := make([]byte, off, off+len(data))
	copy(b, "BM")
	le.PutUint32(b[2:], uint32(off+len(data)))
	le.PutUint32(b[10:], uint32(off))
	le.PutUint32(b[14:], 40)
	le.PutUint32(b[18:], uint32(w))
	height := int32(h)
	if topDown {
		height = -height
	}
	le.PutUint32(b[22:], uint32(height))
	le.PutUint16(b[26:], 1)
	le.PutUint16(b[28:], uint16(bpp))
	le.PutUint32(b[30:], uint32(compression))
	le.PutUint32(b[34:], uint32(len(data)))
	le.PutUint32(b[46:], uint32(len(pal)))
	for i, c := range pal {
		b[54+4*i], b[55+4*i], b[56+4*i] = c[2], c[1], c[0]
	}
	return append(b, data...)
}

// craftedRLE are the fixtures written by hand to cover each escape; the comments give the file
// rows, bottom first.
var craftedRLE = map[string]rleFile{
	"escapes-rle8.bmp": {13, 9, rle8, []byte{
		5, 1, 0, 3, 2, 3, 4, 0, 5, 5, 0, 0, // row 0: a run, an odd absolute run (padded), a run
		3, 6, 0, 2, 4, 1, 6, 7, 0, 0, // row 1: 3 pixels, then a delta 4 right and 1 up: row 2 from x=7
		2, 8, 0, 0, // row 3: an early end of line
		16, 9, 0, 0, 2, 10, 0, 0, // row 4: a run 3 past the row's end, into row 5, which is then written over
		0, 4, 11, 12, 13, 14, 9, 15, 0, 0, // row 6: an even absolute run, a run
		13, 3, // row 7, with no end of line
		4, 4, 0, 1, 0, 0, // row 8: an early end of bitmap, then padding
	}},
	"escapes-rle4.bmp": {11, 7, rle4, []byte{
		11, 0x12, 0, 0, // row 0: a run alternating two indices
		0, 5, 0x34, 0x56, 0x70, 0, 3, 0xff, 0, 0, // row 1: an absolute run of 5 (3 bytes, padded), a run, an early end of line
		0, 2, 3, 1, 4, 0xab, 0, 0, // row 2: a delta 3 right and 1 up, a run in row 3
		0, 3, 0xcd, 0xe0, 14, 0x9a, 0, 0, 2, 0x11, 0, 0, // row 4: an absolute run of 3 (2 bytes), a run past the end, written over
		0, 1, 0, 0, // row 6: the end of the bitmap, then padding
	}},
	"no-eol-rle8.bmp": {7, 5, rle8, []byte{10, 1, 0, 4, 5, 6, 7, 8, 9, 2, 12, 3, 0, 1}}, // runs across rows, no end of line
}

// TestRLEIsImageMagickAveraged: every RLE fixture in testdata (written by ImageMagick, by this
// test's RLE4 encoder, or by hand to cover each escape) decodes to ImageMagick's picture of it
// (the PNG beside it, made by convert) averaged over the same blocks, and so does the plain
// decoder of rleReference, which holds the whole image as ImageMagick does.
func TestRLEIsImageMagickAveraged(t *testing.T) {
	if *update {
		updateRLEFixtures(t)
	}
	files, _ := filepath.Glob("testdata/*.bmp")
	if len(files) < 5 {
		t.Fatalf("found %d RLE fixtures in testdata; want 5", len(files))
	}
	for _, path := range files {
		data := readFile(t, path)
		f, err := os.Open(strings.TrimSuffix(path, ".bmp") + ".png")
		if err != nil {
			t.Fatal(err)
		}
		im, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		plain, err := rleReference(data)
		if err != nil {
			t.Fatalf("%s: rleReference: %v", path, err)
		}
		for _, s := range []int{1, 2, 3, 8, 1000} {
			t.Run(fmt.Sprintf("%s at 1/%d", filepath.Base(path), s), func(t *testing.T) {
				want := average(im, s)
				got, err := Decode(data, s)
				if err != nil {
					t.Fatal(err)
				}
				if got.Rect != want.Rect || !bytes.Equal(got.Pix, want.Pix) {
					t.Errorf("Decode = %v %v...; want ImageMagick's picture averaged: %v %v...", got.Rect, head(got.Pix), want.Rect, head(want.Pix))
				}
				if p := average(plain, s); !bytes.Equal(p.Pix, want.Pix) {
					t.Errorf("rleReference averaged = %v...; want ImageMagick's picture averaged: %v...", head(p.Pix), head(want.Pix))
				}
			})
		}
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// updateRLEFixtures writes the hand-written fixtures, rose-rle4.bmp (ImageMagick's rose reduced to
// 16 colours, which ImageMagick writes uncompressed at 4 bits, compressed by encodeRLE4), and
// each fixture's picture as ImageMagick decodes it. rose-rle8.bmp is ImageMagick's own:
// convert rose: -colors 200 -type Palette -compress RLE BMP3:rose-rle8.bmp.
func updateRLEFixtures(t *testing.T) {
	if _, err := exec.LookPath("convert"); err != nil {
		t.Fatalf("-update needs ImageMagick's convert: %v", err)
	}
	for name, f := range craftedRLE {
		if err := os.WriteFile(filepath.Join("testdata", name), f.bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command("convert", "rose:", "-colors", "16", "-type", "Palette", "-compress", "None", "BMP3:-").Output()
	if err != nil {
		t.Fatal(err)
	}
	m, err := bmp.Decode(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	p, ok := m.(*image.Paletted)
	if !ok || len(p.Palette) > 16 {
		t.Fatalf("convert -colors 16 gave a %T of %d colours; want 16 at most", m, len(p.Palette))
	}
	pal := make([][3]uint8, len(p.Palette))
	for i, c := range p.Palette {
		r, g, b, _ := c.RGBA()
		pal[i] = [3]uint8{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8)}
	}
	rose := rleBMP(p.Rect.Dx(), p.Rect.Dy(), 4, rle4, pal, encodeRLE4(p), false)
	if err := os.WriteFile("testdata/rose-rle4.bmp", rose, 0o644); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("testdata/*.bmp")
	for _, path := range files {
		ref := strings.TrimSuffix(path, ".bmp") + ".png"
		if out, err := exec.Command("convert", path, "-strip", "PNG24:"+ref).CombinedOutput(); err != nil {
			t.Fatalf("convert %s: %v: %s", path, err, out)
		}
	}
}

// encodeRLE4 compresses m's rows bottom-up as RLE4: a run for 3 or more equal pixels, an absolute
// run for 3 or more others, a run of one or two otherwise, and an end of line after each row.
func encodeRLE4(m *image.Paletted) []byte {
	w, h := m.Rect.Dx(), m.Rect.Dy()
	var out []byte
	for y := h - 1; y >= 0; y-- {
		row := m.Pix[y*m.Stride:][:w]
		for x := 0; x < w; {
			n := 1
			for x+n < w && n < 255 && row[x+n] == row[x] {
				n++
			}
			if n >= 3 || w-x < 3 {
				out = append(out, byte(n), row[x]<<4|row[x])
				x += n
				continue
			}
			// Absolute: up to the next run of 3 equal pixels.
			e := x
			for e < w && e-x < 255 && !(e+2 < w && row[e] == row[e+1] && row[e] == row[e+2]) {
				e++
			}
			if e-x < 3 {
				out = append(out, byte(n), row[x]<<4|row[x])
				x += n
				continue
			}
			out = append(out, 0, byte(e-x))
			var abs []byte
			for i, v := range row[x:e] {
				if i%2 == 0 {
					abs = append(abs, v<<4)
				} else {
					abs[len(abs)-1] |= v
				}
			}
			if len(abs)%2 == 1 {
				abs = append(abs, 0)
			}
			out = append(out, abs...)
			x = e
		}
		out = append(out, 0, 0)
	}
	return append(out, 0, 1)
}

// rleReference decodes an RLE BMP whole, as ImageMagick 6's DecodeImage does: the indices of the
// whole image in one buffer cleared to 0, bottom row first, written at y*width+x and cut at its
// end; then the palette. It does not refuse what Decode refuses as going back to a row already
// summed: it goes back, as ImageMagick does, and returns errBack with the image.
func rleReference(data []byte) (*image.NRGBA, error) {
	d, err := header(data)
	if err != nil {
		return nil, err
	}
	w, h := d.width, d.height
	idx := make([]byte, w*h)
	src := data[d.offset:]
	n := w * h
	p, x, y, far := 0, 0, 0, 0
	put := func(v byte) {
		idx[p] = v
		p, x = p+1, x+1
		far = max(far, p)
	}
	var back bool
	for p < n {
		if len(src) < 2 {
			return nil, errTruncated
		}
		c, a := int(src[0]), src[1]
		src = src[2:]
		switch {
		case c > 0:
			for i := range min(c, n-p) {
				v := a
				if d.rle == rle4 {
					v = a >> 4
					if i%2 == 1 {
						v = a & 0x0f
					}
				}
				put(v)
			}
		case a == 0:
			x, y = 0, y+1
			p = y * w
			back = back || y < (far-1)/w
		case a == 1:
			p = n
		case a == 2:
			if len(src) < 2 {
				return nil, errTruncated
			}
			x, y = x+int(src[0]), y+int(src[1])
			src = src[2:]
			p = y*w + x
		default:
			size, cnt := int(a), min(int(a), n-p)
			need := cnt
			if d.rle == rle4 {
				size, need = (size+1)/2, (cnt+1)/2
			}
			if len(src) < need {
				return nil, errTruncated
			}
			for i := range cnt {
				if d.rle == rle8 {
					put(src[i])
				} else if i%2 == 0 {
					put(src[i/2] >> 4)
				} else {
					put(src[i/2] & 0x0f)
				}
			}
			src = src[min(len(src), size+size%2):]
		}
	}
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i, v := range idx {
		if int(v) >= d.colours {
			return nil, FormatError("invalid palette index")
		}
		c := d.pal[v]
		o := m.PixOffset(i%w, h-1-i/w)
		m.Pix[o], m.Pix[o+1], m.Pix[o+2], m.Pix[o+3] = uint8(c[0]), uint8(c[1]), uint8(c[2]), 255
	}
	if back {
		return m, errBack
	}
	return m, nil
}

var errBack = errors.New("an end of line went back to a row already summed")

// TestRLESkippedPixelsAreIndexZero: the pixels a delta skips and those an early end of line or of
// the bitmap leaves are palette index 0, as ImageMagick leaves them.
func TestRLESkippedPixelsAreIndexZero(t *testing.T) {
	f := rleFile{4, 3, rle8, []byte{1, 5, 0, 2, 2, 0, 1, 6, 0, 0, 2, 7, 0, 1}} // 5 _ _ 6; 7 7 _ _; _ _ _ _
	got, err := Decode(f.bytes(), 1)
	if err != nil {
		t.Fatal(err)
	}
	pal := testPalette(16)
	want := [][]int{{0, 0, 0, 0}, {7, 7, 0, 0}, {5, 0, 0, 6}} // top row first
	for y, row := range want {
		for x, i := range row {
			c := got.RGBAAt(x, y)
			if [3]uint8{c.R, c.G, c.B} != pal[i] {
				t.Errorf("pixel (%d,%d) = %v; want palette index %d, %v", x, y, c, i, pal[i])
			}
		}
	}
}

// TestInvalidRLEIsRefused: data that ends before the last pixel or the end of the bitmap wraps
// io.ErrUnexpectedEOF; a top-down RLE file, RLE8 at 4 bits, an index past the palette and an end
// of line back to a row already summed are FormatErrors. A file whose last row is complete needs
// no end of line or of bitmap after it.
func TestInvalidRLEIsRefused(t *testing.T) {
	rose := readFile(t, "testdata/rose-rle8.bmp")
	off := int(binary.LittleEndian.Uint32(rose[10:]))
	for _, n := range []int{off, off + 1, off + 3, (off + len(rose)) / 2, len(rose) - 40} {
		if _, err := Decode(rose[:n], 2); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("Decode(first %d of %d bytes) = %v; want io.ErrUnexpectedEOF", n, len(rose), err)
		}
	}
	if _, err := Decode(rose[:len(rose)-4], 2); err != nil { // without the last end of line and the end of the bitmap
		t.Errorf("Decode(all but the last end of line and end of bitmap) = %v; want the image", err)
	}
	topDown := rleBMP(4, 2, 8, rle8, testPalette(2), []byte{4, 1, 0, 0, 4, 1, 0, 1}, true)
	at4 := rleBMP(4, 2, 4, rle8, testPalette(2), []byte{4, 1, 0, 0, 4, 1, 0, 1}, false)
	past := rleBMP(4, 2, 8, rle8, testPalette(2), []byte{4, 1, 0, 0, 4, 2, 0, 1}, false)
	back := rleFile{2, 3, rle8, []byte{5, 1, 0, 0, 2, 1, 0, 1}}.bytes() // row 0's run goes on to row 2; the end of line goes back to row 1
	for _, c := range []struct {
		name string
		data []byte
	}{{"a top-down RLE8 bitmap", topDown}, {"RLE8 at 4 bits", at4}, {"an index past the palette", past},
		{"an end of line back to a summed row", back}} {
		if _, err := Decode(c.data, 1); !errors.As(err, new(FormatError)) {
			t.Errorf("Decode(%s) = %v; want a FormatError", c.name, err)
		}
	}
	if _, err := rleReference(back); err != errBack {
		t.Errorf("rleReference(an end of line back to a summed row) = %v; want errBack", err)
	}
}

// TestRLEAllocatesSumsOneRowAndTheOutput: a 4000x3000 RLE8 bitmap reduced by 8 allocates the
// output, the sums and edges of one output row, one row of indices and the decoder: what
// package thumb's estimate counts.
func TestRLEAllocatesSumsOneRowAndTheOutput(t *testing.T) {
	const w, h, s = 4000, 3000, 8
	var data []byte
	for y := range h {
		for x := 0; x < w; x += 250 {
			data = append(data, 250, byte(x/250+y/100)%16)
		}
		data = append(data, 0, 0)
	}
	file := rleBMP(w, h, 8, rle8, testPalette(16), append(data, 0, 1), false)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := Decode(file, s); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if got, bound := after.TotalAlloc-before.TotalAlloc, memoryBound(w, h, s); got > bound {
		t.Errorf("Decode allocated %d bytes; want at most %d", got, bound)
	}
}

// memoryBound is what an RLE decode of a w x h bitmap reduced by s may allocate, as package thumb's
// bmpMemory counts it: the output (4 bytes a pixel), the sums and block edges of one output row
// (40 bytes a pixel of the row), one row of indices (a byte a pixel of the bitmap's row), and
// 48 KB for the decoder's state (its palette) and the runtime's rounding of each of the four
// large allocations up to whole 8 KB pages.
func memoryBound(w, h, s int) uint64 {
	ow, oh := max(1, w/s), max(1, h/s)
	return uint64(4*ow*oh + 40*ow + w + 48<<10)
}

// FuzzDecodeRLE checks that Decode never panics on RLE data, allocates no more than the output,
// one row of sums, one row of indices and its state, gives an image of the size asked for, and
// equals rleReference averaged (refusing, as a FormatError, where rleReference goes back to a row
// already summed); it fails only with the package's errors and io.ErrUnexpectedEOF.
func FuzzDecodeRLE(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.bmp")
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, uint8(2))
	}
	f.Fuzz(func(t *testing.T, data []byte, shrink uint8) {
		s := int(shrink%16) + 1
		cfg, err := DecodeConfig(bytes.NewReader(data))
		if err != nil {
			if _, derr := Decode(data, s); derr == nil {
				t.Fatalf("DecodeConfig refuses the input (%v); Decode decodes it", err)
			}
			return
		}
		w, h := cfg.Width, cfg.Height
		if w*h > 1<<20 || len(data) < 34 || (data[30] != rle8 && data[30] != rle4) {
			return
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		got, err := Decode(data, s)
		runtime.ReadMemStats(&after)
		want, werr := rleReference(data)
		if err != nil {
			if !errors.As(err, new(FormatError)) && !errors.As(err, new(UnsupportedError)) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("Decode = %v; want a FormatError, an UnsupportedError or io.ErrUnexpectedEOF", err)
			}
			if werr == nil {
				t.Fatalf("Decode = %v; rleReference decodes the input", err)
			}
			return
		}
		if w == 0 {
			return
		}
		ow, oh := max(1, w/s), max(1, h/s)
		if got.Rect != image.Rect(0, 0, ow, oh) {
			t.Fatalf("%dx%d at 1/%d: Decode = %v; want %dx%d", w, h, s, got.Rect, ow, oh)
		}
		if n, bound := after.TotalAlloc-before.TotalAlloc, memoryBound(w, h, s); n > bound {
			t.Fatalf("%dx%d at 1/%d: Decode allocated %d bytes; want at most %d", w, h, s, n, bound)
		}
		if werr != nil {
			t.Fatalf("rleReference refuses the input (%v); Decode decodes it", werr)
		}
		if a := average(want, s); !bytes.Equal(got.Pix, a.Pix) {
			t.Fatalf("1/%d: Decode = %v...; want rleReference averaged: %v...", s, head(got.Pix), head(a.Pix))
		}
	})
}
