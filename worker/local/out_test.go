package local

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

func TestPrepareOut(t *testing.T) {
	write := func(t *testing.T, dir string, names ...string) {
		t.Helper()
		for _, n := range names {
			p := filepath.Join(dir, filepath.FromSlash(n))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Run("a new folder is made", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "out")
		if removed, err := PrepareOut(dir); err != nil || len(removed) != 0 {
			t.Fatalf("PrepareOut(new) = %v, %v; want nothing removed", removed, err)
		}
		if _, err := os.Stat(filepath.Join(dir, marker)); err != nil {
			t.Errorf("no marker in the new folder: %v", err)
		}
	})
	t.Run("an earlier run's output is cleared, other files kept", func(t *testing.T) {
		dir := t.TempDir()
		// A run from before the marker: report.json says whose folder it is.
		write(t, dir, "report.json", "worker.log", "64x64/old.jpg.png", "128x96/a/b.png", "notifications/old.jpg.ok.json", "notes-of-mine.txt")
		removed, err := PrepareOut(dir)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"128x96/", "64x64/", "notifications/", "report.json", "worker.log"}; !slices.Equal(removed, want) {
			t.Errorf("PrepareOut removed %v; want %v", removed, want)
		}
		left, _ := os.ReadDir(dir)
		var names []string
		for _, e := range left {
			names = append(names, e.Name())
		}
		if want := []string{marker, "notes-of-mine.txt"}; !slices.Equal(names, want) {
			t.Errorf("left %v; want %v", names, want)
		}
	})
	t.Run("another output folder inside is kept, and is no reason to refuse", func(t *testing.T) {
		dir := t.TempDir()
		write(t, dir, "serve/"+marker, "serve/64x64/a.png")
		if removed, err := PrepareOut(dir); err != nil || len(removed) != 0 {
			t.Errorf("PrepareOut(a folder holding make serve's) = %v, %v; want nothing removed, no error", removed, err)
		}
		if _, err := os.Stat(filepath.Join(dir, "serve/64x64/a.png")); err != nil {
			t.Errorf("the inner output folder lost a thumbnail: %v", err)
		}
	})
	t.Run("a folder thumbq local did not write is refused, untouched", func(t *testing.T) {
		dir := t.TempDir()
		write(t, dir, "64x64/holiday.png", "holiday.jpg")
		if _, err := PrepareOut(dir); err == nil || !strings.Contains(err.Error(), "did not write") {
			t.Errorf("PrepareOut(a folder of photos) = %v; want a refusal", err)
		}
		if _, err := os.Stat(filepath.Join(dir, "64x64/holiday.png")); err != nil {
			t.Errorf("the user's file is gone: %v", err)
		}
	})
}

// TestServeSaysHowToChooseAnotherAddress: the default port, LocalStack's, is often taken.
func TestServeSaysHowToChooseAnotherAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	err = Serve(context.Background(), Options{Addr: ln.Addr().String()})
	if !errors.Is(err, syscall.EADDRINUSE) || !strings.Contains(err.Error(), "-addr 127.0.0.1:0") || !strings.Contains(err.Error(), "ADDR=") {
		t.Errorf("Serve on a taken address = %v; want EADDRINUSE and how to choose another (-addr, ADDR=)", err)
	}
}
