package pngscale

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image/png"
	"math/rand/v2"
	"testing"

	"github.com/thumbq/thumbq/worker/thumb/internal/inflate"
)

// interlaced rewrites a non-interlaced PNG as an Adam7 one with the same pixels: its rows are
// decoded (with package inflate and this package's unfilter), each pass is packed bit by bit, the rows
// filtered with Sub or Up (none on a pass's first row), and compressed again.
func interlaced(t testing.TB, data []byte) []byte {
	t.Helper()
	h, err := parse(data)
	if err != nil {
		t.Fatal(err)
	}
	bits := h.depth * channels(h.colorType)
	bpp := h.bytesPerPixel()
	rowBytes := (h.width*bits + 7) / 8
	var f inflate.Reader
	ir := idatReader{data: data, pos: h.idat}
	if err := f.Reset(&ir); err != nil {
		t.Fatal(err)
	}
	rows := make([][]byte, h.height)
	prev := make([]byte, 1+rowBytes)
	for y := range rows {
		cur := make([]byte, 1+rowBytes)
		if err := f.ReadFull(cur); err != nil {
			t.Fatal(err)
		}
		if err := unfilter(cur[0], cur[1:], prev[1:], bpp); err != nil {
			t.Fatal(err)
		}
		rows[y], prev = cur, cur
	}
	pixel := func(row []byte, x int) uint64 { // the bits of pixel x
		var v uint64
		for b := x * bits; b < (x+1)*bits; b++ {
			v = v<<1 | uint64(row[1+b/8]>>(7-b%8)&1)
		}
		return v
	}
	var raw []byte
	for i, p := range adam7 {
		pw, ph := (h.width-p.x+p.dx-1)/p.dx, (h.height-p.y+p.dy-1)/p.dy
		if pw <= 0 || ph <= 0 {
			continue
		}
		n := (pw*bits + 7) / 8
		above := make([]byte, n)
		for py := range ph {
			row := make([]byte, n)
			for px := range pw {
				v := pixel(rows[p.y+py*p.dy], p.x+px*p.dx)
				for b := range bits {
					bit := (px*bits + b)
					row[bit/8] |= byte(v>>(bits-1-b)&1) << (7 - bit%8)
				}
			}
			ft := byte(0)
			filtered := bytes.Clone(row)
			switch {
			case py > 0 && (i+py)%2 == 0: // Up
				ft = 2
				for j := range filtered {
					filtered[j] -= above[j]
				}
			case py > 0: // Sub
				ft = 1
				for j := bpp; j < n; j++ {
					filtered[j] -= row[j-bpp]
				}
			}
			raw = append(append(raw, ft), filtered...)
			above = row
		}
	}
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(raw)
	zw.Close()

	out := []byte("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, body []byte) {
		out = binary.BigEndian.AppendUint32(out, uint32(len(body)))
		start := len(out)
		out = append(append(out, typ...), body...)
		out = binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(out[start:]))
	}
	for pos := 8; pos < len(data); {
		n := int(binary.BigEndian.Uint32(data[pos:]))
		typ, body := string(data[pos+4:pos+8]), data[pos+8:pos+8+n]
		switch typ {
		case "IHDR":
			body = bytes.Clone(body)
			body[12] = 1
		case "IDAT":
			if pos == h.idat {
				body = z.Bytes()
			} else {
				body = nil
			}
		}
		if body != nil || typ != "IDAT" {
			chunk(typ, body)
		}
		pos += 12 + n
	}
	return out
}

// TestDecodeMatchesImagePNGOnInterlacedImages: Adam7 images of every kind, at sizes where some
// passes are empty, reduced 1 to 7-fold, against image/png's decode box-shrunk.
func TestDecodeMatchesImagePNGOnInterlacedImages(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	kinds := []string{"gray", "gray16", "rgb", "rgb16", "nrgba", "nrgba64", "paletted", "paletted16", "paletted4", "paletted2"}
	for _, kind := range kinds {
		for _, size := range [][2]int{{1, 1}, {3, 2}, {5, 9}, {37, 23}, {64, 64}} {
			var buf bytes.Buffer
			if err := png.Encode(&buf, generated(rng, kind, size[0], size[1])); err != nil {
				t.Fatal(err)
			}
			data := interlaced(t, buf.Bytes())
			if d := maxDiff(reference(t, data, 1), reference(t, buf.Bytes(), 1)); d != 0 {
				t.Fatalf("image/png decodes the interlaced copy of %s %v differently (by up to %d)", kind, size, d)
			}
			for k := 1; k <= 7; k++ {
				t.Run(fmt.Sprintf("%s %dx%d interlaced, reduced %d-fold", kind, size[0], size[1], k), func(t *testing.T) {
					got, err := Decode(data, k)
					if err != nil {
						t.Fatalf("Decode: %v", err)
					}
					want := reference(t, data, k)
					if d := maxDiff(got, want); d > 1 {
						t.Errorf("Decode is %v and differs from the reference (%v) by up to %d; want at most 1", got.Rect.Size(), want.Rect.Size(), d)
					}
				})
			}
		}
	}
}
