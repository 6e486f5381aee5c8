package heif

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func read(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The fixtures were written by Debian's heif-enc 1.15.1 (-q 10 -t 320, which adds a thumbnail
// item as iPhones do; -A for AVIF) and avifenc 0.11.1 (no thumbnail item) from an 800x533 photo,
// and the portrait from testdata/orientation/photo-orientation-6.jpg of package thumb; the 10-bit
// ones by heif-enc -q 50 -b 10 (-t 160 for ten-bit-item.heic) from a 480x320 16-bit PNG.
func TestParseFindsThePrimaryAndItsThumbnail(t *testing.T) {
	tests := []struct {
		name               string
		file               string
		brand, config      string
		w, h               int
		thumbW, thumbH     int // 0: no thumbnail item
		thumbType, primary string
	}{
		{"a HEIC with a thumbnail item, its primary a grid of one 800x534 tile", "thumbnail-item.heic", "heic", "", 800, 533, 320, 212, "hvc1", "grid"},
		{"an AVIF with a thumbnail item", "thumbnail-item.avif", "avif", "av1C", 800, 533, 320, 212, "av01", "av01"},
		{"an AVIF without one", "no-thumbnail.avif", "avif", "av1C", 800, 533, 0, 0, "", "av01"},
		{"a portrait HEIC, turned upright by heif-enc", "portrait-exif.heic", "heic", "hvcC", 720, 1080, 212, 320, "hvc1", "hvc1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := read(t, tt.file)
			f, err := Parse(data)
			if err != nil {
				t.Fatalf("Parse(%s): %v", tt.file, err)
			}
			if f.MajorBrand != tt.brand || f.Sequence {
				t.Errorf("brand %q, sequence %v; want %q, a still image", f.MajorBrand, f.Sequence, tt.brand)
			}
			p, err := f.PrimaryItem()
			if err != nil {
				t.Fatal(err)
			}
			if p.Type == "grid" {
				if len(p.Tiles) == 0 || f.Items[p.Tiles[0]] == nil || f.Items[p.Tiles[0]].ConfigType != "hvcC" {
					t.Errorf("grid primary has tiles %v; want HEVC tiles", p.Tiles)
				}
			}
			if p.Type != tt.primary || p.ConfigType != tt.config || p.Width != tt.w || p.Height != tt.h || (tt.config != "") != (len(p.Config) > 0) {
				t.Errorf("primary = %s %s %dx%d (%d bytes of config); want %s %s %dx%d", p.Type, p.ConfigType, p.Width, p.Height, len(p.Config), tt.primary, tt.config, tt.w, tt.h)
			}
			if f.HasAlpha(p.ID) {
				t.Errorf("HasAlpha = true; want false")
			}
			thumbs := f.Thumbnails(p.ID)
			if tt.thumbW == 0 {
				if len(thumbs) != 0 {
					t.Errorf("%d thumbnails; want none", len(thumbs))
				}
				return
			}
			if len(thumbs) != 1 || thumbs[0].Width != tt.thumbW || thumbs[0].Height != tt.thumbH || thumbs[0].Type != tt.thumbType {
				t.Fatalf("thumbnails = %v; want one %s of %dx%d", thumbs, tt.thumbType, tt.thumbW, tt.thumbH)
			}
			th := thumbs[0]
			coded, err := f.Data(data, th, 1<<20)
			if err != nil || len(coded) == 0 {
				t.Fatalf("Data(thumbnail) = %d bytes, %v", len(coded), err)
			}
			single, err := f.Single(data, th, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			g, err := Parse(single)
			if err != nil {
				t.Fatalf("Parse(Single(thumbnail)): %v", err)
			}
			q, err := g.PrimaryItem()
			if err != nil {
				t.Fatal(err)
			}
			got, err := g.Data(single, q, 1<<20)
			if err != nil || !bytes.Equal(got, coded) || !bytes.Equal(q.Config, th.Config) || q.Width != th.Width || q.Height != th.Height || len(g.Items) != 1 {
				t.Errorf("Single(thumbnail) parses as %d items, primary %dx%d, %d bytes of data (%v); want the thumbnail's %dx%d and %d bytes alone",
					len(g.Items), q.Width, q.Height, len(got), err, th.Width, th.Height, len(coded))
			}
		})
	}
}

func TestParseRefusesBrokenFilesWithoutPanicking(t *testing.T) {
	data := read(t, "thumbnail-item.heic")
	for n := range len(data) {
		f, err := Parse(data[:n])
		if err == nil {
			// A cut inside the mdat leaves the boxes whole: Data must refuse what was cut off.
			for _, it := range f.Items {
				for _, e := range it.Extents {
					if _, derr := f.Data(data[:n], it, 1<<20); !it.inIdat && e.Offset+e.Length > uint64(n) && derr == nil {
						t.Fatalf("Data of item %d from the first %d bytes succeeded; its extent ends at %d", it.ID, n, e.Offset+e.Length)
					}
				}
			}
			continue
		}
		var fe FormatError
		var ue UnsupportedError
		if !errors.As(err, &fe) && !errors.As(err, &ue) {
			t.Fatalf("Parse of the first %d bytes: %T %v; want a FormatError", n, err, err)
		}
	}
}

func TestSequencesAreRecognised(t *testing.T) {
	data := read(t, "thumbnail-item.heic")
	// A file announcing an image sequence by its brand, its still image kept.
	seq := bytes.Clone(data)
	copy(seq[8:12], "msf1")
	f, err := Parse(seq)
	if err != nil || !f.Sequence {
		t.Errorf("Parse(msf1 brand) = sequence %v, %v; want a sequence", f != nil && f.Sequence, err)
	}
	// A sequence with no meta box at all: no still image.
	moov := append(box("ftyp", []byte("msf1"), u32(0), []byte("msf1")), box("moov")...)
	if _, err := Parse(moov); !errors.As(err, new(UnsupportedError)) {
		t.Errorf("Parse(ftyp msf1 + moov) = %v; want an UnsupportedError", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"thumbnail-item.heic", "thumbnail-item.avif", "no-thumbnail.avif"} {
		f.Add(read(f, name))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data)
		if err != nil {
			return
		}
		for _, it := range file.Items {
			it.DisplaySize()
			if _, err := file.Data(data, it, 1<<20); err == nil && it.Config != nil {
				if _, err := file.Single(data, it, 1<<20); err != nil {
					t.Fatalf("Single of item %d with readable data: %v", it.ID, err)
				}
			}
		}
		file.Thumbnails(file.Primary)
	})
}

// TestImirReadsTheAxis: an imir property's low bit is its axis (0 top-bottom, 1 left-right, as
// the HEIF standard's second edition says and libheif applies; package thumb's transformLike
// turns it into Exif 4 or 2); the seven reserved bits above it are ignored, and an item
// without imir keeps -1.
func TestImirReadsTheAxis(t *testing.T) {
	tests := []struct {
		name string
		body []byte // nil: no imir property
		want int
	}{
		{"no imir leaves no mirroring", nil, -1},
		{"axis 0 exchanges top and bottom", []byte{0x00}, 0},
		{"axis 1 exchanges left and right", []byte{0x01}, 1},
		{"reserved bits set are ignored", []byte{0xfe}, 0},
		{"reserved bits and axis 1", []byte{0x81}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			it := &Item{ID: 1, Mirror: -1}
			if tt.body != nil {
				if err := it.setProperty("imir", tt.body); err != nil {
					t.Fatal(err)
				}
			}
			if it.Mirror != tt.want {
				t.Errorf("imir %x: Mirror = %d; want %d", tt.body, it.Mirror, tt.want)
			}
		})
	}
}
