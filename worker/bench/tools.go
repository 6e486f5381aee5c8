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
	tools := append(oursTools(bin), referenceTools()...)
	if o.tools != "" {
		want := strings.Split(o.tools, ",")
		tools = slices.DeleteFunc(tools, func(t tool) bool { return t.Name != ours && !slices.Contains(want, t.Name) })
	}
	ins := inputs
	if o.only != "" {
		want := strings.Split(o.only, ",")
		ins = slices.DeleteFunc(slices.Clone(inputs), func(in input) bool { return !slices.Contains(want, in.Name) })
	}
	tiny, err := ensureTiny(o.dir)
	if err != nil {
		return nil, err
	}
	runs := filepath.Join(o.dir, "runs")
	out := filepath.Join(runs, "out")

	// Idle sizes: each tool (binary) on the 16x16 PNG.
	idle := map[string]int64{}
	idleErr := map[string]error{}
	tinyCopy, err := copies(tiny, filepath.Join(runs, "tiny"), 1)
	if err != nil {
		return nil, err
	}
	for _, t := range tools {
		if _, done := idle[t.Bin]; done || idleErr[t.Bin] != nil {
			continue
		}
		if _, err := exec.LookPath(t.Bin); err != nil {
			idleErr[t.Bin] = fmt.Errorf("%s not installed (make bench-deps)", t.Bin)
			continue
		}
		var rss []int64
		for range o.repeat {
			s, err := runTool(ctx, t, tinyCopy, out, defaultSizes, nil)
			if err != nil {
				idleErr[t.Bin] = err
				break
			}
			rss = append(rss, s.MaxRSS)
		}
		idle[t.Bin] = median(rss)
	}
	// Formats some tools cannot read: each reference tool on a small file of the format.
	unreadable := map[string]error{} // ext + " " + tool name
	probed := map[string]bool{}
	for _, in := range ins {
		ext := filepath.Ext(in.Name)
		recipe, ok := probes[ext]
		if !ok || probed[ext] {
			continue
		}
		probed[ext] = true
		probe, err := ensureFile(ctx, filepath.Join(o.dir, "probe-16x16"+ext), recipe, map[string]string{"{tiny}": tiny}, log)
		if err != nil {
			return nil, err
		}
		probeCopy, err := copies(probe, filepath.Join(runs, "probe"), 1)
		if err != nil {
			return nil, err
		}
		for _, t := range tools {
			if t.Bin == bin || idleErr[t.Bin] != nil {
				continue
			}
			if _, err := runTool(ctx, t, probeCopy, out, defaultSizes, nil); err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				unreadable[ext+" "+t.Name] = cannotRead{Format: strings.ToUpper(ext[1:]), Err: err}
				fmt.Fprintf(log, "bench: %s cannot read %s: %v\n", t.Name, ext, err)
			}
		}
	}

	var results []measurement
	for _, in := range ins {
		path, err := ensureInput(ctx, o.in, in, log)
		if err != nil {
			return nil, err
		}
		w, h, err := imageSize(path)
		if err != nil {
			return nil, err
		}
		sizes := defaultSizes
		if in.Sizes != "" {
			if sizes, err = fit.Parse(in.Sizes); err != nil {
				return nil, fmt.Errorf("input %s: %w", in.Name, err)
			}
		}
		want := wantSizes(sizes, w, h)
		rowTools := tools
		if in.Tools != nil {
			rowTools = slices.DeleteFunc(slices.Clone(tools), func(t tool) bool { return !slices.Contains(in.Tools, t.Name) })
		} else {
			rowTools = slices.DeleteFunc(slices.Clone(tools), func(t tool) bool { return t.Name == oursPerSize })
		}
		k := o.k12
		if in.Slow {
			k = o.k50
		}
		many, err := copies(path, filepath.Join(runs, "many"), k)
		if err != nil {
			return nil, err
		}
		one, err := copies(path, filepath.Join(runs, "one"), 1)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(log, "bench: %s (%dx%d, %s): %d rounds of 1 and %d files per tool\n", in.Name, w, h, fit.Format(sizes), o.repeat, k)
		per := map[string][]time.Duration{}
		peak := map[string][]int64{}
		failed := map[string]error{}
		for _, t := range rowTools {
			if e := idleErr[t.Bin]; e != nil {
				failed[t.Name] = e
			} else if e := unreadable[filepath.Ext(path)+" "+t.Name]; e != nil {
				failed[t.Name] = e
			}
		}
		// Rounds outermost, so that a drift of the machine's speed touches every tool alike.
		for round := range o.repeat {
			for _, t := range rowTools {
				if failed[t.Name] != nil {
					continue
				}
				s1, err := runTool(ctx, t, one, out, sizes, want)
				if err == nil {
					var sk sample
					sk, err = runTool(ctx, t, many, out, sizes, want)
					per[t.Name] = append(per[t.Name], perImage(s1, sk, k))
					peak[t.Name] = append(peak[t.Name], s1.MaxRSS)
					fmt.Fprintf(log, "bench:   round %d %-13s 1 file %6.0f ms CPU %5.0f MB; %d files %6.0f ms CPU\n",
						round+1, t.Name, ms(s1.CPU), mb(s1.MaxRSS), k, ms(sk.CPU))
				} else if s1.Wall > 0 {
					err = fmt.Errorf("%w (1 file: %.2f s, %.0f ms CPU, %.0f MB peak)", err, s1.Wall.Seconds(), ms(s1.CPU), mb(s1.MaxRSS))
				}
				if err != nil {
					if ctx.Err() != nil {
						return nil, ctx.Err()
					}
					// The copies' folder is this machine's: the results name the copy alone.
					failed[t.Name] = errors.New(strings.ReplaceAll(err.Error(), runs+string(filepath.Separator), ""))
					fmt.Fprintf(log, "bench:   %s failed: %v\n", t.Name, err)
				}
			}
		}
		for _, t := range rowTools {
			m := measurement{Input: in.Name, Tool: t.Name, Err: failed[t.Name]}
			if m.Err == nil {
				m.PerImage, m.Peak, m.Idle = median(per[t.Name]), median(peak[t.Name]), idle[t.Bin]
			}
			results = append(results, m)
		}
	}
	return results, nil
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
