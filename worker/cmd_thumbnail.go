package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/thumbq/thumbq/worker/config"
	"github.com/thumbq/thumbq/worker/thumb"
)

func init() {
	commands["thumbnail"] = command{"make PNG thumbnails of local image files (try the image engine)", runThumbnail}
}

const thumbnailHelp = `
Makes a PNG thumbnail of each file with the same engine and limits as the worker, and writes it
to the output folder as <file name>.png. Prints one line per file; exits 1 if any file failed.
`

func runThumbnail(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("thumbnail", "[flags] FILE...", thumbnailHelp, stderr)
	width := fs.Int("width", config.DefaultThumbWidth, "width of the box the thumbnail fits in")
	height := fs.Int("height", config.DefaultThumbHeight, "height of the box")
	maxPixels := fs.Int64("max-pixels", config.DefaultMaxPixels, "refuse images with more pixels than this")
	out := fs.String("out", ".", "folder the thumbnails are written to")
	quiet := fs.Bool("quiet", false, "print only failures and the summary")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "thumbq thumbnail: name at least one file")
		fs.Usage()
		return errUsage
	}
	if *width < 1 || *height < 1 {
		fmt.Fprintln(stderr, "thumbq thumbnail: -width and -height must be at least 1")
		return errUsage
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	opts := thumb.Options{Width: *width, Height: *height, MaxPixels: *maxPixels}
	var failed int
	start := time.Now()
	taken := map[string]string{} // output name -> the file that took it
	var buf bytes.Buffer
	for _, path := range fs.Args() {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		t0 := time.Now()
		name := filepath.Base(path) + ".png"
		if other, ok := taken[name]; ok {
			failed++
			fmt.Fprintf(stdout, "FAIL %s: its thumbnail %s would overwrite that of %s\n", path, name, other)
			continue
		}
		taken[name] = path
		res, err := thumbnailFile(path, filepath.Join(*out, name), opts, &buf)
		if err != nil {
			failed++
			fmt.Fprintf(stdout, "FAIL %s: %v\n", path, err)
			continue
		}
		if !*quiet {
			fmt.Fprintf(stdout, "ok   %s: %s %dx%d -> %dx%d %s (%s)\n", path, res.Format, res.SourceWidth, res.SourceHeight,
				res.Width, res.Height, res.path, time.Since(t0).Round(time.Millisecond))
		}
	}
	n := fs.NArg()
	fmt.Fprintf(stdout, "%d files: %d ok, %d failed in %s\n", n, n-failed, failed, time.Since(start).Round(time.Millisecond))
	if failed > 0 {
		return fmt.Errorf("%d of %d files failed", failed, n)
	}
	return nil
}

type written struct {
	thumb.Result
	path string
}

// thumbnailFile reads path into buf (kept from file to file, so a folder of photos does not
// allocate, fault in and collect a new buffer per file) and writes its thumbnail to dst.
func thumbnailFile(path, dst string, opts thumb.Options, buf *bytes.Buffer) (written, error) {
	f, err := os.Open(path)
	if err != nil {
		return written{}, err
	}
	buf.Reset()
	if info, err := f.Stat(); err == nil {
		buf.Grow(int(info.Size()) + bytes.MinRead) // one allocation of the right size, not doublings
	}
	_, err = buf.ReadFrom(f)
	f.Close()
	if err != nil {
		return written{}, err
	}
	res, err := thumb.Make(buf.Bytes(), opts)
	if err != nil {
		return written{}, err
	}
	if strings.EqualFold(filepath.Clean(dst), filepath.Clean(path)) {
		return written{}, errors.New("the thumbnail would overwrite its source")
	}
	if err := os.WriteFile(dst, res.PNG, 0o644); err != nil {
		return written{}, err
	}
	return written{res, dst}, nil
}
