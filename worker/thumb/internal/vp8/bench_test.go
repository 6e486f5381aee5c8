package vp8

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// benchPhoto is the photograph that BenchmarkDecode has cwebp resize to 4000x3000 (12
// megapixels), a size where the row buffers no longer fit in the caches.
const benchPhoto = "../../../samples/phone-portrait-orientation-6.jpg"

// BenchmarkDecode compares Decode with x/image/vp8 on a fixture and, when cwebp is installed, on
// a 4000x3000 picture made from a photograph. Bytes per op are pixels.
func BenchmarkDecode(b *testing.B) {
	type input struct {
		name  string
		frame []byte
	}
	data, err := os.ReadFile(filepath.Join("testdata", "cwebp-m6-q90.webp"))
	if err != nil {
		b.Fatal(err)
	}
	inputs := []input{{"640x427", chunk(b, data)}}
	if big, err := bigPicture(b); err != nil {
		b.Logf("no 4000x3000 picture: %v", err)
	} else {
		inputs = append(inputs, input{"4000x3000", big})
	}
	for _, in := range inputs {
		w, h, err := DecodeConfig(in.frame)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(in.name+"/vp8", func(b *testing.B) {
			b.SetBytes(int64(w * h))
			b.ReportAllocs()
			for b.Loop() {
				if err := Decode(context.Background(), in.frame, func(Band) error { return nil }); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(in.name+"/x-image-vp8", func(b *testing.B) {
			b.SetBytes(int64(w * h))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := reference(in.frame); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// bigPicture encodes benchPhoto at 4000x3000 with cwebp (quality 80, its default method) in a
// temporary directory and returns the frame.
func bigPicture(b *testing.B) ([]byte, error) {
	cwebp, err := exec.LookPath("cwebp")
	if err != nil {
		return nil, err
	}
	out := filepath.Join(b.TempDir(), "big.webp")
	if msg, err := exec.Command(cwebp, "-quiet", "-q", "80", "-resize", "4000", "3000", benchPhoto, "-o", out).CombinedOutput(); err != nil {
		return nil, &exec.Error{Name: cwebp + ": " + string(msg), Err: err}
	}
	data, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	return chunk(b, data), nil
}

// BenchmarkLoopFilter times the loop filter alone on the real, unfiltered macroblock rows of a
// fixture, kept whole for the purpose.
func BenchmarkLoopFilter(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("testdata", "cwebp-m6-q90.webp"))
	if err != nil {
		b.Fatal(err)
	}
	p, fi, err := newParser(chunk(b, data))
	if err != nil {
		b.Fatal(err)
	}
	// Reconstruct every row, keeping its pixels and filter parameters.
	d := newDecoder(fi)
	ys, cs := d.ys, d.cs
	y, cb, cr := make([]byte, fi.mbh*16*ys), make([]byte, fi.mbh*8*cs), make([]byte, fi.mbh*8*cs)
	info := make([][]mbFilterInfo, fi.mbh)
	var mb macroblock
	for mby := range fi.mbh {
		for mbx := range fi.mbw {
			if err := p.parseMB(mbx, mby, &mb); err != nil {
				b.Fatal(err)
			}
			d.reconstruct(mbx, mby, &mb)
		}
		slot := mby & 1
		copy(y[mby*16*ys:], d.y[slot*16*ys:(slot+1)*16*ys])
		copy(cb[mby*8*cs:], d.cb[slot*8*cs:(slot+1)*8*cs])
		copy(cr[mby*8*cs:], d.cr[slot*8*cs:(slot+1)*8*cs])
		info[mby] = slices.Clone(d.filter)
	}
	y0, cb0, cr0 := slices.Clone(y), slices.Clone(cb), slices.Clone(cr)
	b.SetBytes(int64(fi.width * fi.height))
	for b.Loop() {
		copy(y, y0)
		copy(cb, cb0)
		copy(cr, cr0)
		for mby := range fi.mbh {
			yq, cq := mby*16*ys, mby*8*cs
			filterRow(fi.filter, &d.limits, info[mby], mby, y, yq, yq-ys, ys, cb, cr, cq, cq-cs, cs)
		}
	}
}
