package thumb

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/thumbq/thumbq/worker/failure"
)

func TestSniffReadsTheBytesNotTheName(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"a JPEG", readFile(t, "progressive.jpg"), "jpeg"},
		{"a PNG", readFile(t, "rgb16.png"), "png"},
		{"a GIF", readFile(t, "animated.gif"), "gif"},
		{"a lossy WebP", readFile(t, "lossy.webp"), "webp"},
		{"a lossless WebP", readFile(t, "lossless-alpha.webp"), "webp"},
		{"a BMP", readFile(t, "image.bmp"), "bmp"},
		{"a TIFF", readFile(t, "image.tiff"), "tiff"},
		{"a big-endian TIFF header", []byte("MM\x00*\x00\x00\x00\x08"), "tiff"},
		{"a BigTIFF header", []byte("II+\x00\x08\x00\x00\x00"), "bigtiff"},
		{"a HEIC photo", readFile(t, "image.heic"), "heic"},
		{"an AVIF image", readFile(t, "image.avif"), "avif"},
		{"an MP4 video is no image", []byte("\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"), ""},
		{"an SVG drawing", readFile(t, "image.svg"), "svg"},
		{"an SVG with a comment and doctype first", []byte("<!-- x -->\n<!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\">\n<svg>"), "svg"},
		{"an HTML page is no image", readFile(t, "page.html"), ""},
		{"a text file is no image", readFile(t, "notes.txt"), ""},
		{"a PDF", []byte("%PDF-1.4\n"), "pdf"},
		{"a Photoshop file", []byte("8BPS\x00\x01"), "psd"},
		{"a JPEG 2000 file", []byte("\x00\x00\x00\x0cjP  \r\n\x87\n"), "jp2"},
		{"a JPEG XL container", []byte("\x00\x00\x00\x0cJXL \r\n\x87\n"), "jxl"},
		{"nothing", nil, ""},
		{"a lone JPEG marker", []byte{0xff, 0xd8}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Sniff(tt.data); got != tt.want {
				t.Errorf("Sniff(%q...) = %q; want %q", tt.data[:min(len(tt.data), 16)], got, tt.want)
			}
		})
	}
}

// TestMakeOnDamagedFiles cuts and scrambles every fixture in many ways: Make must return either
// a valid thumbnail or a *failure.Error, never anything else (a decoder panic would show up as a Corrupt
// "panicked" error, which is reported here too, so that it gets looked at).
func TestMakeOnDamagedFiles(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "*.*"))
	rng := rand.New(rand.NewPCG(1, 2))
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(filepath.Base(path)+" cut or scrambled fails cleanly", func(t *testing.T) {
			for i := range 40 {
				bad := bytes.Clone(data)
				if i < 20 {
					bad = bad[:len(bad)*i/20]
				} else {
					for range 1 + i%4 {
						if len(bad) > 0 {
							bad[rng.IntN(len(bad))] = byte(rng.Uint32())
						}
					}
				}
				checkMakeContract(t, bad)
			}
		})
	}
}

// FuzzMake checks the same contract on arbitrary input; its seeds are the fixtures.
func FuzzMake(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "*.*"))
	for _, path := range paths {
		if data, err := os.ReadFile(path); err == nil && len(data) < 64<<10 {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkMakeContract(t, data) })
}

func checkMakeContract(t *testing.T, data []byte) {
	t.Helper()
	res, err := Make(context.Background(), data, Options{MaxPixels: 4_000_000})
	if err != nil {
		var e *failure.Error
		if !errors.As(err, &e) {
			t.Fatalf("Make error %v is a %T; want a *failure.Error", err, err)
		}
		switch e.Code {
		case failure.NotImage, failure.Unsupported, failure.TooManyPixels, failure.Corrupt:
		default:
			t.Fatalf("Make error has reason %q; want one of the four", e.Code)
		}
		if bytes.Contains([]byte(err.Error()), []byte("panicked")) {
			t.Errorf("a decoder panicked on %d bytes starting %q: %v", len(data), data[:min(len(data), 16)], err)
		}
		return
	}
	if res.Width < 1 || res.Height < 1 || res.Width > 64 || res.Height > 64 || len(res.PNG) == 0 {
		t.Fatalf("Make succeeded with a %dx%d thumbnail of %d bytes; want 1..64 per side", res.Width, res.Height, len(res.PNG))
	}
}
