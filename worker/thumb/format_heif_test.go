package thumb

import (
	"context"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/thumbq/thumbq/worker/failure"
	"github.com/thumbq/thumbq/worker/thumb/heif"
)

// heifFixture reads a file of package heif's testdata: 800x533 photos, thumbnail-item.* with a
// 320x212 thumbnail item (heif-enc -t 320, -A for AVIF), no-thumbnail.avif without; ten-bit*.heic,
// 480x320 and 10 bits a sample (heif-enc -q 50 -b 10 from a 16-bit PNG of photos/photo-420.jpg;
// -t 160 for the one with an item).
func heifFixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("heif", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// withFullDecoder runs the test with HEIFFullDecoder set to full. Tests of this package do not
// run in parallel.
func withFullDecoder(t *testing.T, full FullDecoder) {
	saved := HEIFFullDecoder
	HEIFFullDecoder = full
	t.Cleanup(func() { HEIFFullDecoder = saved })
}

// inProcess is a FullDecoder that decodes in this process, as the child does, and counts its calls.
func inProcess(calls *int) FullDecoder {
	return func(_ context.Context, data []byte, shrink int, limit int64) (image.Image, error) {
		*calls++
		if limit <= 0 {
			return nil, fmt.Errorf("no memory limit given")
		}
		return DecodeHEIFWhole(data, shrink)
	}
}

// vipsReference makes vipsthumbnail's thumbnail of file at exactly w x h (the "!" size: vips
// sizes a thumbnail item's thumbnail from the item, which rounds differently), or skips. With
// whole, the reference is made from the whole image (vips copy, whose heifload ignores the
// thumbnail item), as vipsthumbnail uses the item whenever it is at least the target size.
func vipsReference(t *testing.T, file string, w, h int, whole bool) image.Image {
	t.Helper()
	for _, tool := range []string{"vipsthumbnail", "vips"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (apt-get install libvips-tools): no libvips reference to compare with", tool)
		}
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "ref.png")
	in, err := filepath.Abs(file)
	if err != nil {
		t.Fatal(err)
	}
	if whole {
		full := filepath.Join(dir, "whole.png")
		if b, err := exec.Command("vips", "copy", in, full).CombinedOutput(); err != nil {
			t.Fatalf("vips copy: %v: %s", err, b)
		}
		in = full
	}
	cmd := exec.Command("vipsthumbnail", in, "-s", fmt.Sprintf("%dx%d!", w, h), "-o", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("vipsthumbnail: %v: %s", err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	img, err := decodeAny(data)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func decodeAny(data []byte) (image.Image, error) {
	img, _, err := image.Decode(strings.NewReader(string(data)))
	return img, err
}

// TestHEIFThumbnailsMatchVipsthumbnail: HEIC and AVIF thumbnails, from the thumbnail item where it
// is large enough and from the whole image otherwise, are within a small mean difference of
// libvips' (which reads both through libheif, and also uses the thumbnail item).
func TestHEIFThumbnailsMatchVipsthumbnail(t *testing.T) {
	tests := []struct {
		name      string
		file      string
		box       int
		fromItem  bool    // the thumbnail item is decoded, not the whole image
		tolerance float64 // mean difference in levels of 255, measured then rounded up
	}{
		{"a HEIC with a 320x212 item, 64 pixels: from the item", "thumbnail-item.heic", 64, true, 1.5},
		{"a HEIC with a 320x212 item, 100 pixels: from the item (it is at least 266x177, the reduced size)", "thumbnail-item.heic", 100, true, 2},
		{"a HEIC with a 320x212 item, 150 pixels: from the whole image (the reduced size would be 400x266)", "thumbnail-item.heic", 150, false, 2},
		{"an AVIF with a 320x212 item, 64 pixels: from the item", "thumbnail-item.avif", 64, true, 1.5},
		{"an AVIF without an item, 64 pixels: from the whole image", "no-thumbnail.avif", 64, false, 1.5},
		{"a portrait HEIC with a 212x320 item, 64 pixels: from the item", "portrait-exif.heic", 64, true, 1.5},
		{"a 10-bit HEIC without an item, 64 pixels: from the whole image", "ten-bit.heic", 64, false, 1.5},
		{"a 10-bit HEIC with a 160x107 item, 64 pixels: from the item", "ten-bit-item.heic", 64, true, 1.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			withFullDecoder(t, inProcess(&calls))
			opts := Options{Width: tt.box, Height: tt.box}
			res, got := mustMake(t, heifFixture(t, tt.file), opts)
			if (calls == 0) != tt.fromItem {
				t.Errorf("Make(%s, %d) decoded the whole image %d times; want from the item: %v", tt.file, tt.box, calls, tt.fromItem)
			}
			want := vipsReference(t, filepath.Join("heif", "testdata", tt.file), res.Width, res.Height, !tt.fromItem)
			if d := meanDiff(got, want); d > tt.tolerance {
				t.Errorf("thumbnail of %s (%dx%d) differs from vipsthumbnail's by %.2f on average; want at most %.1f", tt.file, res.Width, res.Height, d, tt.tolerance)
			} else {
				t.Logf("thumbnail of %s (%dx%d) differs from vipsthumbnail's by %.2f on average", tt.file, res.Width, res.Height, d)
			}
		})
	}
}

// TestHEIFWithoutAFullDecoderIsRefusedWithAReason: where the program runs no decoder process,
// a HEIF file that needs one is refused as unsupported, saying why; one with a usable item is not.
func TestHEIFWithoutAFullDecoderIsRefusedWithAReason(t *testing.T) {
	withFullDecoder(t, nil)
	_, err := Make(context.Background(), heifFixture(t, "no-thumbnail.avif"), Options{})
	if got := codeOf(t, err); got != failure.Unsupported || !strings.Contains(err.Error(), "decoded whole in a child process") {
		t.Errorf("Make(no-thumbnail.avif) = %v; want %s saying it needs the child process", err, failure.Unsupported)
	}
	if _, err := Make(context.Background(), heifFixture(t, "thumbnail-item.heic"), Options{}); err != nil {
		t.Errorf("Make(thumbnail-item.heic) = %v; want a thumbnail from its item", err)
	}
}

// TestHEIFFullDecoderErrorsArePassedOn: the decoder process's failures (its memory limit, a
// deadline) reach Make's caller as they are.
func TestHEIFFullDecoderErrorsArePassedOn(t *testing.T) {
	var gotLimit int64
	withFullDecoder(t, func(_ context.Context, _ []byte, _ int, limit int64) (image.Image, error) {
		gotLimit = limit
		return nil, failure.New(failure.TooMuchMemory, "", "over %d", limit)
	})
	data := heifFixture(t, "no-thumbnail.avif")
	_, est, err := Estimate(data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Make(context.Background(), data, Options{})
	if got := codeOf(t, err); got != failure.TooMuchMemory {
		t.Errorf("Make = %v; want %s", err, failure.TooMuchMemory)
	}
	if gotLimit <= 0 || est < gotLimit {
		t.Errorf("the decoder was given a limit of %d bytes and Estimate said %d; want a limit within the estimate", gotLimit, est)
	}
}

// TestTransformLikeAppliesThePrimaryItemsTransforms: clean aperture, then rotation
// (anticlockwise), then mirroring, on a 4x2 image whose pixels are numbered.
func TestTransformLikeAppliesThePrimaryItemsTransforms(t *testing.T) {
	src := image.NewRGBA(image.Rect(0, 0, 4, 2))
	for y := range 2 {
		for x := range 4 {
			src.Set(x, y, color.RGBA{uint8(10*y + x), 0, 0, 255})
		}
	}
	tests := []struct {
		name string
		item heif.Item
		want [][]uint8 // rows of pixel numbers as displayed
	}{
		{"no transform", heif.Item{Mirror: -1}, [][]uint8{{0, 1, 2, 3}, {10, 11, 12, 13}}},
		{"irot 1 turns a quarter anticlockwise", heif.Item{Rotation: 1, Mirror: -1}, [][]uint8{{3, 13}, {2, 12}, {1, 11}, {0, 10}}},
		{"irot 2 turns a half", heif.Item{Rotation: 2, Mirror: -1}, [][]uint8{{13, 12, 11, 10}, {3, 2, 1, 0}}},
		{"irot 3 turns a quarter clockwise", heif.Item{Rotation: 3, Mirror: -1}, [][]uint8{{10, 0}, {11, 1}, {12, 2}, {13, 3}}},
		{"imir 0 exchanges top and bottom", heif.Item{Mirror: 0}, [][]uint8{{10, 11, 12, 13}, {0, 1, 2, 3}}},
		{"imir 1 exchanges left and right", heif.Item{Mirror: 1}, [][]uint8{{3, 2, 1, 0}, {13, 12, 11, 10}}},
		{"irot 1 then imir 1", heif.Item{Rotation: 1, Mirror: 1}, [][]uint8{{13, 3}, {12, 2}, {11, 1}, {10, 0}}},
		{"a clean aperture of the middle 2x2 of an 8x4 item, scaled to the 4x2 thumbnail",
			heif.Item{Width: 8, Height: 4, Mirror: -1, Clap: &heif.Clap{WidthN: 4, WidthD: 1, HeightN: 4, HeightD: 1, HorizOffN: 0, HorizOffD: 1, VertOffN: 0, VertOffD: 1}},
			[][]uint8{{1, 2}, {11, 12}}},
		{"a clean aperture moved right by 2 item pixels, then turned",
			heif.Item{Width: 8, Height: 4, Rotation: 2, Mirror: -1, Clap: &heif.Clap{WidthN: 4, WidthD: 1, HeightN: 4, HeightD: 1, HorizOffN: 2, HorizOffD: 1, VertOffN: 0, VertOffD: 1}},
			[][]uint8{{13, 12}, {3, 2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := transformLike(src, &tt.item)
			var rows [][]uint8
			for y := got.Rect.Min.Y; y < got.Rect.Max.Y; y++ {
				var row []uint8
				for x := got.Rect.Min.X; x < got.Rect.Max.X; x++ {
					row = append(row, got.RGBAAt(x, y).R)
				}
				rows = append(rows, row)
			}
			if fmt.Sprint(rows) != fmt.Sprint(tt.want) {
				t.Errorf("transformLike = %v; want %v", rows, tt.want)
			}
		})
	}
}

// TestHEIFEstimateBoundsWhatMakeAllocates: the thumbnail item's estimate covers what Make
// allocates on the Go heap, the first time in the process (when the WebAssembly module is
// compiled) and after, and the growth of the process's resident memory outside the Go heap
// (wazero's compiled code).
func TestHEIFEstimateBoundsWhatMakeAllocates(t *testing.T) {
	for _, name := range []string{"thumbnail-item.heic", "thumbnail-item.avif", "thumbnail-item.heic", "thumbnail-item.avif"} {
		t.Run(name, func(t *testing.T) {
			withFullDecoder(t, func(context.Context, []byte, int, int64) (image.Image, error) {
				t.Fatal("the whole image was decoded; want the thumbnail item")
				return nil, nil
			})
			data := heifFixture(t, name)
			_, est, err := Estimate(data, Options{})
			if err != nil {
				t.Fatal(err)
			}
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			rssBefore := residentBytes(t)
			if _, err := Make(context.Background(), data, Options{}); err != nil {
				t.Fatal(err)
			}
			runtime.ReadMemStats(&after)
			got := int64(after.TotalAlloc - before.TotalAlloc)
			// Resident memory outside the Go heap: its growth less the heap's own (the heap's
			// pages held from the system: HeapSys less what was returned, HeapReleased; a heap
			// that reuses returned pages grows resident without growing HeapSys).
			heapHeld := func(m *runtime.MemStats) int64 { return int64(m.HeapSys) - int64(m.HeapReleased) }
			outside := residentBytes(t) - rssBefore - (heapHeld(&after) - heapHeld(&before))
			if got+max(0, outside) > est {
				t.Errorf("Make allocated %d bytes on the heap and %d outside; Estimate said %d", got, outside, est)
			} else {
				t.Logf("Make allocated %d MB on the heap and %d MB outside; Estimate said %d MB", got>>20, outside>>20, est>>20)
			}
		})
	}
}

// residentBytes is this process's resident memory (VmRSS), or skips where /proc has none.
func residentBytes(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status: resident memory cannot be measured here")
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int64
			fmt.Sscan(v, &kb)
			return kb << 10
		}
	}
	t.Skip("no VmRSS in /proc/self/status")
	return 0
}

// TestPrepareHEIFTakesTheCompilationOutOfTheEstimate: once the decoders are compiled (as thumbq
// work does at start-up), a thumbnail item's estimate no longer counts their compilation, and
// Make still allocates within it.
func TestPrepareHEIFTakesTheCompilationOutOfTheEstimate(t *testing.T) {
	if err := PrepareHEIF(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"thumbnail-item.heic", "thumbnail-item.avif"} {
		t.Run(name, func(t *testing.T) {
			data := heifFixture(t, name)
			_, est, err := Estimate(data, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if est >= heifRuntimeMemory {
				t.Errorf("Estimate(%s) = %d MB after PrepareHEIF; want less than the compilation's %d MB", name, est>>20, heifRuntimeMemory>>20)
			}
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			if _, err := Make(context.Background(), data, Options{}); err != nil {
				t.Fatal(err)
			}
			runtime.ReadMemStats(&after)
			if got := int64(after.TotalAlloc - before.TotalAlloc); got > est {
				t.Errorf("Make allocated %d bytes on the heap; Estimate said %d", got, est)
			}
		})
	}
}

// BenchmarkMakeHEIFThumbnailItem is the thumbnail of a HEIC and an AVIF from their 320x212
// thumbnail item (the size an iPhone or heif-enc -t 320 writes, whatever the photo's), the
// decoders compiled beforehand as in a running worker: what each such image costs thumbq work.
func BenchmarkMakeHEIFThumbnailItem(b *testing.B) {
	if err := PrepareHEIF(); err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"thumbnail-item.heic", "thumbnail-item.avif"} {
		b.Run(name, func(b *testing.B) {
			data := heifFixture(b, name)
			for b.Loop() {
				if _, err := Make(context.Background(), data, Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// withSize returns a copy of a HEIF file whose every ispe declares w x h.
func withSize(t *testing.T, data []byte, w, h uint32) []byte {
	t.Helper()
	out := append([]byte(nil), data...)
	n := 0
	for i := 4; i+16 <= len(out); i++ {
		if string(out[i:i+4]) == "ispe" {
			binary.BigEndian.PutUint32(out[i+8:], w)
			binary.BigEndian.PutUint32(out[i+12:], h)
			n++
		}
	}
	if n == 0 {
		t.Fatal("no ispe box in the file")
	}
	return out
}

// TestHEIFTooLargeToDecodeWholeIsRefusedFromTheHeader: an image without a thumbnail item whose
// decoder process would need more than HEIFProcessMaxMemory is refused as too-much-memory, naming
// the limit, without the whole-image decoder being run, and its estimate is not that memory.
func TestHEIFTooLargeToDecodeWholeIsRefusedFromTheHeader(t *testing.T) {
	calls := 0
	withFullDecoder(t, inProcess(&calls))
	tests := []struct {
		name string
		w, h uint32
		want failure.Code // "" for a thumbnail
	}{
		{"a 12 MP AVIF 4:4:4 is over the limit", 4032, 3024, failure.TooMuchMemory},
		{"a 1.9 MP AVIF 4:4:4 is within it", 1600, 1200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := withSize(t, heifFixture(t, "no-thumbnail.avif"), tt.w, tt.h)
			_, est, err := Estimate(data, Options{})
			if err != nil {
				t.Fatal(err)
			}
			calls = 0
			_, err = Make(context.Background(), data, Options{})
			f := failure.As(err)
			if tt.want == "" {
				// The fixture's coded image is smaller than its ispe now says: the decoder is
				// run and its answer found wanting, which is all this case needs.
				if calls != 1 {
					t.Errorf("the whole-image decoder ran %d times; want once", calls)
				}
				if est < HEIFProcessMaxMemory/2 {
					t.Errorf("Estimate = %d MB; want the child's limit counted", est>>20)
				}
				return
			}
			if f == nil || f.Code != tt.want || !strings.Contains(f.Detail(), fmt.Sprintf("%d MB limit", HEIFProcessMaxMemory>>20)) {
				t.Fatalf("Make = %v; want %s naming the %d MB limit", err, tt.want, HEIFProcessMaxMemory>>20)
			}
			if calls != 0 {
				t.Errorf("the whole-image decoder ran %d times; want it refused from the header", calls)
			}
			if est >= heifChildHeadroom {
				t.Errorf("Estimate = %d MB for a refused image; want no decoder process counted", est>>20)
			}
		})
	}
}
