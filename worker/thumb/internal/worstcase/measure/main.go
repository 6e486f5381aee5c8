// Command measure writes the worst-case uploads of package worstcase and measures what
// thumbq thumbnail costs on each: the peak resident memory above the tool's idle peak (the child's
// rusage, as worker/bench measures) and the wall time. make bench-worst runs it.
//
//	go run ./worker/thumb/internal/worstcase/measure [-mp 100] [-dir .bench/worst] [-thumbq bin/thumbq]...
//
// With -row N it also makes N thumbnails in one process (the cases in turn), as a worker handles
// uploads in a row, and reports that process's peak; with -work N it uploads N of them to an
// emulated stack consumed by one thumbq work with the dev task's settings, and reports its peak.
package main

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/thumbq/thumbq/worker/thumb/internal/worstcase"
)

func main() {
	mp := flag.Float64("mp", 100, "megapixels of each case (100 is the default limit)")
	dir := flag.String("dir", ".bench/worst", "folder the cases are written to (kept between runs)")
	var bins multi
	flag.Var(&bins, "thumbq", "thumbq binary to measure (repeat to compare several: before, after)")
	only := flag.String("only", "", "measure only the cases whose name contains this")
	row := flag.Int("row", 0, "then make this many thumbnails of the cases in turn in one process")
	extra := flag.String("args", "", "more arguments for thumbq thumbnail, e.g. -max-pixels=200000000")
	work := flag.Int("work", 0, "then upload this many of the cases in turn to an emulated stack consumed by one thumbq work with the dev task's settings, and report its peak")
	flag.Parse()
	if len(bins) == 0 {
		bins = multi{"bin/thumbq"}
	}
	if err := run(*mp, *dir, bins, *only, *row, *work, strings.Fields(*extra)); err != nil {
		fmt.Fprintln(os.Stderr, "measure:", err)
		os.Exit(1)
	}
}

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(s string) error { *m = append(*m, s); return nil }

func run(mp float64, dir string, bins []string, only string, row, work int, extra []string) error {
	side := int(math.Sqrt(mp * 1e6))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files, names, err := writeCases(dir, side, only)
	if err != nil {
		return err
	}
	idleFile := filepath.Join(dir, "idle.png")
	if _, err := os.Stat(idleFile); err != nil {
		if _, err := worstcase.WriteFile(worstcase.Case{Name: "idle", Ext: ".png", Write: worstcase.Cases()[len(worstcase.Cases())-1].Write}, dir, 1, 1); err != nil {
			return err
		}
	}
	out, err := os.MkdirTemp("", "measure")
	if err != nil {
		return err
	}
	defer os.RemoveAll(out)
	fmt.Printf("| upload (%g MP) | file size |", mp)
	for _, b := range bins {
		fmt.Printf(" %s: peak above idle, time, result |", b)
	}
	fmt.Println()
	fmt.Printf("|---|---|%s\n", strings.Repeat("---|", len(bins)))
	idle := make([]int64, len(bins))
	for i, b := range bins {
		s, err := thumbnail(b, out, extra, idleFile)
		if err != nil {
			return err
		}
		idle[i] = s.peak
		fmt.Fprintf(os.Stderr, "%s idle peak: %.1f MB\n", b, float64(s.peak)/1e6)
	}
	if err := measureEach(files, names, bins, out, extra, idle); err != nil {
		return err
	}
	if row > 0 && len(files) > 0 {
		if err := measureRow(files, row, bins, out, extra, idle); err != nil {
			return err
		}
	}
	if work > 0 && len(files) > 0 {
		for _, b := range bins {
			if err := workRow(b, files, work); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeCases writes the cases whose name contains only (all when it is empty) at side x side into
// dir, unless a file of that name is already there, and returns their paths and names. A case
// whose tool is missing is skipped.
func writeCases(dir string, side int, only string) (files, names []string, err error) {
	for _, c := range worstcase.Cases() {
		if only != "" && !strings.Contains(c.Name, only) {
			continue
		}
		path := filepath.Join(dir, fmt.Sprintf("%s-%dx%d%s", c.Name, side, side, c.Ext))
		if _, err := os.Stat(path); err != nil {
			t0 := time.Now()
			file := c // written under the name with the size; the table keeps the case's name
			file.Name = fmt.Sprintf("%s-%dx%d", c.Name, side, side)
			p, err := worstcase.WriteFile(file, dir, side, side)
			if errors.Is(err, worstcase.ErrNoTool) {
				fmt.Fprintf(os.Stderr, "skipping %s: %v\n", file.Name, err)
				continue
			}
			if err != nil {
				return nil, nil, err
			}
			fmt.Fprintf(os.Stderr, "wrote %s in %v\n", p, time.Since(t0).Round(time.Millisecond))
		}
		files = append(files, path)
		names = append(names, c.Name)
	}
	return files, names, nil
}

// measureEach prints one table row per file: its size, and per binary the peak above that
// binary's idle peak, the wall time and the result.
func measureEach(files, names, bins []string, out string, extra []string, idle []int64) error {
	for i, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			return err
		}
		fmt.Printf("| %s | %s |", names[i], size(st.Size()))
		for j, b := range bins {
			s, err := thumbnail(b, out, extra, f)
			if err != nil {
				return err
			}
			fmt.Printf(" %.0f MB, %.1f s, %s |", float64(s.peak-idle[j])/1e6, s.wall.Seconds(), s.result)
		}
		fmt.Println()
	}
	return nil
}

// measureRow makes row thumbnails of the files in turn in one process per binary and prints its
// peak.
func measureRow(files []string, row int, bins []string, out string, extra []string, idle []int64) error {
	var in []string
	for i := range row {
		in = append(in, files[i%len(files)])
	}
	for j, b := range bins {
		s, err := thumbnail(b, out, extra, in...)
		if err != nil {
			return err
		}
		fmt.Printf("\n%s: %d worst cases in one process: peak %.0f MB (%.0f MB above idle), %.1f s\n", b, row, float64(s.peak)/1e6, float64(s.peak-idle[j])/1e6, s.wall.Seconds())
	}
	return nil
}

type sample struct {
	peak   int64 // bytes
	wall   time.Duration
	result string
}

// thumbnail runs bin thumbnail on files and returns its peak RSS and the first failure's reason,
// or "ok".
func thumbnail(bin, out string, extra []string, files ...string) (sample, error) {
	args := append(append([]string{"thumbnail", "-quiet", "-out", out}, extra...), files...)
	cmd := exec.Command(bin, args...)
	t0 := time.Now()
	output, err := cmd.CombinedOutput()
	wall := time.Since(t0)
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return sample{}, err
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return sample{}, errors.New("no rusage on this system")
	}
	result := "ok"
	if ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus); ws.Signaled() {
		result = "killed by " + ws.Signal().String()
	} else if err != nil {
		for _, line := range strings.Split(string(output), "\n") {
			if strings.HasPrefix(line, "FAIL") {
				result = line
				if i := strings.Index(line, ": "); i >= 0 {
					result = strings.TrimSpace(line[i+2:])
				}
				break
			}
		}
	}
	return sample{peak: ru.Maxrss * 1024, wall: wall, result: result}, nil
}

func size(n int64) string {
	switch {
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.0f KB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}
