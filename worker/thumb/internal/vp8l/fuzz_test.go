package vp8l

import (
	"context"
	"image"
	"runtime"
	"testing"
)

// FuzzDecode compares Decode with x/image/vp8l: if x/image decodes the data, Decode gives the
// same pixels; if x/image refuses it, Decode refuses it; Decode never panics and allocates within
// Memory. Images over 2^20 pixels are skipped, as x/image would allocate them whole.
func FuzzDecode(f *testing.F) {
	for _, data := range losslessFixtures(f) {
		if len(data) < 5000 {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		w, h, err := DecodeConfig(data)
		if err == nil && w*h > 1<<20 {
			return
		}
		want, xerr := reference(data)

		var got *image.NRGBA
		var before, after runtime.MemStats
		if err == nil {
			got = image.NewNRGBA(image.Rect(0, 0, w, h))
		}
		runtime.ReadMemStats(&before)
		next := 0
		err = Decode(context.Background(), data, func(y int, row []byte) error {
			if y != next || len(row) != 4*w {
				t.Fatalf("row %d of %d bytes after %d rows", y, len(row), next)
			}
			copy(got.Pix[y*got.Stride:], row)
			next++
			return nil
		})
		runtime.ReadMemStats(&after)
		if err == nil && next != h {
			t.Fatalf("Decode handed out %d rows of %d", next, h)
		}
		if n := int64(after.TotalAlloc - before.TotalAlloc); w > 0 && n > Memory(w, h) {
			t.Errorf("Decode(%dx%d) allocated %d bytes; Memory = %d", w, h, n, Memory(w, h))
		}

		switch {
		case xerr != nil && err == nil:
			t.Fatalf("Decode succeeded; x/image/vp8l refuses: %v", xerr)
		case xerr == nil && err != nil:
			t.Fatalf("Decode: %v; x/image/vp8l decodes it", err)
		case xerr == nil:
			samePixels(t, got, want)
		}
	})
}
