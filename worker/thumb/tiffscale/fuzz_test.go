package tiffscale

import (
	"bytes"
	"context"
	"testing"

	"golang.org/x/image/tiff"
)

// FuzzDecode: Decode never panics, and where x/image/tiff decodes a TIFF (of modest size) and
// Decode does not refuse it as unsupported, Decode gives nearly its box-shrunk pixels.
func FuzzDecode(f *testing.F) {
	for _, data := range generated(f) {
		f.Add(data, uint8(2))
	}
	f.Fuzz(func(t *testing.T, data []byte, k uint8) {
		shrink := int(k%8) + 1
		cfg, cerr := tiff.DecodeConfig(bytes.NewReader(data))
		if cerr != nil || cfg.Width*cfg.Height > 1<<20 {
			if h, err := Read(data); err == nil && int64(h.Width)*int64(h.Height) <= 1<<20 {
				Decode(context.Background(), data, shrink)
			}
			return
		}
		got, err := Decode(context.Background(), data, shrink)
		want, werr := reference(t, data, shrink)
		if werr != nil {
			return
		}
		if _, ok := err.(UnsupportedError); ok {
			return
		}
		if err != nil {
			t.Fatalf("Decode: %v; x/image/tiff decodes it (%dx%d)", err, cfg.Width, cfg.Height)
		}
		if d := maxDiff(got, want); d > 1 {
			t.Fatalf("Decode differs from x/image's pixels, box-shrunk %d-fold, by up to %d", shrink, d)
		}
	})
}
