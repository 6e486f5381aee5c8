package thumb

import (
	"context"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/thumbq/thumbq/worker/failure"
)

var samplesOut = flag.String("samples-out", "", "write the thumbnails of worker/samples to this folder, to look at them")

// TestSamples makes a thumbnail of every file in worker/samples, the images `make run` uses by
// default: photographs give thumbnails of the displayed shape, notes.txt a not-an-image error.
func TestSamples(t *testing.T) {
	want := map[string]struct {
		w, h   int
		reason failure.Code
	}{
		"IMG 0001 (copy)+final.jpg":        {64, 43, ""}, // orientation 8, stored upright-portrait
		"albums/été/φωτο.jpg":              {43, 64, ""},
		"dogs-portrait.webp":               {43, 64, ""},
		"landscape-16bit.png":              {64, 43, ""},
		"landscape-orientation-5.tiff":     {64, 43, ""},
		"landscape.gif":                    {64, 43, ""},
		"mountain-panorama.jpg":            {64, 12, ""},
		"phone-portrait-orientation-6.jpg": {43, 64, ""},
		"sunset-cmyk.jpg":                  {64, 43, ""},
		"notes.txt":                        {0, 0, failure.NotImage},
		"LICENSE-exif-orientation":         {0, 0, failure.NotImage},
		"README.md":                        {0, 0, failure.NotImage},
	}
	root := filepath.Join("..", "samples")
	seen := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		name := filepath.ToSlash(strings.TrimPrefix(path, root+string(filepath.Separator)))
		w, ok := want[name]
		if !ok {
			t.Errorf("samples/%s is not listed in TestSamples", name)
			return nil
		}
		seen++
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		t.Run(name, func(t *testing.T) {
			if w.reason != "" {
				_, err := Make(context.Background(), data, Options{})
				if err == nil || codeOf(t, err) != w.reason {
					t.Errorf("Make(%s) = %v; want %s", name, err, w.reason)
				}
				return
			}
			res, _ := mustMake(t, data, Options{})
			if res.Width != w.w || res.Height != w.h {
				t.Errorf("Make(%s) = %dx%d; want %dx%d", name, res.Width, res.Height, w.w, w.h)
			}
			if *samplesOut != "" {
				out := filepath.Join(*samplesOut, strings.ReplaceAll(name, "/", "_")+".png")
				if err := os.WriteFile(out, res.PNG, 0o644); err != nil {
					t.Error(err)
				}
			}
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen != len(want) {
		t.Errorf("found %d of the %d files listed", seen, len(want))
	}
}
