package vp8l

import (
	"bytes"
	"context"
	"image"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/image/webp"
)

// unfilter undoes an ALPH chunk's filter in place (RFC 9649, section 2.7.1.3): each value adds
// its predictor, the left value (horizontal), the one above (vertical) or left+above-above-left
// clamped (gradient); the first row predicts from the left, the first column from above, the
// first value from 0.
func unfilter(a []byte, w, h int, method byte) {
	if method == 0 {
		return
	}
	for y := range h {
		for x := range w {
			var pred int
			switch {
			case x == 0 && y == 0:
			case y == 0:
				pred = int(a[x-1])
			case x == 0:
				pred = int(a[(y-1)*w])
			default:
				l, t, tl := int(a[y*w+x-1]), int(a[(y-1)*w+x]), int(a[(y-1)*w+x-1])
				switch method {
				case 1:
					pred = l
				case 2:
					pred = t
				default:
					pred = min(max(l+t-tl, 0), 255)
				}
			}
			a[y*w+x] += byte(pred)
		}
	}
}

func TestDecodeAlphaGivesXImagesAlpha(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.webp"))
	tested := map[byte]bool{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		alph := riffChunk(t, data, "ALPH")
		if alph == nil || alph[0]&3 != 1 {
			continue // no alpha, or stored uncompressed
		}
		vp8x := riffChunk(t, data, "VP8X")
		w := int(uint32(vp8x[4])|uint32(vp8x[5])<<8|uint32(vp8x[6])<<16) + 1
		h := int(uint32(vp8x[7])|uint32(vp8x[8])<<8|uint32(vp8x[9])<<16) + 1
		filter := alph[0] >> 2 & 3
		tested[filter] = true
		t.Run(filepath.Base(f)+" decodes to x/image/webp's alpha", func(t *testing.T) {
			m, err := webp.Decode(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("x/image/webp: %v", err)
			}
			want := m.(*image.NYCbCrA)
			got := make([]byte, w*h)
			next := 0
			err = DecodeAlpha(context.Background(), alph[1:], w, h, func(y int, row []byte) error {
				if y != next || len(row) != w {
					t.Fatalf("row %d of %d bytes after %d rows", y, len(row), next)
				}
				copy(got[y*w:], row)
				next++
				return nil
			})
			if err != nil || next != h {
				t.Fatalf("DecodeAlpha: %v after %d rows of %d", err, next, h)
			}
			unfilter(got, w, h, filter)
			for y := range h {
				for x := range w {
					if g, r := got[y*w+x], want.A[y*want.AStride+x]; g != r {
						t.Fatalf("alpha (%d,%d) = %d; want %d (filter %d)", x, y, g, r, filter)
					}
				}
			}
		})
	}
	for f := range byte(4) {
		if !tested[f] && f != 3 {
			t.Errorf("no fixture has a lossless alpha plane with filter %d", f)
		}
	}
}

func TestDecodeAlphaRefusesBadSizes(t *testing.T) {
	for _, size := range [][2]int{{0, 1}, {1, 0}, {1 << 14, 1 << 15}} {
		if err := DecodeAlpha(context.Background(), []byte{0}, size[0], size[1], func(int, []byte) error { return nil }); err == nil {
			t.Errorf("DecodeAlpha(%dx%d) succeeded; want an error", size[0], size[1])
		}
	}
}
