package vp8

import (
	"bytes"
	"context"
	"encoding/binary"
	"image"
	"os"
	"path/filepath"
	"testing"

	xvp8 "golang.org/x/image/vp8"
)

// The fixtures in testdata were written by cwebp 1.2.4 (default settings; -q 100 -f 0 -segments 1;
// -nostrong -f 100 -sharpness 5; -q 5 -sharpness 7 -sns 100; -m 6 -pass 10 -q 90; 17x33 and 1x1
// pictures) and by ffmpeg's libvpx encoder (8 and 2 token partitions, sharpness 3 with skipped
// blocks, quantizer 0), whose first frame is wrapped in a RIFF WEBP "VP8 " chunk. Between them
// they use both loop filters and none, segments, several token partitions, the loop filter's
// mode and reference deltas, every intra mode and sizes that are not whole macroblocks.

// chunk returns the payload of the "VP8 " chunk of a simple-format WebP file.
func chunk(t testing.TB, data []byte) []byte {
	t.Helper()
	if len(data) < 20 || string(data[0:4]) != "RIFF" || string(data[8:16]) != "WEBPVP8 " {
		t.Fatalf("not a simple lossy WebP file")
	}
	n := int(binary.LittleEndian.Uint32(data[16:]))
	if n > len(data)-20 {
		t.Fatalf("VP8 chunk of %d bytes in a file of %d", n, len(data))
	}
	return data[20 : 20+n]
}

// reference decodes frame with golang.org/x/image/vp8.
func reference(frame []byte) (*image.YCbCr, error) {
	d := xvp8.NewDecoder()
	d.Init(bytes.NewReader(frame), len(frame))
	if _, err := d.DecodeFrameHeader(); err != nil {
		return nil, err
	}
	return d.DecodeFrame()
}

// collect decodes frame with Decode and assembles its bands into whole planes, checking that the
// bands come in order, each starting where the last ended.
func collect(t testing.TB, frame []byte) (*image.YCbCr, error) {
	t.Helper()
	w, h, err := DecodeConfig(frame)
	if err != nil {
		return nil, err
	}
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	next := 0
	err = Decode(context.Background(), frame, func(b Band) error {
		if b.Y0 != next || b.Rows <= 0 || b.Rows > 16 || b.Y0+b.Rows > h {
			t.Fatalf("band of rows %d+%d after %d rows of %d", b.Y0, b.Rows, next, h)
		}
		for y := range b.Rows {
			copy(img.Y[(b.Y0+y)*img.YStride:][:w], b.Y[y*b.YStride:][:w])
		}
		cw := (w + 1) / 2
		for y := range (b.Rows + 1) / 2 {
			copy(img.Cb[(b.Y0/2+y)*img.CStride:][:cw], b.Cb[y*b.CStride:][:cw])
			copy(img.Cr[(b.Y0/2+y)*img.CStride:][:cw], b.Cr[y*b.CStride:][:cw])
		}
		next += b.Rows
		return nil
	})
	if err == nil && next != h {
		t.Fatalf("bands covered %d rows of %d", next, h)
	}
	return img, err
}

// samePlanes reports the first sample where got and want differ.
func samePlanes(t testing.TB, got, want *image.YCbCr) {
	t.Helper()
	// x/image gives a frame 0 pixels wide or high as the rectangle (0,0)-(0,0); collect's keeps
	// the other side. Neither has a sample.
	if got.Rect != want.Rect && !(got.Rect.Empty() && want.Rect.Empty()) {
		t.Fatalf("size %v; want %v", got.Rect, want.Rect)
	}
	w, h := want.Rect.Dx(), want.Rect.Dy()
	planes := []struct {
		name           string
		got, want      []byte
		gs, ws, pw, ph int
	}{
		{"Y", got.Y, want.Y, got.YStride, want.YStride, w, h},
		{"Cb", got.Cb, want.Cb, got.CStride, want.CStride, (w + 1) / 2, (h + 1) / 2},
		{"Cr", got.Cr, want.Cr, got.CStride, want.CStride, (w + 1) / 2, (h + 1) / 2},
	}
	for _, p := range planes {
		for y := range p.ph {
			for x := range p.pw {
				if g, w := p.got[y*p.gs+x], p.want[y*p.ws+x]; g != w {
					t.Fatalf("%s(%d,%d) = %d; want %d (x/image/vp8)", p.name, x, y, g, w)
				}
			}
		}
	}
}

func fixtures(t testing.TB) []string {
	files, err := filepath.Glob(filepath.Join("testdata", "*.webp"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	return files
}

func TestDecodeGivesXImagesSamples(t *testing.T) {
	for _, file := range fixtures(t) {
		t.Run(filepath.Base(file)+" decodes to x/image/vp8's samples", func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			frame := chunk(t, data)
			want, err := reference(frame)
			if err != nil {
				t.Fatalf("x/image/vp8: %v", err)
			}
			got, err := collect(t, frame)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			samePlanes(t, got, want)
		})
	}
}

func TestDecodeRefusesWhatXImageRefuses(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "cwebp-default.webp"))
	if err != nil {
		t.Fatal(err)
	}
	frame := chunk(t, data)
	for _, n := range []int{0, 3, 9, 10, 20, len(frame) / 2, len(frame) - 1} {
		cut := frame[:n]
		if _, err := reference(cut); err == nil {
			continue // x/image reads some truncations as complete: nothing to compare
		}
		if _, err := collect(t, cut); err == nil {
			t.Errorf("Decode(first %d bytes of %d) succeeded; want an error, as x/image/vp8 gives", n, len(frame))
		}
	}
}

func TestDecodeStopsWhenCancelled(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "cwebp-m6-q90.webp"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	bands := 0
	err = Decode(ctx, chunk(t, data), func(Band) error {
		bands++
		cancel()
		return nil
	})
	if err != context.Canceled || bands != 1 {
		t.Errorf("Decode cancelled in its first band: %d bands, error %v; want 1 band and context.Canceled", bands, err)
	}
}

// FuzzDecode: whatever x/image/vp8 decodes, Decode decodes to the same samples; what x/image
// refuses, Decode refuses; nothing panics.
func FuzzDecode(f *testing.F) {
	for _, file := range fixtures(f) {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		if frame := chunk(f, data); len(frame) < 4096 {
			f.Add(frame)
		}
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		if w, h, err := DecodeConfig(frame); err != nil || w*h > 1<<20 {
			return
		}
		want, werr := reference(frame)
		got, gerr := collect(t, frame)
		switch {
		case werr == nil && gerr != nil:
			t.Fatalf("Decode: %v; x/image/vp8 decodes it", gerr)
		case werr != nil && gerr == nil:
			t.Fatalf("Decode succeeded; x/image/vp8 refuses it: %v", werr)
		case werr == nil:
			samePlanes(t, got, want)
		}
	})
}
