package vp8l

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// largeWidth and largeHeight are the size of the picture largeImage makes: 6 MP, larger than
// the ring of 2^20 pixels.
const largeWidth, largeHeight = 3000, 2000

// largePeriod is how many rows apart largeImage's picture repeats: 300 rows of 3000 pixels, so
// that its backward references reach 900000 pixels back, near the ring's size.
const largePeriod = 300

var large struct {
	once sync.Once
	data []byte // the VP8L chunk
	err  error
}

// largeImage returns the VP8L data of a 3000 x 2000 picture written by cwebp -lossless -q 100
// -m 0 at test time (the test is skipped if cwebp is missing): random colours of a palette of
// 256, whose rows repeat every largePeriod rows, so that the only way to compress it is backward
// references of largePeriod rows (cwebp looks back that far at -q 100 only).
func largeImage(t testing.TB) []byte {
	t.Helper()
	cwebp, err := exec.LookPath("cwebp")
	if err != nil {
		t.Skip("cwebp is not installed")
	}
	large.once.Do(func() {
		dir, err := os.MkdirTemp("", "vp8l")
		if err != nil {
			large.err = err
			return
		}
		defer os.RemoveAll(dir)
		m := image.NewNRGBA(image.Rect(0, 0, largeWidth, largeHeight))
		rng := rand.New(rand.NewPCG(1, 2))
		var palette [256]color.NRGBA
		for i := range palette {
			palette[i] = color.NRGBA{uint8(rng.IntN(256)), uint8(rng.IntN(256)), uint8(rng.IntN(256)), 255}
		}
		for y := range largePeriod {
			for x := range largeWidth {
				m.SetNRGBA(x, y, palette[rng.IntN(256)])
			}
		}
		for y := largePeriod; y < largeHeight; y++ {
			copy(m.Pix[y*m.Stride:(y+1)*m.Stride], m.Pix[(y%largePeriod)*m.Stride:])
		}
		var buf bytes.Buffer
		if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, m); err != nil {
			large.err = err
			return
		}
		in, out := filepath.Join(dir, "in.png"), filepath.Join(dir, "out.webp")
		if err := os.WriteFile(in, buf.Bytes(), 0o644); err != nil {
			large.err = err
			return
		}
		if msg, err := exec.Command(cwebp, "-quiet", "-lossless", "-q", "100", "-m", "0", in, "-o", out).CombinedOutput(); err != nil {
			large.err = &exec.ExitError{Stderr: msg}
			return
		}
		data, err := os.ReadFile(out)
		if err != nil {
			large.err = err
			return
		}
		large.data = riffChunk(t, data, "VP8L")
	})
	if large.err != nil {
		t.Fatalf("making the large picture: %v", large.err)
	}
	return large.data
}

func TestDecodeLargeImageGivesXImagesPixels(t *testing.T) {
	if testing.Short() {
		t.Skip("a 6 MP picture")
	}
	data := largeImage(t)
	want, err := reference(data)
	if err != nil {
		t.Fatalf("x/image/vp8l: %v", err)
	}
	br := newBitReader(data)
	w, h, err := header(&br)
	if err != nil {
		t.Fatal(err)
	}
	got := image.NewNRGBA(image.Rect(0, 0, w, h))
	d := newDecoder(&br, w, h)
	err = d.decodeImage(context.Background(), w, h, func(y int, row []uint32) error {
		for x, p := range row {
			copy(got.Pix[y*got.Stride+4*x:], []byte{byte(p >> 16), byte(p >> 8), byte(p), byte(p >> 24)})
		}
		return nil
	})
	if err != nil {
		t.Fatalf("decodeImage: %v", err)
	}
	samePixels(t, got, want)
	if d.farthest <= 2*w {
		t.Errorf("the longest backward reference is %d pixels; want one past 2 rows (%d) to test the ring", d.farthest, 2*w)
	}
	t.Logf("longest backward reference: %d pixels (%d rows)", d.farthest, d.farthest/w)
}

// allocated returns what Decode allocates, all told, to decode data, and its error.
func allocated(data []byte) (int64, error) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	err := Decode(context.Background(), data, func(int, []byte) error { return nil })
	runtime.ReadMemStats(&after)
	return int64(after.TotalAlloc - before.TotalAlloc), err
}

// TestMemoryBoundsDecode: what Decode allocates, all told, is within Memory of the image's size,
// on every fixture and the large picture.
func TestMemoryBoundsDecode(t *testing.T) {
	images := losslessFixtures(t)
	if !testing.Short() {
		images["large"] = largeImage(t)
	}
	for name, data := range images {
		w, h, err := DecodeConfig(data)
		if err != nil {
			t.Fatal(err)
		}
		got, err := allocated(data)
		if err != nil {
			t.Fatalf("Decode(%s): %v", name, err)
		}
		if got > Memory(w, h) {
			t.Errorf("Decode(%s, %dx%d) allocated %d bytes; Memory = %d", name, w, h, got, Memory(w, h))
		}
		t.Logf("%s (%dx%d): allocated %d bytes, Memory %d", name, w, h, got, Memory(w, h))
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, name := range []string{"photo-640x480-z9", "large-3000x2000"} {
		for _, decoder := range []string{"vp8l", "x-image"} {
			b.Run(name+"/"+decoder, func(b *testing.B) {
				var data []byte
				if name == "large-3000x2000" {
					data = largeImage(b)
				} else {
					data = losslessFixtures(b)[name+".webp"]
				}
				w, h, _ := DecodeConfig(data)
				b.ReportAllocs()
				b.SetBytes(int64(4 * w * h))
				for b.Loop() {
					var err error
					if decoder == "vp8l" {
						err = Decode(context.Background(), data, func(int, []byte) error { return nil })
					} else {
						_, err = reference(data)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
