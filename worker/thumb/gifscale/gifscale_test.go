package gifscale

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/gif"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/thumbq/thumbq/worker/thumb/internal/box"
)

// reference decodes data with image/gif as package thumb does without gifscale (the first frame,
// on a transparent canvas of the screen's size when it covers less) and averages it over the
// blocks Decode uses.
func reference(data []byte, shrink int) (*image.RGBA, error) {
	frame, err := gif.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	cfg, err := gif.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	screen := image.Rect(0, 0, cfg.Width, cfg.Height)
	canvas := image.NewNRGBA(screen)
	draw.Draw(canvas, frame.Bounds(), frame, frame.Bounds().Min, draw.Src)
	w, h := cfg.Width, cfg.Height
	ow, oh := max(1, w/shrink), max(1, h/shrink)
	dst := image.NewRGBA(image.Rect(0, 0, ow, oh))
	ends := make([]int, ow)
	box.Ends(ends, w)
	acc := make([]uint64, 4*ow)
	for oy := range oh {
		y0, y1 := oy*h/oh, (oy+1)*h/oh
		for y := y0; y < y1; y++ {
			box.AddNRGBA8(canvas.Pix[y*canvas.Stride:][:4*w], acc, ends)
		}
		box.Emit(dst.Pix[oy*dst.Stride:][:4*ow], acc, ends, uint64(y1-y0), box.RGBA, 255)
		clear(acc)
	}
	return dst, nil
}

// encode writes a GIF of a w x h screen whose one frame is at bounds, with a palette of n colours
// (the last transparent when transparent is set), and, when interlaced, its rows in the order of
// the 4 passes with the descriptor's interlace flag set (image/gif writes no interlaced GIF).
func encode(t testing.TB, w, h int, bounds image.Rectangle, n int, transparent, interlaced bool, seed uint64) []byte {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, uint64(w*h)))
	pal := make(color.Palette, n)
	for i := range pal {
		pal[i] = color.RGBA{uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(r.IntN(256)), 255}
	}
	if transparent {
		pal[n-1] = color.RGBA{}
	}
	m := image.NewPaletted(bounds, pal)
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			v := (x*7/(1+w/8) + y*5/(1+h/8)) % n
			if r.IntN(10) == 0 {
				v = r.IntN(n)
			}
			m.SetColorIndex(x, y, uint8(v))
		}
	}
	src := m
	if interlaced { // rows in pass order: decoders put them back
		src = image.NewPaletted(bounds, pal)
		i := 0
		for _, p := range interlacing {
			for fy := p.y; fy < bounds.Dy(); fy += p.dy {
				copy(src.Pix[i*src.Stride:][:bounds.Dx()], m.Pix[fy*m.Stride:][:bounds.Dx()])
				i++
			}
		}
	}
	var buf bytes.Buffer
	g := &gif.GIF{Image: []*image.Paletted{src}, Delay: []int{0}, Config: image.Config{Width: w, Height: h, ColorModel: pal}}
	if err := gif.EncodeAll(&buf, g); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	if interlaced {
		data[descriptorAt(t, data)+9] |= 0x40
	}
	return data
}

// descriptorAt returns where the first image descriptor (0x2c) of a GIF is.
func descriptorAt(t testing.TB, data []byte) int {
	t.Helper()
	i := 13
	if data[10]&0x80 != 0 {
		i += 3 << (1 + data[10]&7)
	}
	for i < len(data) && data[i] == 0x21 { // extensions: label, then sub-blocks
		i += 2
		for i < len(data) && data[i] != 0 {
			i += 1 + int(data[i])
		}
		i++
	}
	if i >= len(data) || data[i] != 0x2c {
		t.Fatal("no image descriptor")
	}
	return i
}

type gifCase struct {
	name   string
	data   []byte
	shrink int
}

func cases(t testing.TB) []gifCase {
	var cs []gifCase
	for _, tt := range []struct {
		w, h        int
		bounds      image.Rectangle
		n           int
		transparent bool
	}{
		{64, 48, image.Rect(0, 0, 64, 48), 256, false},
		{101, 37, image.Rect(0, 0, 101, 37), 16, true},
		{120, 90, image.Rect(13, 7, 100, 61), 4, true},
		{33, 200, image.Rect(0, 150, 33, 200), 2, false},
		{7, 5, image.Rect(0, 0, 7, 5), 3, true},
		{1, 1, image.Rect(0, 0, 1, 1), 2, false},
	} {
		for _, interlaced := range []bool{false, true} {
			data := encode(t, tt.w, tt.h, tt.bounds, tt.n, tt.transparent, interlaced, 1)
			for _, s := range []int{1, 2, 3, 8, 1000} {
				cs = append(cs, gifCase{fmt.Sprintf("%dx%d frame %v, %d colours, transparent %v, interlaced %v, at 1/%d",
					tt.w, tt.h, tt.bounds, tt.n, tt.transparent, interlaced, s), data, s})
			}
		}
	}
	return cs
}

// TestDecodeIsImageGIFAveraged: for frames that cover the screen or part of it, with and without
// a transparent index, interlaced or not, Decode gives exactly image/gif's frame, on its screen,
// averaged over the same blocks.
func TestDecodeIsImageGIFAveraged(t *testing.T) {
	for _, c := range cases(t) {
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
				t.Errorf("Decode = %v %v...; want image/gif averaged: %v %v...", got.Rect, head(got.Pix), want.Rect, head(want.Pix))
			}
		})
	}
}

func head(b []byte) []byte { return b[:min(len(b), 16)] }

// TestInvalidDataIsRefusedAsImageGIFRefusesIt: truncated data is io.ErrUnexpectedEOF, an index
// outside the palette and a frame outside the screen are FormatErrors, as image/gif refuses them.
func TestInvalidDataIsRefusedAsImageGIFRefusesIt(t *testing.T) {
	data := encode(t, 101, 37, image.Rect(0, 0, 101, 37), 16, false, false, 1)
	for _, n := range []int{10, 13 + 3*16 + 5, len(data) / 2, len(data) - 3} {
		if _, err := Decode(data[:n], 2); err == nil {
			t.Errorf("Decode(first %d of %d bytes) succeeded; want an error", n, len(data))
		} else if _, ferr := gif.Decode(bytes.NewReader(data[:n])); ferr == nil {
			t.Errorf("image/gif decodes the first %d bytes; Decode fails with %v", n, err)
		}
	}
	if _, err := Decode(data[:len(data)/2], 2); !errors.Is(err, io.ErrUnexpectedEOF) && !errors.As(err, new(FormatError)) {
		t.Errorf("Decode(half) = %v; want io.ErrUnexpectedEOF or a FormatError", err)
	}
	outside := bytes.Clone(data)
	outside[descriptorAt(t, outside)+1] = 5 // left 5: the frame goes past the screen
	if _, err := Decode(outside, 2); !errors.As(err, new(FormatError)) {
		t.Errorf("Decode(frame past the screen) = %v; want a FormatError", err)
	}
	// A 4-colour palette that pixels index past: 16-colour data with a 4-colour global table.
	small := encode(t, 64, 48, image.Rect(0, 0, 64, 48), 256, false, false, 2)
	if _, err := gif.Decode(bytes.NewReader(small)); err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(small)
	bad[10] = bad[10]&^7 | 1 // global table of 4 colours, the rest of the table read as blocks
	if _, err := gif.Decode(bytes.NewReader(bad)); err == nil {
		t.Skip("image/gif decodes the altered file")
	}
	if _, err := Decode(bad, 2); err == nil {
		t.Errorf("Decode(altered table) succeeded; image/gif refuses it")
	}
}

// FuzzDecode checks that Decode never panics and that where image/gif decodes the first frame,
// Decode gives the same pixels averaged over the same blocks, and where it refuses it, Decode
// does too.
func FuzzDecode(f *testing.F) {
	for _, c := range cases(f) {
		if c.shrink == 2 {
			f.Add(c.data, uint8(c.shrink))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, shrink uint8) {
		s := int(shrink%16) + 1
		cfg, err := gif.DecodeConfig(bytes.NewReader(data))
		if err != nil || cfg.Width*cfg.Height > 1<<20 {
			_, _ = Decode(data, s) // must not panic
			return
		}
		want, werr := reference(data, s)
		got, err := Decode(data, s)
		switch {
		case werr != nil && err == nil:
			t.Fatalf("image/gif refuses the input (%v); Decode succeeds", werr)
		case werr == nil && err != nil:
			t.Fatalf("image/gif decodes the input; Decode fails: %v", err)
		case werr == nil && (got.Rect != want.Rect || !bytes.Equal(got.Pix, want.Pix)):
			t.Fatalf("1/%d: Decode = %v %v...; want image/gif averaged: %v %v...", s, got.Rect, head(got.Pix), want.Rect, head(want.Pix))
		}
	})
}
