package local

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/thumbq/thumbq/worker/fit"
)

// TestReportListsEverySize runs a photo through the pipeline with three sizes: report.json lists
// each size with its file on disk and its size, the first one also in the entry's own fields.
func TestReportListsEverySize(t *testing.T) {
	images := writeFiles(t, map[string][]byte{"photo.jpg": jpegOf(800, 600)})
	boxes, err := fit.Parse("64x64,256x256:cover,100x40:fill")
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	rep, err := Run(context.Background(), Options{Images: images, Out: out, Sizes: boxes, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var onDisk Report
	if err := json.Unmarshal(b, &onDisk); err != nil || len(onDisk.Results) != 1 || len(rep.Results) != 1 {
		t.Fatalf("report.json: %v, %d entries; want 1", err, len(onDisk.Results))
	}
	r := onDisk.Results[0]
	want := []Size{
		{Size: "64x64", Thumbnail: "64x64/photo.jpg.png", Width: 64, Height: 48},
		{Size: "256x256:cover", Thumbnail: "256x256-cover/photo.jpg.png", Width: 256, Height: 256},
		{Size: "100x40:fill", Thumbnail: "100x40-fill/photo.jpg.png", Width: 100, Height: 40},
	}
	if len(r.Thumbnails) != len(want) {
		t.Fatalf("report lists %d sizes: %+v; want %d", len(r.Thumbnails), r.Thumbnails, len(want))
	}
	for i, w := range want {
		got := r.Thumbnails[i]
		if got.Size != w.Size || got.Thumbnail != w.Thumbnail || got.Width != w.Width || got.Height != w.Height || got.URL == "" {
			t.Errorf("size %d = %+v; want %+v with a link", i, got, w)
		}
		if _, err := os.Stat(filepath.Join(out, filepath.FromSlash(got.Thumbnail))); err != nil {
			t.Errorf("size %s: %v", got.Size, err)
		}
	}
	if r.Thumbnail != want[0].Thumbnail || r.Width != 64 || r.Height != 48 {
		t.Errorf("entry's own thumbnail %s %dx%d; want the first size's", r.Thumbnail, r.Width, r.Height)
	}
}
