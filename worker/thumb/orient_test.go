package thumb

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/jpeg"
	"image/png"
	"testing"
)

// TestEveryOrientationLooksUpright makes thumbnails of the sixteen photographs of
// testdata/orientation (from recurser/exif-orientation-examples, downscaled keeping their EXIF):
// each stores the same picture turned or mirrored as its tag says, so once oriented each must
// look like the upright Landscape_1 / Portrait_1 and, of the eight ways to turn that picture, be
// closest to the untouched one.
func TestEveryOrientationLooksUpright(t *testing.T) {
	for _, shape := range []string{"Landscape", "Portrait"} {
		_, upright := mustMake(t, readFile(t, "orientation/"+shape+"_1.jpg"), Options{})
		uw, uh := upright.Bounds().Dx(), upright.Bounds().Dy()
		if (uw > uh) != (shape == "Landscape") {
			t.Fatalf("%s_1 gives %dx%d; want a %s shape", shape, uw, uh, shape)
		}
		for n := 0; n <= 8; n++ {
			file := fmt.Sprintf("%s_%d.jpg", shape, n)
			wantOrientation := max(n, 1)
			t.Run(fmt.Sprintf("%s with orientation %d looks like %s_1", shape, n, shape), func(t *testing.T) {
				res, got := mustMake(t, readFile(t, "orientation/"+file), Options{})
				if res.Orientation != wantOrientation {
					t.Errorf("Make(%s).Orientation = %d; want %d", file, res.Orientation, wantOrientation)
				}
				if res.Width != uw || res.Height != uh {
					t.Fatalf("Make(%s) = %dx%d; want %dx%d like %s_1", file, res.Width, res.Height, uw, uh, shape)
				}
				d := meanDiff(got, upright)
				if d > 4 {
					t.Errorf("thumbnail of %s differs from %s_1's by %.2f on average; want at most 4", file, shape, d)
				}
				// The picture turned any other way must be further away than it is.
				for o := 2; o <= 8; o++ {
					other := transform(upright.(*image.RGBA), o)
					if od := meanDiff(got, other); od <= d {
						t.Errorf("thumbnail of %s is closer to %s_1 under orientation %d (%.2f) than upright (%.2f)", file, shape, o, od, d)
					}
				}
			})
		}
	}
}

// TestPNGExifOrientationIsApplied stores the pixels of Landscape_8 in a PNG with an eXIf chunk
// (big-endian TIFF, unlike the JPEG fixtures) saying 8.
func TestPNGExifOrientationIsApplied(t *testing.T) {
	stored, err := jpeg.Decode(bytes.NewReader(readFile(t, "orientation/Landscape_8.jpg")))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, stored); err != nil {
		t.Fatal(err)
	}
	data := insertPNGChunk(buf.Bytes(), "eXIf", tiffWithOrientation(binary.BigEndian, 3, 8))
	_, upright := mustMake(t, readFile(t, "orientation/Landscape_1.jpg"), Options{})
	res, got := mustMake(t, data, Options{})
	if res.Orientation != 8 {
		t.Errorf("Orientation = %d; want 8", res.Orientation)
	}
	if d := meanDiff(got, upright); d > 4 {
		t.Errorf("thumbnail differs from Landscape_1's by %.2f; want at most 4", d)
	}
}

func TestTIFFOrientationTag(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		want int
	}{
		{"little-endian SHORT 6", tiffWithOrientation(binary.LittleEndian, 3, 6), 6},
		{"big-endian SHORT 3", tiffWithOrientation(binary.BigEndian, 3, 3), 3},
		{"a LONG 8 (written by a few tools)", tiffWithOrientation(binary.LittleEndian, 4, 8), 8},
		{"a RATIONAL is ignored", tiffWithOrientation(binary.LittleEndian, 5, 8), 0},
		{"a truncated IFD gives none", tiffWithOrientation(binary.BigEndian, 3, 6)[:20], 0},
		{"no TIFF header gives none", []byte("Exif\x00\x00MM\x00*"), 0},
		{"an IFD offset past the end gives none", []byte("II*\x00\xff\xff\xff\x7f"), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tiffOrientation(tt.data); got != tt.want {
				t.Errorf("tiffOrientation = %d; want %d", got, tt.want)
			}
		})
	}
	t.Run("an out of range tag leaves the orientation at 1", func(t *testing.T) {
		_, upright := mustMake(t, readFile(t, "orientation/Landscape_1.jpg"), Options{})
		stored, err := jpeg.Decode(bytes.NewReader(readFile(t, "orientation/Landscape_1.jpg")))
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		png.Encode(&buf, stored)
		res, got := mustMake(t, insertPNGChunk(buf.Bytes(), "eXIf", tiffWithOrientation(binary.LittleEndian, 3, 9)), Options{})
		if res.Orientation != 1 || meanDiff(got, upright) > 4 {
			t.Errorf("Orientation = %d; want 1 and the stored picture", res.Orientation)
		}
	})
}

// tiffWithOrientation builds a TIFF structure whose IFD0 holds one other tag and then Orientation.
func tiffWithOrientation(order binary.ByteOrder, typ uint16, value uint32) []byte {
	b := make([]byte, 8+2+2*12+4)
	if order == binary.LittleEndian {
		copy(b, "II*\x00")
	} else {
		copy(b, "MM\x00*")
	}
	order.PutUint32(b[4:], 8)
	order.PutUint16(b[8:], 2)
	e := b[10:]
	order.PutUint16(e[0:], 0x010f) // Make
	order.PutUint16(e[2:], 2)
	order.PutUint32(e[4:], 1)
	e = b[22:]
	order.PutUint16(e[0:], 0x0112)
	order.PutUint16(e[2:], typ)
	order.PutUint32(e[4:], 1)
	if typ == 3 {
		order.PutUint16(e[8:], uint16(value))
	} else {
		order.PutUint32(e[8:], value)
	}
	return b
}

// insertPNGChunk puts a chunk right after IHDR.
func insertPNGChunk(p []byte, id string, payload []byte) []byte {
	const afterIHDR = 8 + 8 + 13 + 4
	chunk := binary.BigEndian.AppendUint32(nil, uint32(len(payload)))
	chunk = append(chunk, id...)
	chunk = append(chunk, payload...)
	chunk = binary.BigEndian.AppendUint32(chunk, crc32.ChecksumIEEE(chunk[4:]))
	out := append([]byte{}, p[:afterIHDR]...)
	out = append(out, chunk...)
	return append(out, p[afterIHDR:]...)
}
