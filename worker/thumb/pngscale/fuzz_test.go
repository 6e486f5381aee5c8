package pngscale

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"image/png"
	"io"
	"math/rand/v2"
	"os"
	"testing"
	"time"
)

// chunked splits a zlib stream over IDAT chunks of at most size bytes (the CRCs are not filled
// in: idatReader does not check them, parse does).
func chunked(z []byte, size int) []byte {
	var out []byte
	for len(z) > 0 || out == nil {
		n := min(len(z), size)
		out = binary.BigEndian.AppendUint32(out, uint32(n))
		out = append(out, "IDAT"...)
		out = append(out, z[:n]...)
		out = append(out, 0, 0, 0, 0)
		z = z[n:]
	}
	return append(out, 0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xae, 0x42, 0x60, 0x82)
}

var errTooLong = errors.New("output over the limit")

// inflateAll inflates z, split over IDAT chunks of size bytes, with the inflater.
func inflateAll(z []byte, size, limit int) ([]byte, error) {
	ir := idatReader{data: chunked(z, size)}
	f := new(inflater)
	if err := f.reset(&ir); err != nil {
		return nil, err
	}
	var out []byte
	for {
		out = append(out, f.buf[f.r:f.o]...)
		f.r = f.o
		if len(out) > limit {
			return out, errTooLong
		}
		if f.state == stStreamEnd {
			return out, nil
		}
		if err := f.fill(); err != nil {
			return out, err
		}
	}
}

// inflateStd inflates z with compress/zlib.
func inflateStd(z []byte, limit int) ([]byte, error) {
	r, err := zlib.NewReader(bytes.NewReader(z))
	if err != nil {
		return nil, err
	}
	out, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err == nil && len(out) > limit {
		err = errTooLong
	}
	return out, err
}

func zlibSeeds(f *testing.F) {
	rng := rand.New(rand.NewPCG(7, 8))
	texts := [][]byte{
		nil,
		[]byte("a"),
		bytes.Repeat([]byte("abc"), 3000),
		bytes.Repeat([]byte{0}, 70000),
	}
	noise := make([]byte, 50000)
	for i := range noise {
		noise[i] = byte(rng.UintN(256)) & byte(rng.UintN(256)) // skewed: Huffman-coded well
	}
	texts = append(texts, noise)
	for _, text := range texts {
		for _, level := range []int{zlib.NoCompression, zlib.BestSpeed, zlib.DefaultCompression, zlib.BestCompression, zlib.HuffmanOnly} {
			var buf bytes.Buffer
			w, _ := zlib.NewWriterLevel(&buf, level)
			w.Write(text)
			w.Close()
			f.Add(buf.Bytes(), uint16(1000))
		}
	}
}

// FuzzInflate: the inflater and compress/zlib agree on every input: the same output when
// compress/zlib succeeds, an error when it fails. (Which error may differ: on data that ends
// too early, compress/zlib may say io.ErrUnexpectedEOF where the inflater finds a bad code in
// the zeros it reads past the end, or the other way round.)
func FuzzInflate(f *testing.F) {
	zlibSeeds(f)
	f.Fuzz(func(t *testing.T, z []byte, size uint16) {
		const limit = 1 << 20
		var (
			want, got    []byte
			wantErr, err error
		)
		done := make(chan bool)
		go func() {
			want, wantErr = inflateStd(z, limit)
			got, err = inflateAll(z, int(size)+1, limit)
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("no answer after 10 s")
		}
		if errors.Is(wantErr, errTooLong) || errors.Is(err, errTooLong) {
			n := min(len(got), len(want))
			if !bytes.Equal(got[:n], want[:n]) {
				t.Fatalf("the outputs differ within the first %d bytes", n)
			}
			return
		}
		switch {
		case wantErr == nil && err != nil:
			t.Fatalf("inflater: %v; compress/zlib inflates it to %d bytes", err, len(want))
		case wantErr != nil && err == nil:
			t.Fatalf("inflater gives %d bytes; compress/zlib says %v", len(got), wantErr)
		case wantErr == nil && !bytes.Equal(got, want):
			t.Fatalf("inflater gives %d bytes, compress/zlib %d, and they differ", len(got), len(want))
		}
	})
}

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
