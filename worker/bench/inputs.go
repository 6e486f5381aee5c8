package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // DecodeConfig of the inputs and thumbnails
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/thumbq/thumbq/worker/fit"
	"github.com/thumbq/thumbq/worker/thumb/heif"
)

// input is an image the engine and the tools are measured on, made once by its recipe from the
// photographs of Debian's lomiri-wallpapers package and cached in the work folder.
type input struct {
	Name  string // file name in <dir>/inputs, or the row's name when it measures From's file
	About string // what the input is, for the results
	Note  string // what to keep in mind reading its rows, for the results
	// Slow inputs (the 50 MP JPEG, HEIC and AVIF decoded whole) cost up to seconds per image:
	// fewer copies per run (-k50).
	Slow   bool
	Recipe string // shell command; {out} is the file to write, {dir} the inputs folder
	// From is the input the recipe reads, made first when missing. Without a recipe, the row
	// measures From's file itself, with other Sizes.
	From string
	// Sizes is the list of thumbnails each tool makes, as THUMBQ_SIZES; "" is one 64x64 box.
	Sizes string
	// Tools are the names of the tools measured on this row; nil is every tool.
	Tools []string
}

const wallpapers = "/usr/share/backgrounds"

var inputs = []input{
	{Name: "jpeg-12mp.jpg", About: "12 MP baseline JPEG, 4000x3000 4:4:4 Q90 (libvips does not subsample chroma at Q90)",
		Recipe: "vips crop " + wallpapers + "/Dragonfly_by_Bolly.jpg {out}'[Q=90,strip]' 112 84 4000 3000"},
	{Name: "jpeg-progressive.jpg", About: "the same, progressive (jpegtran)", From: "jpeg-12mp.jpg",
		Recipe: "jpegtran -progressive -copy none {dir}/jpeg-12mp.jpg > {out}"},
	{Name: "jpeg-50mp.jpg", About: "50 MP baseline JPEG, 9464x5324 4:4:4 Q90", Slow: true,
		Recipe: "vips resize " + wallpapers + "/Kleiber_by_Lukas_Baubkus.jpg {out}'[Q=90,strip]' 1.57"},
	{Name: "png-12mp.png", About: "12 MP PNG, 4000x3000 RGB 8-bit (the 12 MP JPEG, decoded)", From: "jpeg-12mp.jpg",
		Recipe: "vips copy {dir}/jpeg-12mp.jpg {out}"},
	{Name: "heic-12mp-thumb.heic", About: "the 12 MP JPEG as HEIC (heif-enc: x265, 4:2:0, quality 50) with a 320x240 thumbnail item (-t 320), as iPhones write one",
		From: "jpeg-12mp.jpg", Recipe: "heif-enc -t 320 -o {out} {dir}/jpeg-12mp.jpg",
		Note: "thumbq compiles its HEIF decoder's WebAssembly module once per process (about 0.9 s of CPU, in the 1-file and the K-file run alike), which the CPU per image leaves out as it leaves out every start-up: it is what a running worker pays per image (thumbq work compiles at start-up), not what one `thumbq thumbnail` on one file costs"},
	{Name: "heic-12mp.heic", About: "the same HEIC without a thumbnail item", Slow: true,
		From: "jpeg-12mp.jpg", Recipe: "heif-enc -o {out} {dir}/jpeg-12mp.jpg",
		Note: "thumbq decodes a HEIC without a usable thumbnail item whole, in a child process, only within the limits the README states (HEIC 4:2:0 up to 11.98 MP) and refuses one over them from its header; vipsthumbnail decodes it whole"},
	{Name: "avif-12mp.avif", About: "the 12 MP JPEG as AVIF (avifenc -s 8 -y 420: aom, 4:2:0), without a thumbnail item (avifenc writes none)", Slow: true,
		From: "jpeg-12mp.jpg", Recipe: "avifenc -s 8 -y 420 {dir}/jpeg-12mp.jpg {out}",
		Note: "thumbq decodes an AVIF without a thumbnail item whole, in a child process, only within the limits the README states (AVIF 4:2:0 up to 4.93 MP) and refuses one over them from its header"},
	{Name: "jpeg-12mp-3-sizes", About: "the 12 MP JPEG made into three sizes: thumbq -sizes in one run, and one run per size",
		From: "jpeg-12mp.jpg", Sizes: "64x64,256x256:cover,1024x1024:contain", Tools: []string{ours, oursPerSize, "vipsthumbnail"},
		Note: "Its sizes are 64x48, 256x256 (cover: `vipsthumbnail -m centre`) and 1024x768; a run per size adds up the runs' CPU and keeps the largest peak; thumbq -sizes decodes once, reduced only as far as the largest size allows, where its 64x64 run alone decodes at 1/8"},
}

// probes are the recipes of a small file in each format that some reference tools cannot read
// ({tiny} is the 16x16 PNG): a tool that cannot make its thumbnail is reported as unable to read
// the format, and not timed on the format's inputs.
var probes = map[string]string{
	".heic": "heif-enc -o {out} {tiny}",
	".avif": "avifenc {tiny} {out}",
}

// photo is what the pipeline runs upload: a 2 MP photograph.
var photo = input{Name: "photo-2mp.jpg", About: "2 MP JPEG, 1920x1080 Q85",
	Recipe: "vips thumbnail " + wallpapers + "/Bridge_by_Sander_Klootwijk.jpg {out}'[Q=85,strip]' 1920"}

func inputNames() []string {
	names := make([]string, len(inputs))
	for i, in := range inputs {
		names[i] = in.Name
	}
	return names
}

// ensureInput makes <inDir>/<name> by its recipe unless it exists, and returns its path. The
// recipe writes to a temporary name (same extension, so vips picks the format), renamed once
// complete, so an interrupted run leaves nothing that looks cached.
func ensureInput(ctx context.Context, inDir string, in input, log io.Writer) (string, error) {
	if in.From != "" {
		i := slices.IndexFunc(inputs, func(from input) bool { return from.Name == in.From })
		if i < 0 {
			return "", fmt.Errorf("input %s is made from %s, which has no recipe", in.Name, in.From)
		}
		from, err := ensureInput(ctx, inDir, inputs[i], log)
		if err != nil || in.Recipe == "" {
			return from, err
		}
	}
	return ensureFile(ctx, filepath.Join(inDir, in.Name), in.Recipe, map[string]string{"{dir}": inDir}, log)
}

// ensureFile makes path by recipe unless it exists; vars are the recipe's other placeholders.
func ensureFile(ctx context.Context, path, recipe string, vars map[string]string, log io.Writer) (string, error) {
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	dir, name := filepath.Split(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tmp := filepath.Join(dir, "partial-"+name)
	quoted := []string{"{out}", shellQuote(tmp)}
	shown := []string{"{out}", name}
	for k, v := range vars {
		quoted = append(quoted, k, shellQuote(v))
		shown = append(shown, k+"/", "", k, filepath.Base(v))
	}
	fmt.Fprintf(log, "bench: making %s: %s\n", path, strings.NewReplacer(shown...).Replace(recipe))
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "sh", "-c", "set -e; "+strings.NewReplacer(quoted...).Replace(recipe))
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("make %s (%s): %v: %s (make bench-deps installs the tools and wallpapers)", name, recipe, err, strings.TrimSpace(stderr.String()))
	}
	return path, os.Rename(tmp, path)
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// ensureTiny writes the 16x16 PNG each tool's idle size is measured on into dir (not into the
// inputs' folder, which may be the user's).
func ensureTiny(dir string) (string, error) {
	path := filepath.Join(dir, "tiny-16x16.png")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	img := image.NewRGBA(image.Rect(0, 0, 16, 16))
	for y := range 16 {
		for x := range 16 {
			img.Set(x, y, color.RGBA{uint8(x * 16), uint8(y * 16), 128, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	return path, os.WriteFile(path, b.Bytes(), 0o644)
}

// copies makes a folder of k copies of src named in000.ext, in001.ext, ... (hard links where the
// file system allows), the names an ffmpeg image2 sequence reads, and returns their paths.
func copies(src, folder string, k int) ([]string, error) {
	if err := os.RemoveAll(folder); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(folder, 0o755); err != nil {
		return nil, err
	}
	ext := filepath.Ext(src)
	paths := make([]string, k)
	for i := range k {
		p := filepath.Join(folder, fmt.Sprintf("in%03d%s", i, ext))
		if err := os.Link(src, p); err != nil {
			if err := copyFile(src, p); err != nil {
				return nil, err
			}
		}
		paths[i] = p
	}
	return paths, nil
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}

// imageSize reads the width and height of a JPEG or PNG from its header, of a HEIC or AVIF from
// its primary item's (as displayed: after its clean aperture and rotation).
func imageSize(path string) (int, int, error) {
	switch filepath.Ext(path) {
	case ".heic", ".avif":
		data, err := os.ReadFile(path)
		if err != nil {
			return 0, 0, err
		}
		f, err := heif.Parse(data)
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %w", path, err)
		}
		it, err := f.PrimaryItem()
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %w", path, err)
		}
		w, h := it.DisplaySize()
		return w, h, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	c, _, err := image.DecodeConfig(f)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %w", path, err)
	}
	return c.Width, c.Height, nil
}

// wantSizes is the size of each box's thumbnail of a w x h image (as displayed), as the worker
// plans it: the tools are checked against it, give or take a pixel.
func wantSizes(sizes []fit.Box, w, h int) []size {
	want := make([]size, len(sizes))
	for i, b := range sizes {
		p := b.Plan(w, h)
		want[i] = size{p.CanvasW, p.CanvasH}
	}
	return want
}
