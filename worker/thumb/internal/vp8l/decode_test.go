package vp8l

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"image"
	"os"
	"path/filepath"
	"testing"

	xvp8l "golang.org/x/image/vp8l"
)

// The fixtures in testdata: xi-*.webp are x/image's own test images (its gopher-doc pictures
// cover every colour-indexing packing, and one skips unused groups); the others were written by
// cwebp 1.2.4 from photos and palettes resized with ImageMagick: -lossless -z 0, 3, 6 and 9
// (z 9 at 640x480, with many prefix-code groups), -near_lossless 40, -exact with alpha, palettes
// of 2, 4, 16 and 256 colours and of 3 with alpha, 1x1, 1x57 and 301x1 pictures; and lossy
// files with lossless alpha (-q 50, with each alpha filter).

// riffChunk returns the payload of the first chunk named fourcc in a WebP file.
func riffChunk(t testing.TB, data []byte, fourcc string) []byte {
	t.Helper()
	if len(data) < 12 || string(data[0:4]) != "RIFF" || string(data[8:12]) != "WEBP" {
		t.Fatalf("not a WebP file")
	}
	for p := 12; p+8 <= len(data); {
		n := int(binary.LittleEndian.Uint32(data[p+4:]))
		if n > len(data)-p-8 {
			t.Fatalf("chunk %q of %d bytes at %d in a file of %d", data[p:p+4], n, p, len(data))
		}
		if string(data[p:p+4]) == fourcc {
			return data[p+8 : p+8+n]
		}
		p += 8 + n + n&1
	}
	return nil
}

// reference decodes VP8L data with golang.org/x/image/vp8l.
func reference(data []byte) (*image.NRGBA, error) {
	m, err := xvp8l.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	return m.(*image.NRGBA), nil
}

// collect decodes data with Decode and assembles its rows, checking they come in order.
func collect(t testing.TB, data []byte) (*image.NRGBA, error) {
	t.Helper()
	w, h, err := DecodeConfig(data)
	if err != nil {
		return nil, err
	}
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	next := 0
	err = Decode(context.Background(), data, func(y int, row []byte) error {
		if y != next || len(row) != 4*w {
			t.Fatalf("row %d of %d bytes after %d rows; want row %d of %d bytes", y, len(row), next, next, 4*w)
		}
		copy(m.Pix[y*m.Stride:], row)
		next++
		return nil
	})
	if err == nil && next != h {
		t.Fatalf("Decode handed out %d rows of %d", next, h)
	}
	return m, err
}

// samePixels reports the first pixel where got and want differ.
func samePixels(t testing.TB, got, want *image.NRGBA) {
	t.Helper()
	if got.Rect != want.Rect {
		t.Fatalf("size %v; want %v", got.Rect, want.Rect)
	}
	w, h := want.Rect.Dx(), want.Rect.Dy()
	for y := range h {
		g, r := got.Pix[y*got.Stride:][:4*w], want.Pix[y*want.Stride:][:4*w]
		if !bytes.Equal(g, r) {
			for x := 0; x < 4*w; x += 4 {
				if !bytes.Equal(g[x:x+4], r[x:x+4]) {
					t.Fatalf("pixel (%d,%d) = %v; want %v (x/image/vp8l)", x/4, y, g[x:x+4], r[x:x+4])
				}
			}
		}
	}
}

// losslessFixtures returns the payloads of the VP8L chunks of the fixtures, by file name.
func losslessFixtures(t testing.TB) map[string][]byte {
	files, err := filepath.Glob(filepath.Join("testdata", "*.webp"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if c := riffChunk(t, data, "VP8L"); c != nil {
			out[filepath.Base(f)] = c
		}
	}
	return out
}

func TestDecodeGivesXImagesPixels(t *testing.T) {
	for name, data := range losslessFixtures(t) {
		t.Run(name+" decodes to x/image/vp8l's pixels", func(t *testing.T) {
			want, err := reference(data)
			if err != nil {
				t.Fatalf("x/image/vp8l: %v", err)
			}
			got, err := collect(t, data)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			samePixels(t, got, want)
		})
	}
}

func TestDecodeConfigReadsTheHeader(t *testing.T) {
	for name, data := range losslessFixtures(t) {
		want, err := xvp8l.DecodeConfig(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: x/image/vp8l: %v", name, err)
		}
		w, h, err := DecodeConfig(data)
		if err != nil || w != want.Width || h != want.Height {
			t.Errorf("DecodeConfig(%s) = %dx%d, %v; want %dx%d", name, w, h, err, want.Width, want.Height)
		}
	}
}

func TestDecodeRefusesWhatXImageRefuses(t *testing.T) {
	for name, data := range losslessFixtures(t) {
		cuts := []int{0, 1, 4, 5, 6, 8, 12, 20, 40, len(data) / 3, len(data) / 2, len(data) - 2, len(data) - 1}
		for n := 0; n < len(data) && n < 200; n += 7 {
			cuts = append(cuts, n)
		}
		for _, n := range cuts {
			if n < 0 || n >= len(data) {
				continue
			}
			cut := data[:n]
			_, xerr := reference(cut)
			_, err := collect(t, cut)
			if (xerr == nil) != (err == nil) {
				t.Errorf("%s cut to %d bytes of %d: Decode: %v; x/image/vp8l: %v", name, n, len(data), err, xerr)
			}
		}
	}
}

func TestDecodeRefusesBadHeaders(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"an empty input", nil},
		{"a wrong signature", []byte{0x2e, 0, 0, 0, 0}},
		{"a version of 1", []byte{0x2f, 0, 0, 0, 0x20}},
		{"a header cut short", []byte{0x2f, 0, 0}},
	} {
		if err := Decode(context.Background(), tc.data, func(int, []byte) error { return nil }); err == nil {
			t.Errorf("Decode(%s) succeeded; want an error", tc.name)
		}
		if _, xerr := reference(tc.data); xerr == nil {
			t.Errorf("x/image/vp8l decodes %s", tc.name)
		}
	}
}

func TestDecodeStopsWhenCancelled(t *testing.T) {
	data := losslessFixtures(t)["photo-z6.webp"]
	ctx, cancel := context.WithCancel(context.Background())
	rows := 0
	err := Decode(ctx, data, func(y int, row []byte) error {
		rows++
		if y == 3 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || rows > 16 {
		t.Errorf("Decode cancelled at row 3 handed out %d rows and returned %v; want context.Canceled within 16 rows", rows, err)
	}
}

func TestDecodeReturnsEmitsError(t *testing.T) {
	data := losslessFixtures(t)["photo-z0.webp"]
	stop := errors.New("stop")
	if err := Decode(context.Background(), data, func(int, []byte) error { return stop }); err != stop {
		t.Errorf("Decode with an emit that fails = %v; want emit's error", err)
	}
}
