package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/thumbq/thumbq/worker/fit"
)

// box is the thumbnail box every tool is asked for on the rows without their own Sizes: the
// worker's default.
const box = 64

// defaultSizes is that box as a list.
var defaultSizes = []fit.Box{{Width: box, Height: box, Mode: fit.Contain}}

// tool makes PNG thumbnails of many files in one process.
type tool struct {
	Name    string
	Bin     string
	Version []string // argv that prints the version on its first line
	// Args is the argv after Bin that makes the thumbnails of each file into the folder out: of
	// the one box in sizes, or of every box into out/<prefix>/ (thumbq -sizes).
	Args func(files []string, out string, sizes []fit.Box) []string
	// OneSizePerRun tools make a list of sizes in one run per size, each into out/<prefix>/.
	OneSizePerRun bool
}

// ours is the name of thumbq's own row; measureEngine builds its binary (oursTool). oursPerSize
// is the same binary making a list of sizes one run per size, to compare with one run making all.
const (
	ours        = "thumbq"
	oursPerSize = "thumbq, a run per size"
)

func referenceTools() []tool {
	return []tool{
		// vipsthumbnail makes one size per run; cover is its centre crop (the worker's cover).
		{Name: "vipsthumbnail", Bin: "vipsthumbnail", Version: []string{"vips", "--version"}, OneSizePerRun: true,
			Args: func(files []string, out string, sizes []fit.Box) []string {
				b := sizes[0]
				args := []string{"-s", fmt.Sprintf("%dx%d", b.Width, b.Height)}
				if b.Mode == fit.Cover {
					args = append(args, "-m", "centre")
				}
				return append(append(args, "-o", filepath.Join(out, "%s.png")), files...)
			}},
		{Name: "ffmpeg", Bin: "ffmpeg", Version: []string{"ffmpeg", "-version"}, OneSizePerRun: true,
			// One process over an image2 sequence (in000.ext, in001.ext, ...; see copies), or, for
			// the ISOBMFF files image2 does not read (HEIC, AVIF), over one input per file.
			Args: func(files []string, out string, sizes []fit.Box) []string {
				scale := fmt.Sprintf("scale=%d:%d:force_original_aspect_ratio=decrease", sizes[0].Width, sizes[0].Height)
				args := []string{"-nostdin", "-loglevel", "error", "-y"}
				if ext := filepath.Ext(files[0]); ext == ".heic" || ext == ".avif" {
					for _, f := range files {
						args = append(args, "-i", f)
					}
					for i := range files {
						args = append(args, "-map", fmt.Sprintf("%d:v", i), "-vf", scale, filepath.Join(out, fmt.Sprintf("out%03d.png", i)))
					}
					return args
				}
				pattern := filepath.Join(filepath.Dir(files[0]), "in%03d"+filepath.Ext(files[0]))
				return append(args, "-start_number", "0", "-i", pattern, "-vf", scale, filepath.Join(out, "out%03d.png"))
			}},
		// mogrify, not convert: one process over many files, each written to its own PNG.
		{Name: "ImageMagick", Bin: "mogrify", Version: []string{"mogrify", "-version"}, OneSizePerRun: true,
			Args: func(files []string, out string, sizes []fit.Box) []string {
				return append([]string{"-path", out, "-format", "png", "-thumbnail", fmt.Sprintf("%dx%d", sizes[0].Width, sizes[0].Height)}, files...)
			}},
	}
}

// oursTools are thumbq (every size in one run) and thumbq making one size per run.
func oursTools(bin string) []tool {
	args := func(files []string, out string, sizes []fit.Box) []string {
		return append([]string{"thumbnail", "-quiet", "-out", out, "-sizes", fit.Format(sizes)}, files...)
	}
	return []tool{{Name: ours, Bin: bin, Args: args}, {Name: oursPerSize, Bin: bin, Args: args, OneSizePerRun: true}}
}

func toolNames() []string {
	names := []string{ours, oursPerSize}
	for _, t := range referenceTools() {
		names = append(names, t.Name)
	}
	return names
}

// sample is what one run of a tool cost, from its rusage.
type sample struct {
	CPU    time.Duration // user + system
	MaxRSS int64         // bytes
	Wall   time.Duration
}

// size is a thumbnail's width and height.
type size struct{ W, H int }

// runTool makes the thumbnails of sizes of files with t into out (emptied first): in one run, or
// in one run per size when t makes one size per run, whose CPU and wall times are added up and
// whose largest RSS is kept. It checks that each size has one thumbnail per file, of want's size
// for it give or take a pixel (any size when want is nil): in out for a single size, in
// out/<prefix>/ for several. A run that fails returns its error with what it cost until then.
func runTool(ctx context.Context, t tool, files []string, out string, sizes []fit.Box, want []size) (sample, error) {
	if err := os.RemoveAll(out); err != nil {
		return sample{}, err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return sample{}, err
	}
	folder := func(i int) string {
		if len(sizes) == 1 {
			return out
		}
		return filepath.Join(out, sizes[i].Prefix())
	}
	runs := [][]fit.Box{sizes}
	if t.OneSizePerRun && len(sizes) > 1 {
		runs = runs[:0]
		for i := range sizes {
			runs = append(runs, sizes[i:i+1])
		}
	}
	var total sample
	for i, run := range runs {
		dst := out
		if len(runs) > 1 {
			dst = folder(i)
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return total, err
			}
		}
		var output bytes.Buffer
		cmd := exec.CommandContext(ctx, t.Bin, t.Args(files, dst, run)...)
		cmd.Stdout, cmd.Stderr = &output, &output
		start := time.Now()
		runErr := cmd.Run()
		if cmd.ProcessState != nil {
			s, err := usage(cmd.ProcessState)
			if err != nil {
				return total, err
			}
			total.CPU += s.CPU
			total.MaxRSS = max(total.MaxRSS, s.MaxRSS)
			total.Wall += time.Since(start)
		}
		if runErr != nil {
			return total, fmt.Errorf("%s: %v: %s", t.Name, runErr, lastLines(output.String(), 3))
		}
	}
	for i := range sizes {
		w, h := 0, 0
		if want != nil {
			w, h = want[i].W, want[i].H
		}
		if err := checkThumbnails(folder(i), len(files), w, h); err != nil {
			return total, fmt.Errorf("%s: %w", t.Name, err)
		}
	}
	return total, nil
}

// checkThumbnails checks that folder holds n PNGs of wantW x wantH, give or take a pixel each way
// (tools round differently); wantW 0 checks only the number.
func checkThumbnails(folder string, n, wantW, wantH int) error {
	pngs, err := filepath.Glob(filepath.Join(folder, "*.png"))
	if err != nil {
		return err
	}
	if len(pngs) != n {
		return fmt.Errorf("made %d thumbnails of %d files", len(pngs), n)
	}
	if wantW == 0 {
		return nil
	}
	for _, p := range pngs {
		w, h, err := imageSize(p)
		if err != nil {
			return fmt.Errorf("thumbnail %s: %w", filepath.Base(p), err)
		}
		if abs(w-wantW) > 1 || abs(h-wantH) > 1 {
			return fmt.Errorf("thumbnail %s is %dx%d; want %dx%d", filepath.Base(p), w, h, wantW, wantH)
		}
	}
	return nil
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// measurement is one tool on one input.
type measurement struct {
	Input, Tool string
	PerImage    time.Duration // median over rounds of (cpu_K - cpu_1)/(K-1)
	Peak        int64         // median max RSS of the 1-file runs, bytes
	Idle        int64         // median max RSS on the 16x16 PNG, bytes
	Err         error         // the tool failed: no figures
}

func (m measurement) AboveIdle() int64 { return m.Peak - m.Idle }

// perImage is the CPU one more image costs: the K-file run less the 1-file run, over K-1.
func perImage(one, many sample, k int) time.Duration {
	return (many.CPU - one.CPU) / time.Duration(k-1)
}

func median[T int64 | time.Duration](xs []T) T {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// buildOurs builds the thumbq binary from the current tree the way worker/Dockerfile does
// (static, stripped, without the local emulators) into dir.
func buildOurs(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "bin", "thumbq")
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "nolocal", "-trimpath", "-ldflags=-s -w", "-o", bin, "./worker")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./worker: %v: %s", err, out)
	}
	return bin, nil
}

// measureEngine measures every selected tool on every selected input. A tool that fails is
// reported as failed in its row, a reference tool that cannot read the input's format as such;
// only a missing input or a failed build stops the run.
func measureEngine(ctx context.Context, o options, log io.Writer) ([]measurement, error) {
	bin, err := buildOurs(ctx, o.dir)
	if err != nil {
		return nil, err
	}
	b := &engineBench{o: o, log: log, bin: bin, tools: selectTools(append(oursTools(bin), referenceTools()...), o.tools)}
	ins := selectInputs(o.only)
	if b.tiny, err = ensureTiny(o.dir); err != nil {
		return nil, err
	}
	b.runs = filepath.Join(o.dir, "runs")
	b.out = filepath.Join(b.runs, "out")
	if err := b.measureIdle(ctx); err != nil {
		return nil, err
	}
	if err := b.probeFormats(ctx, ins); err != nil {
		return nil, err
	}
	var results []measurement
	for _, in := range ins {
		ms, err := b.measureInput(ctx, in)
		if err != nil {
			return nil, err
		}
		results = append(results, ms...)
	}
	return results, nil
}

// engineBench is what the measurements of every input share: the tools, the folders the runs
// use, and what the idle runs and the format probes found.
type engineBench struct {
	o          options
	log        io.Writer
	bin        string // thumbq's binary
	tools      []tool
	tiny       string           // the 16x16 PNG
	runs, out  string           // the folders of the copies and of the thumbnails
	idle       map[string]int64 // idle max RSS by binary
	idleErr    map[string]error // why a binary has no idle size: it is not installed or failed
	unreadable map[string]error // ext + " " + tool name: the tool cannot read the format
}

// selectTools keeps thumbq and the tools named in the comma-separated names; "" keeps all.
func selectTools(tools []tool, names string) []tool {
	if names == "" {
		return tools
	}
	want := strings.Split(names, ",")
	return slices.DeleteFunc(tools, func(t tool) bool { return t.Name != ours && !slices.Contains(want, t.Name) })
}

// selectInputs is the inputs named in the comma-separated names; "" selects all.
func selectInputs(names string) []input {
	if names == "" {
		return inputs
	}
	want := strings.Split(names, ",")
	return slices.DeleteFunc(slices.Clone(inputs), func(in input) bool { return !slices.Contains(want, in.Name) })
}

// measureIdle measures the idle size of each tool's binary: its max RSS on the 16x16 PNG.
func (b *engineBench) measureIdle(ctx context.Context) error {
	b.idle, b.idleErr = map[string]int64{}, map[string]error{}
	tinyCopy, err := copies(b.tiny, filepath.Join(b.runs, "tiny"), 1)
	if err != nil {
		return err
	}
	for _, t := range b.tools {
		if _, done := b.idle[t.Bin]; done || b.idleErr[t.Bin] != nil {
			continue
		}
		if _, err := exec.LookPath(t.Bin); err != nil {
			b.idleErr[t.Bin] = fmt.Errorf("%s not installed (make bench-deps)", t.Bin)
			continue
		}
		var rss []int64
		for range b.o.repeat {
			s, err := runTool(ctx, t, tinyCopy, b.out, defaultSizes, nil)
			if err != nil {
				b.idleErr[t.Bin] = err
				break
			}
			rss = append(rss, s.MaxRSS)
		}
		b.idle[t.Bin] = median(rss)
	}
	return nil
}

// probeFormats finds the formats of ins that some reference tools cannot read, by running each
// on a small file of the format.
func (b *engineBench) probeFormats(ctx context.Context, ins []input) error {
	b.unreadable = map[string]error{}
	probed := map[string]bool{}
	for _, in := range ins {
		ext := filepath.Ext(in.Name)
		recipe, ok := probes[ext]
		if !ok || probed[ext] {
			continue
		}
		probed[ext] = true
		if err := b.probeFormat(ctx, ext, recipe); err != nil {
			return err
		}
	}
	return nil
}

// probeFormat makes the small file of ext by its recipe and runs each reference tool on it.
func (b *engineBench) probeFormat(ctx context.Context, ext, recipe string) error {
	probe, err := ensureFile(ctx, filepath.Join(b.o.dir, "probe-16x16"+ext), recipe, map[string]string{"{tiny}": b.tiny}, b.log)
	if err != nil {
		return err
	}
	probeCopy, err := copies(probe, filepath.Join(b.runs, "probe"), 1)
	if err != nil {
		return err
	}
	for _, t := range b.tools {
		if t.Bin == b.bin || b.idleErr[t.Bin] != nil {
			continue
		}
		if _, err := runTool(ctx, t, probeCopy, b.out, defaultSizes, nil); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			b.unreadable[ext+" "+t.Name] = cannotRead{Format: strings.ToUpper(ext[1:]), Err: err}
			fmt.Fprintf(b.log, "bench: %s cannot read %s: %v\n", t.Name, ext, err)
		}
	}
	return nil
}

// row is one input's measurements in progress: its copies, sizes and tools, and what each tool
// cost in each round or why it failed.
type row struct {
	in        input
	ext       string   // of the input's file
	one, many []string // 1 copy and k copies of the input
	k         int
	sizes     []fit.Box
	want      []size
	tools     []tool
	per       map[string][]time.Duration // CPU per image by tool, a figure per round
	peak      map[string][]int64         // max RSS of the 1-file run by tool, a figure per round
	failed    map[string]error           // by tool
}

// measureInput measures every tool of in's row, rounds outermost, so that a drift of the
// machine's speed touches every tool alike.
func (b *engineBench) measureInput(ctx context.Context, in input) ([]measurement, error) {
	r, err := b.newRow(ctx, in)
	if err != nil {
		return nil, err
	}
	for round := range b.o.repeat {
		for _, t := range r.tools {
			if r.failed[t.Name] != nil {
				continue
			}
			if err := b.measureRun(ctx, r, round, t); err != nil {
				return nil, err
			}
		}
	}
	return b.measurements(r), nil
}

// newRow makes in (when missing) and its copies, and picks its sizes and tools.
func (b *engineBench) newRow(ctx context.Context, in input) (*row, error) {
	path, err := ensureInput(ctx, b.o.in, in, b.log)
	if err != nil {
		return nil, err
	}
	w, h, err := imageSize(path)
	if err != nil {
		return nil, err
	}
	r := &row{in: in, ext: filepath.Ext(path), sizes: defaultSizes, tools: rowTools(b.tools, in), k: b.o.k12,
		per: map[string][]time.Duration{}, peak: map[string][]int64{}, failed: map[string]error{}}
	if in.Sizes != "" {
		if r.sizes, err = fit.Parse(in.Sizes); err != nil {
			return nil, fmt.Errorf("input %s: %w", in.Name, err)
		}
	}
	r.want = wantSizes(r.sizes, w, h)
	if in.Slow {
		r.k = b.o.k50
	}
	if r.many, err = copies(path, filepath.Join(b.runs, "many"), r.k); err != nil {
		return nil, err
	}
	if r.one, err = copies(path, filepath.Join(b.runs, "one"), 1); err != nil {
		return nil, err
	}
	fmt.Fprintf(b.log, "bench: %s (%dx%d, %s): %d rounds of 1 and %d files per tool\n", in.Name, w, h, fit.Format(r.sizes), b.o.repeat, r.k)
	for _, t := range r.tools {
		if e := b.idleErr[t.Bin]; e != nil {
			r.failed[t.Name] = e
		} else if e := b.unreadable[r.ext+" "+t.Name]; e != nil {
			r.failed[t.Name] = e
		}
	}
	return r, nil
}

// rowTools is the tools of in's row: its own list, or else all but thumbq's run per size.
func rowTools(tools []tool, in input) []tool {
	if in.Tools != nil {
		return slices.DeleteFunc(slices.Clone(tools), func(t tool) bool { return !slices.Contains(in.Tools, t.Name) })
	}
	return slices.DeleteFunc(slices.Clone(tools), func(t tool) bool { return t.Name == oursPerSize })
}

// measureRun runs t once over 1 copy and over k copies and keeps its figures, or marks it failed.
// Only a cancelled ctx is returned.
func (b *engineBench) measureRun(ctx context.Context, r *row, round int, t tool) error {
	s1, err := runTool(ctx, t, r.one, b.out, r.sizes, r.want)
	if err == nil {
		var sk sample
		sk, err = runTool(ctx, t, r.many, b.out, r.sizes, r.want)
		r.per[t.Name] = append(r.per[t.Name], perImage(s1, sk, r.k))
		r.peak[t.Name] = append(r.peak[t.Name], s1.MaxRSS)
		fmt.Fprintf(b.log, "bench:   round %d %-13s 1 file %6.0f ms CPU %5.0f MB; %d files %6.0f ms CPU\n",
			round+1, t.Name, ms(s1.CPU), mb(s1.MaxRSS), r.k, ms(sk.CPU))
	} else if s1.Wall > 0 {
		err = fmt.Errorf("%w (1 file: %.2f s, %.0f ms CPU, %.0f MB peak)", err, s1.Wall.Seconds(), ms(s1.CPU), mb(s1.MaxRSS))
	}
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	// The copies' folder is this machine's: the results name the copy alone.
	r.failed[t.Name] = errors.New(strings.ReplaceAll(err.Error(), b.runs+string(filepath.Separator), ""))
	fmt.Fprintf(b.log, "bench:   %s failed: %v\n", t.Name, err)
	return nil
}

// measurements is r's row: each tool's medians, or why it failed.
func (b *engineBench) measurements(r *row) []measurement {
	var ms []measurement
	for _, t := range r.tools {
		m := measurement{Input: r.in.Name, Tool: t.Name, Err: r.failed[t.Name]}
		if m.Err == nil {
			m.PerImage, m.Peak, m.Idle = median(r.per[t.Name]), median(r.peak[t.Name]), b.idle[t.Bin]
		}
		ms = append(ms, m)
	}
	return ms
}

// cannotRead is a reference tool failing on a small file of a format: it does not read the format.
type cannotRead struct {
	Format string // "HEIC"
	Err    error
}

func (e cannotRead) Error() string { return "cannot read " + e.Format + ": " + e.Err.Error() }

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
func mb(b int64) float64         { return float64(b) / (1 << 20) }

// toolVersion is the first line a tool prints for its version, or why there is none.
func toolVersion(ctx context.Context, argv []string) string {
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).Output()
	if err != nil {
		var ee *exec.Error
		if errors.As(err, &ee) {
			return "not installed"
		}
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return versionOnly(line)
}

// versionOnly shortens a version line to the name and version: "ffmpeg version 5.1.9-0+deb12u1
// Copyright (c) ..." -> "ffmpeg 5.1.9-0+deb12u1"; "Version: ImageMagick 6.9.11-60 Q16 x86_64
// 2021-01-25 https://..." -> "ImageMagick 6.9.11-60 Q16"; "vips-8.14.1" stays.
func versionOnly(line string) string {
	line = strings.TrimPrefix(line, "Version: ")
	f := strings.Fields(line)
	switch {
	case len(f) >= 3 && f[1] == "version":
		return f[0] + " " + f[2]
	case len(f) >= 3 && f[0] == "ImageMagick":
		return strings.Join(f[:3], " ")
	}
	return line
}
