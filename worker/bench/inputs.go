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
	"strings"
)

// input is an image the engine and the tools are measured on, made once by its recipe from the
// photographs of Debian's lomiri-wallpapers package and cached in the work folder.
type input struct {
	Name   string // file name in <dir>/inputs
	About  string
	Large  bool   // 50 MP: fewer copies per run (-k50)
	Recipe string // shell command; {out} is the file to write, {dir} the inputs folder
}

const wallpapers = "/usr/share/backgrounds"

var inputs = []input{
	{Name: "jpeg-12mp.jpg", About: "12 MP baseline JPEG, 4000x3000 4:4:4 Q90 (libvips does not subsample chroma at Q90)",
		Recipe: "vips crop " + wallpapers + "/Dragonfly_by_Bolly.jpg {out}'[Q=90,strip]' 112 84 4000 3000"},
	{Name: "jpeg-progressive.jpg", About: "the same, progressive (jpegtran)",
		Recipe: "jpegtran -progressive -copy none {dir}/jpeg-12mp.jpg > {out}"},
	{Name: "jpeg-50mp.jpg", About: "50 MP baseline JPEG, 9464x5324 4:4:4 Q90", Large: true,
		Recipe: "vips resize " + wallpapers + "/Kleiber_by_Lukas_Baubkus.jpg {out}'[Q=90,strip]' 1.57"},
	{Name: "png-12mp.png", About: "12 MP PNG, 4000x3000 RGB 8-bit (the 12 MP JPEG, decoded)",
		Recipe: "vips copy {dir}/jpeg-12mp.jpg {out}"},
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
	path := filepath.Join(inDir, in.Name)
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	if err := os.MkdirAll(inDir, 0o755); err != nil {
		return "", err
	}
	tmp := filepath.Join(inDir, "partial-"+in.Name)
	script := strings.NewReplacer("{out}", shellQuote(tmp), "{dir}", shellQuote(inDir)).Replace(in.Recipe)
	fmt.Fprintf(log, "bench: making %s: %s\n", path, strings.NewReplacer("{out}", in.Name, "{dir}/", "").Replace(in.Recipe))
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "sh", "-c", "set -e; "+script)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("make %s (%s): %v: %s (make bench-deps installs the tools and wallpapers)", in.Name, in.Recipe, err, strings.TrimSpace(stderr.String()))
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

// imageSize reads the width and height of a JPEG or PNG from its header.
func imageSize(path string) (int, int, error) {
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

// fit is the size of a w x h image scaled to fit a bw x bh box, keeping its aspect ratio.
func fit(w, h, bw, bh int) (int, int) {
	if w*bh >= h*bw { // as wide as the box or wider: the width fills it
		return bw, max(1, (h*bw+w/2)/w)
	}
	return max(1, (w*bh+h/2)/h), bh
}
