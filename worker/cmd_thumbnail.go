package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/thumbq/thumbq/worker/config"
	"github.com/thumbq/thumbq/worker/fit"
	"github.com/thumbq/thumbq/worker/thumb"
)

func init() {
	commands["thumbnail"] = command{"make PNG thumbnails of local image files (try the image engine)", runThumbnail}
}

const thumbnailHelp = `
Makes a PNG thumbnail of each file with the same engine and limits as the worker, and writes it
to the output folder as <file name>.png. A folder stands for every file under it, subfolders
included; their thumbnails keep the folder's layout (-out/<path under the folder>.png). The output
folder is made when the first thumbnail is written. Prints one line per file; exits 1 if any file
failed.

-sizes takes the worker's THUMBQ_SIZES list, such as 64x64,256x256:cover: the file is decoded
once and each size written; with more than one size each goes under its key prefix, as in the
thumbnail bucket (-out/64x64/<name>.png, -out/256x256-cover/<name>.png).
`

func runThumbnail(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	r, err := parseThumbnailArgs(args, stderr)
	if err != nil {
		return err
	}
	var failed int
	start := time.Now()
	taken := map[string]string{} // output name -> the file that took it
	var buf bytes.Buffer
	for _, in := range r.inputs {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !r.thumbnailInput(ctx, in, taken, &buf, stdout) {
			failed++
		}
	}
	n := len(r.inputs)
	fmt.Fprintf(stdout, "%d %s: %d ok, %d failed in %s\n", n, plural(n, "file", "files"), n-failed, failed, time.Since(start).Round(time.Millisecond))
	if failed > 0 {
		return fmt.Errorf("%d of %d %s failed", failed, n, plural(n, "file", "files"))
	}
	return nil
}

// thumbnailRun is what a thumbnail command line asks for: the files, the engine's options, the
// output folder and whether to print only failures.
type thumbnailRun struct {
	inputs []input
	opts   thumb.Options
	out    string
	quiet  bool
}

// parseThumbnailArgs reads and checks the command line; a bad flag is errUsage, after a line on
// stderr that names it.
func parseThumbnailArgs(args []string, stderr io.Writer) (thumbnailRun, error) {
	fs := newFlags("thumbnail", "[flags] FILE...", thumbnailHelp, stderr)
	width := fs.Int("width", config.DefaultThumbWidth, "width of the box the thumbnail fits in (when -sizes is not given)")
	height := fs.Int("height", config.DefaultThumbHeight, "height of the box")
	sizes := fs.String("sizes", "", "thumbnails to make, as THUMBQ_SIZES: WxH[:contain|cover|fill|pad][:enlarge],... (instead of -width/-height)")
	maxPixels := fs.Int64("max-pixels", config.DefaultMaxPixels, "refuse images with more pixels than this")
	out := fs.String("out", ".", "folder the thumbnails are written to")
	quiet := fs.Bool("quiet", false, "print only failures and the summary")
	if err := parse(fs, args); err != nil {
		return thumbnailRun{}, err
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "thumbq thumbnail: name at least one file")
		fs.Usage()
		return thumbnailRun{}, errUsage
	}
	if err := checkThumbnailLimits(*width, *height, *maxPixels, stderr); err != nil {
		return thumbnailRun{}, err
	}
	inputs, err := thumbnailInputs(fs.Args())
	if err != nil {
		return thumbnailRun{}, err
	}
	r := thumbnailRun{
		inputs: inputs,
		opts:   thumb.Options{Width: *width, Height: *height, MaxPixels: *maxPixels},
		out:    *out,
		quiet:  *quiet,
	}
	if *sizes != "" {
		if r.opts.Sizes, err = thumbnailSizes(fs, *sizes, stderr); err != nil {
			return thumbnailRun{}, err
		}
	}
	return r, nil
}

// checkThumbnailLimits refuses a box side or pixel limit that the worker would not accept.
func checkThumbnailLimits(width, height int, maxPixels int64, stderr io.Writer) error {
	for _, side := range []struct {
		name string
		v    int
	}{{"width", width}, {"height", height}} {
		if side.v < config.MinThumbSide || side.v > config.MaxThumbSide {
			fmt.Fprintf(stderr, "thumbq thumbnail: -%s %d: want %d to %d, as the worker allows\n", side.name, side.v, config.MinThumbSide, config.MaxThumbSide)
			return errUsage
		}
	}
	if maxPixels < 1 {
		fmt.Fprintf(stderr, "thumbq thumbnail: -max-pixels %d: want at least 1\n", maxPixels)
		return errUsage
	}
	return nil
}

// thumbnailSizes parses -sizes, which excludes -width and -height.
func thumbnailSizes(fs *flag.FlagSet, sizes string, stderr io.Writer) ([]fit.Box, error) {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["width"] || set["height"] {
		fmt.Fprintln(stderr, "thumbq thumbnail: give -sizes or -width/-height, not both")
		return nil, errUsage
	}
	boxes, err := fit.Parse(sizes)
	if err != nil {
		fmt.Fprintf(stderr, "thumbq thumbnail: -sizes: %v\n", err)
		return nil, errUsage
	}
	return boxes, nil
}

// thumbnailInput makes the thumbnails of one input and prints its line: a FAIL line (and false)
// when it cannot be read, its name is taken by an earlier input, or the engine refuses it.
func (r thumbnailRun) thumbnailInput(ctx context.Context, in input, taken map[string]string, buf *bytes.Buffer, stdout io.Writer) bool {
	path := in.path
	if in.err != nil {
		fmt.Fprintf(stdout, "FAIL %s: %v\n", path, in.err)
		return false
	}
	t0 := time.Now()
	name := in.name + ".png"
	if other, ok := taken[name]; ok {
		fmt.Fprintf(stdout, "FAIL %s: its thumbnail %s would overwrite that of %s\n", path, name, other)
		return false
	}
	taken[name] = path
	res, err := thumbnailFile(ctx, path, r.out, filepath.FromSlash(name), r.opts, buf)
	if err != nil {
		fmt.Fprintf(stdout, "FAIL %s: %v\n", path, err)
		return false
	}
	if !r.quiet {
		made := make([]string, len(res.Thumbnails))
		for i, t := range res.Thumbnails {
			made[i] = fmt.Sprintf("%dx%d %s", t.Width, t.Height, res.paths[i])
		}
		fmt.Fprintf(stdout, "ok   %s: %s %dx%d -> %s (%s)\n", path, res.Format, res.SourceWidth, res.SourceHeight,
			strings.Join(made, ", "), time.Since(t0).Round(time.Millisecond))
	}
	return true
}

// input is one file to make a thumbnail of: its path, the name of its thumbnail under the output
// folder (without .png, slash-separated), or why it cannot be read.
type input struct {
	path, name string
	err        error
}

// thumbnailInputs expands the arguments: a file stands for itself (its thumbnail is named after
// its base name), a folder for every regular file under it (named by the path under the folder).
// A path that cannot be read is an input that fails, so that the others are still made.
func thumbnailInputs(args []string) ([]input, error) {
	var inputs []input
	for _, arg := range args {
		info, err := os.Stat(arg)
		if err != nil || !info.IsDir() {
			inputs = append(inputs, input{path: arg, name: filepath.Base(arg), err: err})
			continue
		}
		before := len(inputs)
		err = filepath.WalkDir(arg, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				inputs = append(inputs, input{path: path, err: err})
				return nil
			}
			if !d.Type().IsRegular() {
				return nil
			}
			rel, err := filepath.Rel(arg, path)
			if err != nil {
				return err
			}
			inputs = append(inputs, input{path: path, name: filepath.ToSlash(rel)})
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", arg, err)
		}
		if len(inputs) == before {
			inputs = append(inputs, input{path: arg, err: errors.New("a folder with no files")})
		}
	}
	return inputs, nil
}

type written struct {
	thumb.Result
	paths []string // one per thumbnail
}

// thumbnailFile reads path into buf (kept from file to file, so a folder of photos does not
// allocate, fault in and collect a new buffer per file) and writes its thumbnails under out: as
// out/name for one size, as out/<prefix>/name for each of several.
func thumbnailFile(ctx context.Context, path, out, name string, opts thumb.Options, buf *bytes.Buffer) (written, error) {
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
	res, err := thumb.Make(ctx, buf.Bytes(), opts)
	if err != nil {
		return written{}, err
	}
	w := written{Result: res}
	for _, t := range res.Thumbnails {
		dst := filepath.Join(out, name)
		if len(res.Thumbnails) > 1 {
			dst = filepath.Join(out, t.Box.Prefix(), name)
		}
		if strings.EqualFold(filepath.Clean(dst), filepath.Clean(path)) {
			return written{}, errors.New("the thumbnail would overwrite its source")
		}
		w.paths = append(w.paths, dst)
	}
	for i, t := range res.Thumbnails {
		if err := os.MkdirAll(filepath.Dir(w.paths[i]), 0o755); err != nil {
			return written{}, err
		}
		if err := os.WriteFile(w.paths[i], t.PNG, 0o644); err != nil {
			return written{}, err
		}
	}
	return w, nil
}
