package pngscale

import (
	"bytes"
	"image/png"
	"math/rand/v2"
	"os"
	"testing"
)

// FuzzDecode: Decode never panics, and where image/png decodes a PNG (of modest size), Decode
// gives nearly its box-shrunk pixels.
func FuzzDecode(f *testing.F) {
	for _, path := range pngSuite(f) {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, uint8(2))
	}
	rng := rand.New(rand.NewPCG(13, 14))
	for _, kind := range []string{"rgb", "nrgba", "paletted4", "gray16"} {
		var buf bytes.Buffer
		if err := png.Encode(&buf, generated(rng, kind, 19, 13)); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes(), uint8(3))
		f.Add(interlaced(f, buf.Bytes()), uint8(3))
	}
	f.Fuzz(func(t *testing.T, data []byte, k uint8) {
		shrink := int(k%8) + 1
		got, err := Decode(data, shrink)
		cfg, cerr := png.DecodeConfig(bytes.NewReader(data))
		if cerr != nil || cfg.Width*cfg.Height > 1<<20 {
			return
		}
		src, perr := png.Decode(bytes.NewReader(data))
		if perr != nil {
			return
		}
		if err != nil {
			t.Fatalf("Decode: %v; image/png decodes it (%v)", err, src.Bounds())
		}
		if d := maxDiff(got, boxShrink(src, shrink)); d > 1 {
			t.Fatalf("Decode differs from image/png's pixels, box-shrunk %d-fold, by up to %d", shrink, d)
		}
	})
}
