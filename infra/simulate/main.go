// Command simulate replays traffic profiles minute by minute against the scaling of a synthesized
// template: its scalable target (minimum, maximum), its target-tracking policy on backlog per task
// (target, cooldowns), its step policy from zero tasks (alarm, steps, cooldown) and its task size.
// It prints, per environment and profile, the tasks, the backlog, the oldest message's age and the
// tasks' dollars per month. `make simulate` runs it on both environments' snapshots;
// `make simulate-readme` also writes the table into README.md between the simulate markers.
package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// The measured cost the queue is served at: CPU seconds per image at 1 vCPU. make bench's slowest
// input, png-12mp.png, took 160 ms of CPU per image (README, "The image engine's figures"); a 12 MP
// JPEG takes 18 ms. The simulation takes the slow one, so real photos drain faster than it says.
const defaultCPUSecondsPerImage = 0.160

// Profiles are the traffic the issue asks about.
func Profiles() []Profile {
	steady := func(perSecond float64) Profile {
		return Profile{Name: fmt.Sprintf("steady %g/s", perSecond), Minutes: 6 * 60,
			Uploads: func(int) float64 { return perSecond * 60 }}
	}
	return []Profile{
		steady(0.2), steady(1), steady(10),
		{Name: "burst of 10,000", Minutes: 120, Uploads: func(t int) float64 {
			if t == 0 {
				return 10_000
			}
			return 0
		}},
		// A day: nothing at night, 5/s at the afternoon peak (216,000 uploads).
		{Name: "diurnal day (peak 5/s)", Minutes: 24 * 60, Uploads: func(t int) float64 {
			return 5 * 60 * (1 - math.Cos(2*math.Pi*float64(t)/(24*60))) / 2
		}},
		{Name: "idle after a busy period", Minutes: 60, StartMax: true, Uploads: func(int) float64 { return 0 }},
	}
}

func main() {
	var (
		dir    = flag.String("templates", "infra/stack/testdata", "folder of the synthesized templates thumbq-<env>.template.json")
		envs   = flag.String("envs", "dev,prod", "environments, comma-separated")
		cost   = flag.Float64("cpu-per-image", defaultCPUSecondsPerImage, "CPU seconds per image at 1 vCPU")
		start  = flag.Int("task-start", 1, "minutes from desired to running (Fargate pull and start)")
		lag    = flag.Int("metric-lag", 1, "minutes before a CloudWatch datapoint reaches Application Auto Scaling")
		readme = flag.String("readme", "", "also write the table into this file between the simulate markers")
	)
	flag.Parse()
	var b strings.Builder
	for _, env := range strings.Split(*envs, ",") {
		path := filepath.Join(*dir, "thumbq-"+env+".template.json")
		s, err := ReadScaling(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "simulate:", err)
			os.Exit(1)
		}
		m := Model{Scaling: s, CPUSecondsPerImage: *cost, TaskStartMinutes: *start, MetricLagMinutes: *lag}
		writeTable(&b, env, path, m)
	}
	fmt.Print(b.String())
	if *readme != "" {
		if err := replaceBetween(*readme, b.String()); err != nil {
			fmt.Fprintln(os.Stderr, "simulate:", err)
			os.Exit(1)
		}
	}
}

func writeTable(w io.Writer, env, path string, m Model) {
	s := m.Scaling
	fmt.Fprintf(w, "**%s** (%s): %d-%d tasks of %.2g vCPU / %d MiB, target %g messages per task, cooldowns out %d s / in %d s",
		env, filepath.ToSlash(path), s.MinTasks, s.MaxTasks, float64(s.CPU)/1024, s.MemoryMiB, s.Target, s.ScaleOutCooldown, s.ScaleInCooldown)
	if s.Wake != nil {
		fmt.Fprintf(w, ", step from 0 at a backlog of %g", s.Wake.Threshold)
	}
	fmt.Fprintf(w, "; %.0f images/s per task (%.0f ms CPU per image at 1 vCPU), tasks start %d min after they are desired, metrics arrive %d min late.\n\n",
		float64(s.CPU)/1024/m.CPUSecondsPerImage, m.CPUSecondsPerImage*1000, m.TaskStartMinutes, m.MetricLagMinutes)
	fmt.Fprintln(w, "| profile | minutes | tasks max | tasks mean | backlog max | oldest message max | drained after | at minimum after | tasks $/month |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, p := range Profiles() {
		r := m.Run(p)
		drained, atMin := "-", "-"
		if p.Name == "burst of 10,000" {
			drained = minutes(r.DrainedAfter())
		}
		if p.StartMax || p.Name == "burst of 10,000" {
			atMin = minutes(r.AtMinimumAfter(s.MinTasks))
		}
		fmt.Fprintf(w, "| %s | %d | %d | %.2f | %.0f | %s | %s | %s | $%.2f |\n", p.Name, p.Minutes, r.MaxRunning(), r.MeanRunning(),
			r.MaxBacklog(), ageText(r.MaxAge()), drained, atMin, r.DollarsPerMonth(s))
	}
	fmt.Fprintln(w)
}

func minutes(n int) string {
	if n < 0 {
		return "never"
	}
	return fmt.Sprintf("%d min", n)
}

func ageText(s float64) string {
	if s < 120 {
		return fmt.Sprintf("%.0f s", s)
	}
	return fmt.Sprintf("%.1f min", s/60)
}

const (
	beginMarker = "<!-- simulate:begin (make simulate-readme replaces this section) -->"
	endMarker   = "<!-- simulate:end -->"
)

func replaceBetween(path, table string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s := string(b)
	i, j := strings.Index(s, beginMarker), strings.Index(s, endMarker)
	if i < 0 || j < i {
		return fmt.Errorf("%s: no %q ... %q section", path, beginMarker, endMarker)
	}
	s = s[:i+len(beginMarker)] + "\n" + table + s[j:]
	return os.WriteFile(path, []byte(s), 0o644)
}
