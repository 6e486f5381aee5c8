package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/thumbq/thumbq/worker/failure"
)

func heifFixture(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("thumb", "heif", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestHEIFIsDecodedWholeInAChildProcess runs the built binary's decode-heif as the worker does:
// an 800x533 AVIF without a thumbnail item reduced by 4, then the same under a memory limit it
// cannot fit in, then under a deadline it cannot meet.
func TestHEIFIsDecodedWholeInAChildProcess(t *testing.T) {
	data := heifFixture(t, "no-thumbnail.avif")
	decode := childDecoder(binary)

	t.Run("within its limits it gives the reduced image", func(t *testing.T) {
		img, err := decode(context.Background(), data, 4, 256<<20)
		if err != nil {
			t.Fatalf("decode = %v; want a 200x133 image", err)
		}
		if b := img.Bounds(); b.Dx() != 200 || b.Dy() != 133 {
			t.Errorf("decode = %dx%d; want 200x133", b.Dx(), b.Dy())
		}
	})
	t.Run("over its memory limit it fails as too-much-memory", func(t *testing.T) {
		_, err := decode(context.Background(), data, 4, 40<<20)
		if f := failure.As(err); f == nil || f.Code != failure.TooMuchMemory {
			t.Errorf("decode with 40 MB = %v; want %s", err, failure.TooMuchMemory)
		}
	})
	t.Run("past its deadline it is killed", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := decode(ctx, data, 4, 256<<20)
		if !errors.Is(err, context.DeadlineExceeded) || failure.As(err) != nil {
			t.Errorf("decode past its deadline = %v; want a transient error wrapping the deadline", err)
		}
	})
	t.Run("a file that is no HEIF is corrupt", func(t *testing.T) {
		_, err := decode(context.Background(), []byte("not a HEIF file at all"), 1, 256<<20)
		if f := failure.As(err); f == nil || f.Code != failure.Corrupt {
			t.Errorf("decode(text) = %v; want %s", err, failure.Corrupt)
		}
	})
}

// TestThumbnailOfHEIFWithAndWithoutItem: thumbq thumbnail makes a HEIC's from its thumbnail item
// and an AVIF's without one through its child process.
func TestThumbnailOfHEIFWithAndWithoutItem(t *testing.T) {
	out := t.TempDir()
	cmd := exec.Command(binary, "thumbnail", "-out", out,
		filepath.Join("thumb", "heif", "testdata", "thumbnail-item.heic"), filepath.Join("thumb", "heif", "testdata", "no-thumbnail.avif"))
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("thumbq thumbnail: %v\n%s", err, b)
	}
	for _, name := range []string{"thumbnail-item.heic.png", "no-thumbnail.avif.png"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Errorf("no %s: %v\n%s", name, err, b)
		}
	}
}

// TestDecodeHEIFIsHidden: the child's subcommand is not offered in the help.
func TestDecodeHEIFIsHidden(t *testing.T) {
	out, _ := exec.Command(binary, "--help").CombinedOutput()
	if strings.Contains(string(out), "decode-heif") {
		t.Errorf("thumbq --help lists decode-heif:\n%s", out)
	}
}

// TestProductionBuildIsStatic: the container's build (see Dockerfile) leaves out purego, which
// gen2brain's decoders use to load a system libheif/libavif and which links libc even with CGO
// off: the distroless image has none.
func TestProductionBuildIsStatic(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-tags", "nolocal,nodynamic", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "github.com/ebitengine/purego") {
		t.Error("the production build (-tags nolocal,nodynamic) depends on purego")
	}
	df, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(df), "-tags nolocal,nodynamic") {
		t.Error("the Dockerfile does not build with -tags nolocal,nodynamic")
	}
}
