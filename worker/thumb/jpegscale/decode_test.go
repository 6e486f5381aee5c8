package jpegscale

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// maxMeanDiff is, for each scale, the largest mean difference (levels of 255) allowed between a
// reduced decode and image/jpeg's full-size decode averaged over the same blocks (whole blocks
// only, see diffImages). Measured over the fixtures and the generated images, the largest are:
//
//	1/8  0.26  the DC coefficient is the block's mean: only rounding and clamping differ
//	1/4  2.44  a 2x2 IDCT leaves out the detail finer than its pixels, which a mean over 4x4
//	1/2  2.83  pixels keeps some of (the generated images carry per-pixel noise of +-12 levels);
//	           the medians are 0.45 and 0.85
//	1/1  0.05  a float IDCT against image/jpeg's integer one
var maxMeanDiff = map[int]float64{8: 0.3, 4: 2.6, 2: 3, 1: 0.1}

// unsupportedFixtures are the testdata files that must be refused with an UnsupportedError.
var unsupportedFixtures = map[string]string{
	"arithmetic.jpg":    "arithmetic coding",
	"rgb.jpg":           "RGB colour",
	"cmyk-no-adobe.jpg": "without an Adobe APP14 marker",
}

var scales = []int{8, 4, 2, 1}

// transcoded are testdata files made by jpegtran from another fixture without changing a
// coefficient (progressive with restart intervals, which image/jpeg fails on with "missing 0xff00
// sequence" though libjpeg's djpeg decodes them), so they must decode exactly like it.
var transcoded = map[string]string{
	"jpegtran-progressive-restart.jpg":        "420.jpg",
	"progressive-422-restart.jpg":             "422.jpg",
	"cmyk-2x2-adobe0-progressive-restart.jpg": "cmyk-2x2-adobe0.jpg",
}

func TestDecodeMatchesTheStandardLibrary(t *testing.T) {
	files, err := filepath.Glob("testdata/*.jpg")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if why, ok := unsupportedFixtures[name]; ok {
			t.Run(name+" is left to the full decoder", func(t *testing.T) {
				_, err := Decode(data, 8)
				if !errors.As(err, new(UnsupportedError)) || !strings.Contains(err.Error(), why) {
					t.Errorf("Decode(%s) = %v; want an UnsupportedError about %s", name, err, why)
				}
			})
			continue
		}
		if orig, ok := transcoded[name]; ok {
			for _, scale := range scales {
				t.Run(fmt.Sprintf("%s at 1/%d is the same as %s", name, scale, orig), func(t *testing.T) {
					want, err := Decode(readFixture(t, orig), scale)
					if err != nil {
						t.Fatal(err)
					}
					got, err := Decode(data, scale)
					if err != nil {
						t.Fatal(err)
					}
					if d, err := diffImages(want, got, 1); err != nil || d != 0 {
						t.Errorf("Decode(%s) differs from Decode(%s) by %v (%v); want the same pixels", name, orig, d, err)
					}
				})
			}
			continue
		}
		for _, scale := range scales {
			t.Run(fmt.Sprintf("%s at 1/%d is image/jpeg's decode averaged", name, scale), func(t *testing.T) {
				checkAgainstStdlib(t, data, scale)
			})
		}
	}
}

// TestSkipTablesChangeNothing decodes every fixture and image of the standard encoder with
// and without skip tables, which must give the same pixels or the same error.
func TestSkipTablesChangeNothing(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.jpg")
	inputs := map[string][]byte{}
	for _, f := range files {
		inputs[filepath.Base(f)] = readFixture(t, filepath.Base(f))
	}
	for _, q := range []int{10, 50, 90, 100} {
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, picture(123, 77, false), &jpeg.Options{Quality: q}); err != nil {
			t.Fatal(err)
		}
		inputs[fmt.Sprintf("123x77 quality %d", q)] = buf.Bytes()
	}
	for name, data := range inputs {
		for _, scale := range scales {
			if err := sameWithSkipTables(data, scale); err != nil {
				t.Errorf("%s at 1/%d: %v", name, scale, err)
			}
		}
	}
}

// sameWithSkipTables decodes data at 1/scale without skip tables and with them, and tells how
// the two differ.
func sameWithSkipTables(data []byte, scale int) error {
	defer func(saved int) { skipTableMinBlocks = saved }(skipTableMinBlocks)
	skipTableMinBlocks = math.MaxInt
	want, wantErr := Decode(data, scale)
	skipTableMinBlocks = 0
	got, err := Decode(data, scale)
	switch {
	case (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error():
		return fmt.Errorf("with skip tables the error is %v; without, %v", err, wantErr)
	case err != nil:
		return nil
	}
	if d, err := diffImages(want, got, 1); err != nil || d != 0 {
		return fmt.Errorf("with skip tables the pixels differ by %v (%v)", d, err)
	}
	return nil
}

func checkAgainstStdlib(t *testing.T, data []byte, scale int) {
	t.Helper()
	d, err := diffFromStdlib(data, scale)
	if err != nil {
		t.Fatal(err)
	}
	if d > maxMeanDiff[scale] {
		t.Errorf("1/%d: mean difference from image/jpeg averaged over %dx%d blocks = %.3f; want at most %.1f", scale, scale, scale, d, maxMeanDiff[scale])
	}
	t.Logf("1/%d: mean difference %.3f", scale, d)
}

// TestDecodeImagesOfTheStandardEncoder covers image/jpeg's own encoder (4:2:0 and grey, standard
// Huffman tables) at several qualities and sizes that are not multiples of the MCU.
func TestDecodeImagesOfTheStandardEncoder(t *testing.T) {
	sizes := [][2]int{{1, 1}, {7, 9}, {16, 16}, {17, 33}, {64, 3}, {123, 77}, {4001, 3}}
	for _, sz := range sizes {
		for _, q := range []int{10, 50, 90, 100} {
			for _, grey := range []bool{false, true} {
				img := picture(sz[0], sz[1], grey)
				var buf bytes.Buffer
				if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: q}); err != nil {
					t.Fatal(err)
				}
				for _, scale := range scales {
					kind := "colour"
					if grey {
						kind = "grey"
					}
					t.Run(fmt.Sprintf("%dx%d %s quality %d at 1/%d", sz[0], sz[1], kind, q, scale), func(t *testing.T) {
						checkAgainstStdlib(t, buf.Bytes(), scale)
					})
				}
			}
		}
	}
}

// picture is a smooth gradient with some noise and a sharp edge, as a photo might have.
func picture(w, h int, grey bool) image.Image {
	r := rand.New(rand.NewPCG(uint64(w), uint64(h)))
	var img interface {
		image.Image
		Set(x, y int, c color.Color)
	}
	if grey {
		img = image.NewGray(image.Rect(0, 0, w, h))
	} else {
		img = image.NewRGBA(image.Rect(0, 0, w, h))
	}
	for y := range h {
		for x := range w {
			v := func(a int) uint8 { return uint8(min(255, max(0, a+r.IntN(24)-12))) }
			edge := 0
			if x > w/2 {
				edge = 90
			}
			img.Set(x, y, color.RGBA{v(x*255/max(1, w-1) - edge/2), v(y * 255 / max(1, h-1)), v(128 + edge), 255})
		}
	}
	return img
}

// TestYCCKIsConvertedAsTheStandardLibraryDoes: a YCCK file decodes, at each scale, to its
// stored planes (those of the same file marked CMYK, inverted back) converted pixel by pixel as
// image/jpeg converts: C, M, Y = color.YCbCrToRGB(Y, Cb, Cr), K inverted; and at 1/1 to about
// image/jpeg's own pixels (only the IDCTs differ).
func TestYCCKIsConvertedAsTheStandardLibraryDoes(t *testing.T) {
	for _, file := range []string{"cmyk.jpg", "ycck-2x2.jpg", "cmyk-progressive.jpg"} {
		data := readFixture(t, file)
		for _, scale := range scales {
			got, err := Decode(data, scale)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := Decode(asAdobeCMYK(data), scale)
			if err != nil {
				t.Fatal(err)
			}
			g, r := got.(*image.CMYK), raw.(*image.CMYK)
			for i := 0; i < len(r.Pix); i += 4 {
				c, m, y := color.YCbCrToRGB(255-r.Pix[i], 255-r.Pix[i+1], 255-r.Pix[i+2])
				if want := [4]uint8{c, m, y, r.Pix[i+3]}; [4]uint8(g.Pix[i:i+4]) != want {
					t.Fatalf("%s at 1/%d: pixel %d = %v; want %v", file, scale, i/4, g.Pix[i:i+4], want)
				}
			}
		}
		ref, err := jpeg.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := Decode(data, 1)
		if d, err := diffImages(ref, got, 1); err != nil || d > maxMeanDiff[1] {
			t.Errorf("%s at 1/1: mean difference from image/jpeg = %.3f (%v); want at most %.1f", file, d, err, maxMeanDiff[1])
		}
	}
}

func TestDecodeSizes(t *testing.T) {
	for _, tt := range []struct {
		file  string
		scale int
		w, h  int
	}{
		{"4001x3.jpg", 8, 501, 1},
		{"4001x3.jpg", 2, 2001, 2},
		{"17x33.jpg", 4, 5, 9},
		{"1x1-progressive.jpg", 8, 1, 1},
		{"420.jpg", 8, 13, 9},
	} {
		img, err := Decode(readFixture(t, tt.file), tt.scale)
		if err != nil {
			t.Fatalf("Decode(%s, %d): %v", tt.file, tt.scale, err)
		}
		if b := img.Bounds(); b.Dx() != tt.w || b.Dy() != tt.h {
			t.Errorf("Decode(%s) at 1/%d = %dx%d; want %dx%d", tt.file, tt.scale, b.Dx(), b.Dy(), tt.w, tt.h)
		}
	}
}

func TestDecodeKeepsTheChromaSubsampling(t *testing.T) {
	for file, want := range map[string]image.YCbCrSubsampleRatio{
		"444.jpg": image.YCbCrSubsampleRatio444,
		"422.jpg": image.YCbCrSubsampleRatio422,
		"420.jpg": image.YCbCrSubsampleRatio420,
		"440.jpg": image.YCbCrSubsampleRatio440,
		"411.jpg": image.YCbCrSubsampleRatio411,
		"410.jpg": image.YCbCrSubsampleRatio410,
	} {
		img, err := Decode(readFixture(t, file), 8)
		if err != nil {
			t.Fatalf("Decode(%s): %v", file, err)
		}
		m, ok := img.(*image.YCbCr)
		if !ok || m.SubsampleRatio != want {
			t.Errorf("Decode(%s) = %T %v; want *image.YCbCr %v", file, img, m.SubsampleRatio, want)
		}
	}
	for _, file := range []string{"cmyk.jpg", "cmyk-adobe0.jpg", "ycck-2x2.jpg", "cmyk-progressive.jpg"} {
		if img, err := Decode(readFixture(t, file), 8); err != nil {
			t.Fatal(err)
		} else if _, ok := img.(*image.CMYK); !ok {
			t.Errorf("Decode(%s) = %T; want *image.CMYK, as image/jpeg gives", file, img)
		}
	}
	if img, err := Decode(readFixture(t, "gray.jpg"), 8); err != nil {
		t.Fatal(err)
	} else if _, ok := img.(*image.Gray); !ok {
		t.Errorf("Decode(gray.jpg) = %T; want *image.Gray", img)
	}
}

func TestTruncatedDataIsUnexpectedEOF(t *testing.T) {
	for _, file := range []string{"420.jpg", "progressive.jpg", "restart-every-mcu.jpg"} {
		data := readFixture(t, file)
		for _, scale := range []int{8, 2} {
			for _, n := range []int{len(data) / 3, len(data) / 2, len(data) - 100, len(data) - 2} {
				_, err := Decode(data[:n], scale)
				if !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Errorf("Decode(first %d bytes of %s, 1/%d) = %v; want io.ErrUnexpectedEOF", n, file, scale, err)
				}
			}
		}
	}
}

func TestDecodeRefusesOtherScales(t *testing.T) {
	for _, scale := range []int{0, 3, 16, -8} {
		if _, err := Decode(readFixture(t, "420.jpg"), scale); err == nil {
			t.Errorf("Decode at 1/%d succeeded; want an error", scale)
		}
	}
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// withSize returns a copy of a baseline fixture whose SOF0 header claims w x h.
func withSize(t *testing.T, name string, w, h int) []byte {
	data := bytes.Clone(readFixture(t, name))
	i := bytes.Index(data, []byte{0xff, 0xc0})
	if i < 0 {
		t.Fatalf("%s has no SOF0", name)
	}
	data[i+5], data[i+6], data[i+7], data[i+8] = byte(h>>8), byte(h), byte(w>>8), byte(w)
	return data
}

func TestHostileHeadersAllocateLittle(t *testing.T) {
	for _, tt := range []struct {
		name     string
		w, h     int
		maxAlloc uint64
	}{
		{"65535x65535 is refused before allocating", 65535, 65535, 64 << 10},
		{"16000x16000 with 3 KB of data fails as truncated after allocating only its 1/8 planes", 16000, 16000, 8 << 20},
	} {
		t.Run(tt.name, func(t *testing.T) {
			data := withSize(t, "420.jpg", tt.w, tt.h)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := Decode(data, 8)
			runtime.ReadMemStats(&after)
			if err == nil {
				t.Errorf("Decode(%dx%d header on 3 KB) succeeded; want an error", tt.w, tt.h)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > tt.maxAlloc {
				t.Errorf("Decode(%dx%d header) allocated %d KB; want at most %d KB", tt.w, tt.h, alloc>>10, tt.maxAlloc>>10)
			}
			t.Logf("%v", err)
		})
	}
}

// TestUnrolledIDCTs checks the 2x2 and 4x4 IDCTs written out against the general one.
func TestUnrolledIDCTs(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{2, 4} {
		d := &decoder{size: n}
		for i := range d.quant[0] {
			d.quant[0][i] = int32(1 + r.IntN(30))
		}
		c := &component{stride: n, pix: make([]byte, n*n)}
		want := make([]byte, n*n)
		for range 10000 {
			var blk [64]int32
			for _, k := range idcts[n].zz {
				blk[k] = int32(r.IntN(2001) - 1000)
			}
			d.outputN(c, &blk, 0, 0)
			copy(want, c.pix)
			d.output(c, &blk, 0, 0)
			if !bytes.Equal(c.pix, want) {
				t.Fatalf("size %d: output(%v) = %v; want %v", n, blk, c.pix, want)
			}
		}
	}
}
