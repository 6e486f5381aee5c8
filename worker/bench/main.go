// Command bench compares thumbq's image engine with the reference tools (vipsthumbnail, ffmpeg,
// ImageMagick) on the same inputs, and measures the pipeline's throughput and latency through the
// emulated stack. `make bench` runs it; it is a development tool, not part of the thumbq binary.
//
// Per input and tool it runs the tool as a child process (one per size, for the tools that make
// one size per run, their costs added up) over 1 copy of the input and over K
// copies (distinct file names), reads user+system CPU time and the maximum resident set from the
// child's rusage, and takes the CPU per image as (cpu_K - cpu_1)/(K-1), so a tool's start-up is
// not counted against it; the median of -repeat rounds is kept. Peak memory per image is the
// 1-copy run's maximum RSS; the idle size is the same tool's maximum RSS on a 16x16 PNG. Every
// run's thumbnails are counted and their sizes checked: a tool that did not make them is
// reported as failed, not timed, and a reference tool that fails on a 16x16 file of an input's
// format (HEIC, AVIF) as unable to read it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
)

type options struct {
	dir      string // work folder: the thumbq binary, copies, thumbnails
	in       string // the inputs' folder; missing inputs are made there
	out      string // the results file
	repeat   int    // rounds per input and tool; the median is kept
	k12, k50 int    // copies per run for the 12 MP inputs and the 50 MP one
	tools    string // comma-separated subset of the tools
	only     string // comma-separated subset of the inputs (file names)
	workers  int    // N of the pipeline's "N workers" run
	images   int    // uploads per pipeline run
	latency  int    // uploads of the one-at-a-time latency run
	pipeline bool   // measure the pipeline
	engine   bool   // measure the engine against the tools
	readme   string // when set, the results replace the marked section of this file
	command  string // the command line printed with the results
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
	case err != nil:
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	rep, err := measure(ctx, o, stderr)
	if err != nil {
		return err
	}
	return writeResults(o, rep, stdout, stderr)
}

// parseFlags reads the options from args, fills in their defaults and makes the work and input
// folders, whose paths it makes absolute.
func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := newFlagSet(&o, stderr)
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.repeat < 1 || o.k12 < 2 || o.k50 < 2 || o.workers < 1 || o.images < 1 || o.latency < 1 {
		return o, fmt.Errorf("-repeat, -workers, -images and -latency must be at least 1, -k and -k50 at least 2")
	}
	if o.command == "" {
		o.command = "go run ./worker/bench " + strings.Join(args, " ")
	}
	if o.in == "" {
		o.in = filepath.Join(o.dir, "inputs")
	}
	if o.out == "" {
		o.out = filepath.Join(o.dir, "results.md")
	}
	for _, p := range []*string{&o.dir, &o.in} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return o, err
		}
		*p = abs
		if err := os.MkdirAll(abs, 0o755); err != nil {
			return o, err
		}
	}
	return o, nil
}

// newFlagSet is bench's flags, bound to o, with its usage written to stderr.
func newFlagSet(o *options, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: go run ./worker/bench [flags] (make bench runs it)")
		fmt.Fprintln(stderr, "\nCompares thumbq's engine with vipsthumbnail, ffmpeg and ImageMagick on the same inputs, and")
		fmt.Fprintln(stderr, "measures the pipeline's throughput and latency through the emulated stack.\n\nFlags:")
		fs.PrintDefaults()
	}
	fs.StringVar(&o.dir, "dir", ".bench", "work folder: the thumbq binary, the copies and thumbnails of each run")
	fs.StringVar(&o.in, "in", "", "folder of the inputs, made there by their recipes when missing (default <dir>/inputs)")
	fs.StringVar(&o.out, "out", "", "file the results are written to, besides standard output (default <dir>/results.md)")
	fs.IntVar(&o.repeat, "repeat", 3, "rounds per input and tool (the median is reported)")
	fs.IntVar(&o.k12, "k", 8, "copies of a 12 MP input per multi-file run")
	fs.IntVar(&o.k50, "k50", 4, "copies of a slow input (the 50 MP JPEG, the HEIC and AVIF decoded whole) per multi-file run")
	fs.StringVar(&o.tools, "tools", "", "comma-separated tools to run (default all: "+strings.Join(toolNames(), ",")+")")
	fs.StringVar(&o.only, "only", "", "comma-separated inputs to run (default all: "+strings.Join(inputNames(), ",")+")")
	fs.IntVar(&o.workers, "workers", runtime.GOMAXPROCS(0), "N: workers (images processed at once) of the pipeline's second run")
	fs.IntVar(&o.images, "images", 40, "uploads per pipeline throughput run")
	fs.IntVar(&o.latency, "latency", 40, "uploads, one at a time, of the pipeline latency run")
	fs.BoolVar(&o.pipeline, "pipeline", true, "measure the pipeline through the emulated stack")
	fs.BoolVar(&o.engine, "engine", true, "measure the engine against the reference tools")
	fs.StringVar(&o.readme, "readme", "", "also write the results between the bench markers of this file (e.g. README.md)")
	fs.StringVar(&o.command, "command", "", "the command line to print with the results (default: this program's)")
	return fs
}

// measure measures what o selects: the engine, the pipeline, or both.
func measure(ctx context.Context, o options, log io.Writer) (report, error) {
	rep := report{Env: describeEnv(ctx, o.command)}
	if o.engine {
		ms, err := measureEngine(ctx, o, log)
		if err != nil {
			return rep, err
		}
		rep.Engine = ms
	}
	if o.pipeline {
		pr, err := measurePipeline(ctx, o, log)
		if err != nil {
			return rep, err
		}
		rep.Pipeline = &pr
	}
	rep.Env.LoadEnd = loadAverage()
	return rep, nil
}

// writeResults writes rep to stdout, to o.out and, when o.readme is set, into its bench section.
func writeResults(o options, rep report, stdout, stderr io.Writer) error {
	text := rep.markdown()
	fmt.Fprint(stdout, text)
	if err := os.WriteFile(o.out, []byte(text), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "bench: written to %s\n", o.out)
	if o.readme != "" {
		if err := replaceInFile(o.readme, text); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "bench: README section of %s replaced\n", o.readme)
	}
	return nil
}
