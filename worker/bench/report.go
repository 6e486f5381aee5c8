package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// env says where and how the figures were measured.
type env struct {
	Date, Machine, CPU, Go, Commit, Command string
	Tools                                   []string // "vips-8.14.1", ...
	// LoadStart and LoadEnd are the 1-minute load averages when the run began and ended: other
	// work on the machine shows there ("" where /proc/loadavg is missing).
	LoadStart, LoadEnd string
}

func describeEnv(ctx context.Context, command string) env {
	e := env{Date: time.Now().UTC().Format("2006-01-02 15:04 UTC"), Go: runtime.Version(), Command: command}
	if out, err := exec.CommandContext(ctx, "uname", "-m").Output(); err == nil {
		e.Machine = strings.TrimSpace(string(out))
	} else {
		e.Machine = runtime.GOARCH
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		e.CPU = cpuModel(b)
	}
	e.CPU = fmt.Sprintf("%s, %d CPUs", or(e.CPU, "unknown CPU"), runtime.NumCPU())
	if out, err := exec.CommandContext(ctx, "git", "describe", "--always", "--dirty").Output(); err == nil {
		e.Commit = strings.TrimSpace(string(out))
	}
	for _, t := range referenceTools() {
		e.Tools = append(e.Tools, toolVersion(ctx, t.Version))
	}
	e.LoadStart = loadAverage()
	return e
}

// loadAverage is the 1-minute load average from /proc/loadavg, or "".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// cpuModel is the first "model name" of /proc/cpuinfo (x86) or, failing that, its "Model"
// (some ARM boards) or "CPU part" line.
func cpuModel(cpuinfo []byte) string {
	for _, field := range []string{"model name", "Model", "CPU part"} {
		for _, line := range strings.Split(string(cpuinfo), "\n") {
			k, v, ok := strings.Cut(line, ":")
			if ok && strings.TrimSpace(k) == field {
				return strings.TrimSpace(v)
			}
		}
	}
	return ""
}

func or(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

type report struct {
	Env      env
	Engine   []measurement
	Pipeline *pipelineResult
}

// target is one of the goals for the engine on one input.
type target struct {
	Input string
	Text  string
	Ref   string // the reference tool it compares with; "" for an absolute target
	// Eval returns what was measured, as shown, and whether it meets the target; verdict calls it
	// only with figures for both thumbq and Ref.
	Eval func(ours, ref measurement) (string, bool)
}

var targets = []target{
	{Input: "jpeg-12mp.jpg", Ref: "vipsthumbnail", Text: "CPU per image at most 1.5x vipsthumbnail's",
		Eval: func(o, r measurement) (string, bool) {
			x := ratio(o.PerImage, r.PerImage)
			return fmt.Sprintf("%.2fx", x), x <= 1.5
		}},
	{Input: "jpeg-12mp.jpg", Ref: "ffmpeg", Text: "at least 5x faster than ffmpeg: CPU per image at most 0.2x ffmpeg's",
		Eval: func(o, r measurement) (string, bool) {
			x := ratio(o.PerImage, r.PerImage)
			return fmt.Sprintf("%.2fx", x), x <= 0.2
		}},
	{Input: "jpeg-50mp.jpg", Text: "peak memory at most 80 MB above idle",
		Eval: func(o, _ measurement) (string, bool) {
			return fmt.Sprintf("%.0f MB", mb(o.AboveIdle())), o.AboveIdle() <= 80<<20
		}},
	{Input: "png-12mp.png", Ref: "vipsthumbnail", Text: "CPU per image at most 1.5x vipsthumbnail's",
		Eval: func(o, r measurement) (string, bool) {
			x := ratio(o.PerImage, r.PerImage)
			return fmt.Sprintf("%.2fx", x), x <= 1.5
		}},
	{Input: "heic-12mp-thumb.heic", Ref: "vipsthumbnail", Text: "HEIC with a thumbnail item: CPU per image at most 1.5x vipsthumbnail's",
		Eval: func(o, r measurement) (string, bool) {
			x := ratio(o.PerImage, r.PerImage)
			return fmt.Sprintf("%.2fx", x), x <= 1.5
		}},
	{Input: "heic-12mp-thumb.heic", Text: "HEIC with a thumbnail item: peak memory at most 100 MB above idle",
		Eval: func(o, _ measurement) (string, bool) {
			return fmt.Sprintf("%.0f MB", mb(o.AboveIdle())), o.AboveIdle() <= 100<<20
		}},
}

func ratio[T int64 | time.Duration](a, b T) float64 { return float64(a) / float64(b) }

// verdict evaluates t against the measurements: what was measured and "met" or "missed", or
// "not measured" with the reason.
func verdict(t target, ms []measurement) (got, result string) {
	o, ok := find(ms, t.Input, ours)
	if !ok {
		return "-", "not measured"
	}
	if o.Err != nil {
		return "-", "not measured: thumbq failed"
	}
	var r measurement
	if t.Ref != "" {
		if r, ok = find(ms, t.Input, t.Ref); !ok || r.Err != nil {
			return "-", "not measured: no " + t.Ref + " figure"
		}
		if r.PerImage <= 0 || o.PerImage <= 0 {
			return "-", "not measured: a CPU figure is not above noise"
		}
	}
	got, met := t.Eval(o, r)
	if met {
		return got, "met"
	}
	return got, "**missed**"
}

func find(ms []measurement, input, tool string) (measurement, bool) {
	for _, m := range ms {
		if m.Input == input && m.Tool == tool {
			return m, true
		}
	}
	return measurement{}, false
}

func (r report) markdown() string {
	var b bytes.Buffer
	writeEnv(&b, r.Env)
	if len(r.Engine) > 0 {
		writeEngine(&b, r.Engine)
		writeInputs(&b, r.Engine)
		writeTargets(&b, r.Engine)
	}
	if p := r.Pipeline; p != nil && len(p.Runs) > 0 {
		writePipeline(&b, p)
	}
	return b.String()
}

// writeEnv writes where, when and how the figures were measured.
func writeEnv(b *bytes.Buffer, e env) {
	fmt.Fprintf(b, "Measured %s on %s (%s), %s, thumbq %s; %s.\n", e.Date, e.Machine, e.CPU, e.Go, or(e.Commit, "(no git)"), strings.Join(e.Tools, ", "))
	if e.LoadStart != "" && e.LoadEnd != "" {
		fmt.Fprintf(b, "Load average %s at the start, %s at the end (a load above the number of CPUs means other work shared the machine).\n", e.LoadStart, e.LoadEnd)
	}
	fmt.Fprintf(b, "Command: `%s`.\n", e.Command)
}

// writeEngine writes the table of the engine's measurements, a row per input and tool.
func writeEngine(b *bytes.Buffer, engine []measurement) {
	b.WriteString("\nPer image, each tool making 64x64-box PNG thumbnails (or a row's list of sizes) of the same file in one process: CPU is\n")
	b.WriteString("user+system time per additional image ((CPU over K copies - CPU over 1) / (K-1), start-up\n")
	b.WriteString("excluded), peak is the maximum RSS of the 1-image run, idle the same tool's on a 16x16 PNG;\n")
	b.WriteString("medians of the rounds. The ratios are thumbq's figure divided by the tool's: below 1, thumbq uses less.\n\n")
	b.WriteString("| input | tool | CPU ms/image | peak RSS MB | idle MB | above idle MB | thumbq ÷ tool, CPU | thumbq ÷ tool, above idle |\n")
	b.WriteString("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, m := range engine {
		writeEngineRow(b, m, engine)
	}
}

// writeEngineRow writes m's row: its figures and thumbq's ratios to them, or why it has none.
// Only thumbq's row names the input.
func writeEngineRow(b *bytes.Buffer, m measurement, engine []measurement) {
	in := m.Input
	if m.Tool != ours {
		in = ""
	}
	var cr cannotRead
	switch {
	case errors.As(m.Err, &cr):
		fmt.Fprintf(b, "| %s | %s | cannot read %s (fails on a 16x16 one): not timed | | | | | |\n", in, m.Tool, cr.Format)
		return
	case m.Err != nil:
		fmt.Fprintf(b, "| %s | %s | failed: %s | | | | | |\n", in, m.Tool, escape(m.Err.Error()))
		return
	}
	cpuRatio, memRatio := "", ""
	if m.Tool != ours {
		if o, ok := find(engine, m.Input, ours); ok && o.Err == nil {
			cpuRatio = ratioCell(float64(o.PerImage), float64(m.PerImage))
			memRatio = ratioCell(float64(o.AboveIdle()), float64(m.AboveIdle()))
		}
	}
	tool := m.Tool
	if m.Tool == ours {
		tool = "**thumbq**"
	}
	fmt.Fprintf(b, "| %s | %s | %.0f | %.0f | %.0f | %.0f | %s | %s |\n", in, tool, ms(m.PerImage), mb(m.Peak), mb(m.Idle), mb(m.AboveIdle()), cpuRatio, memRatio)
}

// writeInputs describes the inputs thumbq was measured on.
func writeInputs(b *bytes.Buffer, engine []measurement) {
	b.WriteString("\nInputs (made by `worker/bench/inputs.go`'s recipes):\n\n")
	for _, in := range inputs {
		if _, ok := find(engine, in.Name, ours); ok {
			note := ""
			if in.Note != "" {
				note = " " + in.Note
			}
			fmt.Fprintf(b, "- %s: %s.%s\n", in.Name, in.About, note)
		}
	}
}

// writeTargets writes the verdict of each target on an input thumbq was measured on.
func writeTargets(b *bytes.Buffer, engine []measurement) {
	b.WriteString("\n| target (issue) | input | measured | verdict |\n| --- | --- | ---: | --- |\n")
	for _, t := range targets {
		if _, ok := find(engine, t.Input, ours); !ok {
			continue
		}
		got, result := verdict(t, engine)
		fmt.Fprintf(b, "| %s | %s | %s | %s |\n", t.Text, t.Input, got, result)
	}
}

// writePipeline writes the table of the pipeline's runs.
func writePipeline(b *bytes.Buffer, p *pipelineResult) {
	fmt.Fprintf(b, "\nPipeline through the emulated stack (`worker/emulate`, in-process, the real consumer and SDK clients),\n")
	fmt.Fprintf(b, "uploading %s under distinct keys; throughput from the first upload to the last notification,\n", p.Photo)
	b.WriteString("latency from the end of each PutObject to its notification arriving on the topic's queue:\n\n")
	b.WriteString("| workers | uploads | how | images/s | latency p50 ms | latency p99 ms |\n| ---: | ---: | --- | ---: | ---: | ---: |\n")
	for _, run := range p.Runs {
		how := "all at once"
		if !run.Burst {
			how = "one at a time"
		}
		fmt.Fprintf(b, "| %d | %d | %s | %.1f | %.0f | %.0f |\n", run.Workers, run.Images, how, run.PerSecond, ms(run.P50), ms(run.P99))
	}
}

func ratioCell(a, b float64) string {
	if a <= 0 || b <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", a/b)
}

func escape(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "|", "\\|"), "\n", " ") }

// The README section the results replace lies between these lines.
const (
	beginMarker = "<!-- bench:begin (make bench-readme replaces this section) -->"
	endMarker   = "<!-- bench:end -->"
)

// replaceSection puts text between the markers of doc.
func replaceSection(doc, text string) (string, error) {
	i := strings.Index(doc, beginMarker)
	j := strings.Index(doc, endMarker)
	if i < 0 || j < i {
		return "", fmt.Errorf("no %q ... %q section", beginMarker, endMarker)
	}
	return doc[:i+len(beginMarker)] + "\n" + strings.TrimSpace(text) + "\n" + doc[j:], nil
}

func replaceInFile(path, text string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	doc, err := replaceSection(string(b), text)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.WriteFile(path, []byte(doc), 0o644)
}
