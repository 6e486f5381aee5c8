package inflate

import (
	"bytes"
	"compress/zlib"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"time"
)

// segments is a Source that hands out its slices in order.
type segments [][]byte

func (s *segments) Next() ([]byte, bool) {
	if len(*s) == 0 {
		return nil, false
	}
	seg := (*s)[0]
	*s = (*s)[1:]
	return seg, true
}

// split cuts z into segments of at most size bytes (one empty segment for empty input).
func split(z []byte, size int) *segments {
	var s segments
	for len(z) > 0 || s == nil {
		n := min(len(z), size)
		s = append(s, z[:n])
		z = z[n:]
	}
	return &s
}

var errTooLong = errors.New("output over the limit")

// inflateAll inflates z, split into segments of size bytes, with a Reader.
func inflateAll(z []byte, size, limit int) ([]byte, error) {
	f := new(Reader)
	if err := f.Reset(split(z, size)); err != nil {
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

// deflate compresses text with compress/zlib at level.
func deflate(t testing.TB, text []byte, level int) []byte {
	var buf bytes.Buffer
	w, err := zlib.NewWriterLevel(&buf, level)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(text); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// texts are inputs that exercise stored, fixed and dynamic blocks, long matches and a window
// that wraps.
func texts() [][]byte {
	rng := rand.New(rand.NewPCG(7, 8))
	noise := make([]byte, 50000)
	for i := range noise {
		a, b := byte(rng.UintN(256)), byte(rng.UintN(256))
		noise[i] = a & b // skewed: Huffman-coded well
	}
	big := make([]byte, 600000)
	for i := range big {
		big[i] = byte(i*i>>7) ^ noise[i%len(noise)]
	}
	return [][]byte{nil, []byte("a"), bytes.Repeat([]byte("abc"), 3000), bytes.Repeat([]byte{0}, 70000), noise, big}
}

var levels = []int{zlib.NoCompression, zlib.BestSpeed, zlib.DefaultCompression, zlib.BestCompression, zlib.HuffmanOnly}

func TestReadFullGivesWhatWasCompressed(t *testing.T) {
	for i, text := range texts() {
		for _, level := range levels {
			z := deflate(t, text, level)
			for _, size := range []int{1, 7, 8192, len(z) + 1} {
				f := new(Reader)
				if err := f.Reset(split(z, size)); err != nil {
					t.Fatalf("text %d, level %d, segments of %d: Reset: %v", i, level, size, err)
				}
				got := make([]byte, len(text))
				if err := f.ReadFull(got); err != nil {
					t.Fatalf("text %d, level %d, segments of %d: ReadFull: %v", i, level, size, err)
				}
				if !bytes.Equal(got, text) {
					t.Fatalf("text %d, level %d, segments of %d: the output differs from the input", i, level, size)
				}
				if err := f.Finish(); err != nil {
					t.Fatalf("text %d, level %d, segments of %d: Finish: %v; want nil", i, level, size, err)
				}
			}
		}
	}
}

func TestBrokenStreamsAreRefused(t *testing.T) {
	text := bytes.Repeat([]byte("thumbq "), 20000)
	z := deflate(t, text, zlib.DefaultCompression)
	badSum := bytes.Clone(z)
	badSum[len(badSum)-1] ^= 1
	for _, tt := range []struct {
		name string
		z    []byte
		take int // bytes to read before Finish
		want error
	}{
		{"a stream cut in half is truncated", z[:len(z)/2], len(text), io.ErrUnexpectedEOF},
		{"a stream without its checksum is truncated", z[:len(z)-4], len(text), io.ErrUnexpectedEOF},
		{"a wrong checksum is refused", badSum, len(text), ErrChecksum},
		{"output left over is refused", z, len(text) - 1, ErrTrailing},
		{"asking for more than there is is truncated", z, len(text) + 1, io.ErrUnexpectedEOF},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := new(Reader)
			err := f.Reset(split(tt.z, 1000))
			if err == nil {
				err = f.ReadFull(make([]byte, tt.take))
			}
			if err == nil {
				err = f.Finish()
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("inflating = %v; want %v", err, tt.want)
			}
		})
	}
}

// FuzzInflate: the Reader and compress/zlib agree on every input: the same output when
// compress/zlib succeeds, an error when it fails. (Which error may differ: on data that ends
// too early, compress/zlib may say io.ErrUnexpectedEOF where the Reader finds a bad code in
// the zeros it reads past the end, or the other way round.) size splits the input into segments.
func FuzzInflate(f *testing.F) {
	for _, text := range texts()[:5] {
		for _, level := range levels {
			f.Add(deflate(f, text, level), uint16(1000))
		}
	}
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
			t.Fatalf("Reader: %v; compress/zlib inflates it to %d bytes", err, len(want))
		case wantErr != nil && err == nil:
			t.Fatalf("Reader gives %d bytes; compress/zlib says %v", len(got), wantErr)
		case wantErr == nil && !bytes.Equal(got, want):
			t.Fatalf("Reader gives %d bytes, compress/zlib %d, and they differ", len(got), len(want))
		}
	})
}
