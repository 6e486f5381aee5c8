package main

import (
	"bytes"
	"image"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestThumbnailCommandSizes: -sizes makes every size of a 4:3 photo from one run, each under its
// key prefix; a bad list or -sizes with -width is a usage error naming what is wrong.
func TestThumbnailCommandSizes(t *testing.T) {
	dir := t.TempDir()
	var b bytes.Buffer
	jpeg.Encode(&b, gradient(800, 600), nil)
	photo := filepath.Join(dir, "photo.jpg")
	os.WriteFile(photo, b.Bytes(), 0o644)
	out := filepath.Join(dir, "out")
	res, err := exec.Command(binary, "thumbnail", "--sizes", "64x64,256x256:cover", "-out", out, photo).CombinedOutput()
	if err != nil {
		t.Fatalf("thumbq thumbnail --sizes: %v\n%s", err, res)
	}
	for _, want := range []struct {
		path string
		w, h int
	}{{"64x64/photo.jpg.png", 64, 48}, {"256x256-cover/photo.jpg.png", 256, 256}} {
		f, err := os.Open(filepath.Join(out, filepath.FromSlash(want.path)))
		if err != nil {
			t.Errorf("no %s: %v\n%s", want.path, err, res)
			continue
		}
		cfg, _, err := image.DecodeConfig(f)
		f.Close()
		if err != nil || cfg.Width != want.w || cfg.Height != want.h {
			t.Errorf("%s is %dx%d (%v); want %dx%d", want.path, cfg.Width, cfg.Height, err, want.w, want.h)
		}
	}
	for _, args := range [][]string{{"-sizes", "64x64:crop"}, {"-sizes", "64x64", "-width", "32"}, {"-sizes", "0x64"}} {
		t.Run("refuses "+strings.Join(args, " "), func(t *testing.T) {
			cmd := exec.Command(binary, append(append([]string{"thumbnail"}, args...), photo)...)
			res, _ := cmd.CombinedOutput()
			if code := cmd.ProcessState.ExitCode(); code != 2 || !strings.Contains(string(res), "-sizes") {
				t.Errorf("thumbq thumbnail %s exited %d; want 2 (usage) naming -sizes\n%s", strings.Join(args, " "), code, res)
			}
		})
	}
}
