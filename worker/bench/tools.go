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
)

// box is the thumbnail box every tool is asked for: the worker's default.
const box = 64

// tool makes box x box PNG thumbnails of many files in one process.
type tool struct {
	Name    string
	Bin     string
	Version []string // argv that prints the version on its first line
	// Args is the argv after Bin that makes a thumbnail of each file into the folder out.
	Args func(files []string, out string) []string
}

// ours is the name of thumbq's own row; measureEngine builds its binary (oursTool).
const ours = "thumbq"

func referenceTools() []tool {
	return []tool{
		{Name: "vipsthumbnail", Bin: "vipsthumbnail", Version: []string{"vips", "--version"},
			Args: func(files []string, out string) []string {
				return append([]string{"-s", fmt.Sprintf("%dx%d", box, box), "-o", filepath.Join(out, "%s.png")}, files...)
			}},
		{Name: "ffmpeg", Bin: "ffmpeg", Version: []string{"ffmpeg", "-version"},
			// One process over an image2 sequence (in000.ext, in001.ext, ...; see copies).
			Args: func(files []string, out string) []string {
				pattern := filepath.Join(filepath.Dir(files[0]), "in%03d"+filepath.Ext(files[0]))
				return []string{"-nostdin", "-loglevel", "error", "-y", "-start_number", "0", "-i", pattern,
					"-vf", fmt.Sprintf("scale=%d:%d:force_original_aspect_ratio=decrease", box, box),
					filepath.Join(out, "out%03d.png")}
			}},
		// mogrify, not convert: one process over many files, each written to its own PNG.
		{Name: "ImageMagick", Bin: "mogrify", Version: []string{"mogrify", "-version"},
			Args: func(files []string, out string) []string {
				return append([]string{"-path", out, "-format", "png", "-thumbnail", fmt.Sprintf("%dx%d", box, box)}, files...)
			}},
	}
}

func oursTool(bin string) tool {
	return tool{Name: ours, Bin: bin,
		Args: func(files []string, out string) []string {
			return append([]string{"thumbnail", "-quiet", "-out", out}, files...)
		}}
}

func toolNames() []string {
	names := []string{ours}
	for _, t := range referenceTools() {
		names = append(names, t.Name)
	}
	return names
}

// sample is what one run of a tool cost, from its rusage.
type sample struct {
	CPU    time.Duration // user + system
	MaxRSS int64         // bytes
}

// runTool runs t over files, writing into out (emptied first), and checks that it made one
// thumbnail per file, of wantW x wantH give or take a pixel (any size when wantW is 0).
func runTool(ctx context.Context, t tool, files []string, out string, wantW, wantH int) (sample, error) {
	if err := os.RemoveAll(out); err != nil {
		return sample{}, err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return sample{}, err
	}
	var output bytes.Buffer
	cmd := exec.CommandContext(ctx, t.Bin, t.Args(files, out)...)
	cmd.Stdout, cmd.Stderr = &output, &output
	err := cmd.Run()
	if err != nil {
		return sample{}, fmt.Errorf("%s: %v: %s", t.Name, err, lastLines(output.String(), 3))
	}
	s, err := usage(cmd.ProcessState)
	if err != nil {
		return sample{}, err
	}
	if err := checkThumbnails(out, len(files), wantW, wantH); err != nil {
		return sample{}, fmt.Errorf("%s: %w", t.Name, err)
	}
	return s, nil
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
// reported as failed in its row; only a missing input or a failed build stops the run.
func measureEngine(ctx context.Context, o options, log io.Writer) ([]measurement, error) {
	bin, err := buildOurs(ctx, o.dir)
	if err != nil {
		return nil, err
	}
	tools := append([]tool{oursTool(bin)}, referenceTools()...)
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

	// Idle sizes: each tool on the 16x16 PNG.
	idle := map[string]int64{}
	idleErr := map[string]error{}
	tinyCopy, err := copies(tiny, filepath.Join(runs, "tiny"), 1)
	if err != nil {
		return nil, err
	}
	for _, t := range tools {
		if _, err := exec.LookPath(t.Bin); err != nil {
			idleErr[t.Name] = fmt.Errorf("%s not installed (make bench-deps)", t.Bin)
			continue
		}
		var rss []int64
		for range o.repeat {
			s, err := runTool(ctx, t, tinyCopy, out, 0, 0)
			if err != nil {
				idleErr[t.Name] = err
				break
			}
			rss = append(rss, s.MaxRSS)
		}
		idle[t.Name] = median(rss)
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
		wantW, wantH := fit(w, h, box, box)
		k := o.k12
		if in.Large {
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
		fmt.Fprintf(log, "bench: %s (%dx%d): %d rounds of 1 and %d files per tool\n", in.Name, w, h, o.repeat, k)
		per := map[string][]time.Duration{}
		peak := map[string][]int64{}
		failed := map[string]error{}
		for t, e := range idleErr {
			failed[t] = e
		}
		// Rounds outermost, so that a drift of the machine's speed touches every tool alike.
		for round := range o.repeat {
			for _, t := range tools {
				if failed[t.Name] != nil {
					continue
				}
				s1, err := runTool(ctx, t, one, out, wantW, wantH)
				if err == nil {
					var sk sample
					sk, err = runTool(ctx, t, many, out, wantW, wantH)
					per[t.Name] = append(per[t.Name], perImage(s1, sk, k))
					peak[t.Name] = append(peak[t.Name], s1.MaxRSS)
					fmt.Fprintf(log, "bench:   round %d %-13s 1 file %6.0f ms CPU %5.0f MB; %d files %6.0f ms CPU\n",
						round+1, t.Name, ms(s1.CPU), mb(s1.MaxRSS), k, ms(sk.CPU))
				}
				if err != nil {
					if ctx.Err() != nil {
						return nil, ctx.Err()
					}
					failed[t.Name] = err
					fmt.Fprintf(log, "bench:   %s failed: %v\n", t.Name, err)
				}
			}
		}
		for _, t := range tools {
			m := measurement{Input: in.Name, Tool: t.Name, Err: failed[t.Name]}
			if m.Err == nil {
				m.PerImage, m.Peak, m.Idle = median(per[t.Name]), median(peak[t.Name]), idle[t.Name]
			}
			results = append(results, m)
		}
	}
	return results, nil
}

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
