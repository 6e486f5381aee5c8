package thumb

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestXImageTestImages runs golang.org/x/image's own test images (from the module cache) through
// Make: each WebP, BMP and TIFF that has a PNG of the same picture beside it must look like that
// PNG's thumbnail (video-001.lossy.webp against video-001.png also checks the WebP colour
// correction against a source that libwebp never touched); the others must give a thumbnail or
// a *failure.Error.
func TestXImageTestImages(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "golang.org/x/image").Output()
	dir := filepath.Join(strings.TrimSpace(string(out)), "testdata")
	if _, statErr := os.Stat(dir); err != nil || statErr != nil {
		t.Skipf("golang.org/x/image's test images are not in the module cache: %v %v", err, statErr)
	}
	var files []string
	for _, ext := range []string{"webp", "bmp", "tiff"} {
		found, _ := filepath.Glob(filepath.Join(dir, "*."+ext))
		files = append(files, found...)
	}
	if len(files) < 20 {
		t.Fatalf("found only %d test images in %s", len(files), dir)
	}
	for _, path := range files {
		name := filepath.Base(path)
		ref, gray, limit := referencePNG(dir, name)
		title := name + " looks like " + filepath.Base(ref)
		if ref == "" {
			title = name + " gives a thumbnail or a clean error"
		}
		t.Run(title, func(t *testing.T) {
			data := mustRead(t, path)
			if ref == "" {
				checkMakeContract(t, data)
				return
			}
			_, got := mustMake(t, data, Options{})
			_, want := mustMake(t, mustRead(t, ref), Options{})
			if gray {
				got, want = toGray(got), toGray(want)
			}
			if d := meanDiff(got, want); d > limit {
				t.Errorf("thumbnail of %s differs from %s's by %.2f; want at most %.1f", name, filepath.Base(ref), d, limit)
			} else {
				t.Logf("mean difference %.2f", d)
			}
		})
	}
}

// referencePNG names the PNG of the same picture as an x/image test image, whether to compare
// only luma, and the mean difference allowed; "" when there is none (yellow_rose.lossy.webp,
// for one, dropped the PNG's alpha).
func referencePNG(dir, name string) (ref string, gray bool, limit float64) {
	stem := name[:strings.IndexByte(name, '.')]
	limit = 1
	switch {
	case strings.Contains(name, ".lossy."):
		limit = 4
		if stem == "yellow_rose" && !strings.Contains(name, "alpha") {
			return "", false, 0
		}
	case strings.HasPrefix(name, "gopher-doc."):
		stem = strings.TrimSuffix(name, ".lossless.webp")
	case strings.HasPrefix(name, "bw-"):
		stem = "bw-gopher"
	case strings.HasPrefix(name, "video-001"):
		gray = strings.Contains(name, "gray")
		if strings.Contains(name, "paletted") {
			limit = 3
		}
		stem = "video-001"
	}
	if p := filepath.Join(dir, stem+".png"); fileExists(p) {
		return p, gray, limit
	}
	return "", false, 0
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }
