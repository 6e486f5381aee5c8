package jpegscale

import (
	"bytes"
	"image/jpeg"
	"os"
	"testing"
)

// benchInput reads one of the large inputs of /tmp/bench-inputs, skipping the benchmark when
// it is absent.
func benchInput(b *testing.B, name string) []byte {
	data, err := os.ReadFile("/tmp/bench-inputs/" + name)
	if err != nil {
		b.Skipf("no benchmark input: %v", err)
	}
	return data
}

func BenchmarkDecode(b *testing.B) {
	for _, in := range []struct {
		name, file string
		scale      int
	}{
		{"12MP baseline 1/8", "jpeg-12mp.jpg", 8},
		{"12MP baseline 1/4", "jpeg-12mp.jpg", 4},
		{"12MP baseline 1/2", "jpeg-12mp.jpg", 2},
		{"12MP progressive 1/8", "jpeg-progressive.jpg", 8},
		{"12MP progressive 1/4", "jpeg-progressive.jpg", 4},
		{"50MP baseline 1/8", "jpeg-50mp.jpg", 8},
	} {
		b.Run(in.name, func(b *testing.B) {
			data := benchInput(b, in.file)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Decode(data, in.scale); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkStdlib is image/jpeg's full-size decode of the same 12 MP file, for comparison.
func BenchmarkStdlib(b *testing.B) {
	data := benchInput(b, "jpeg-12mp.jpg")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := jpeg.Decode(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}
