package main

import (
	"path/filepath"
	"testing"
)

// The figures README states for a 10,000-upload burst: drained within these minutes.
const (
	burstDrainProd = 10
	idleToMinimum  = 20
)

func model(t *testing.T, env string) Model {
	t.Helper()
	s, err := ReadScaling(filepath.Join("..", "stack", "testdata", "thumbq-"+env+".template.json"))
	if err != nil {
		t.Fatal(err)
	}
	return Model{Scaling: s, CPUSecondsPerImage: defaultCPUSecondsPerImage, TaskStartMinutes: 1, MetricLagMinutes: 1}
}

func profile(t *testing.T, name string) Profile {
	for _, p := range Profiles() {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("no profile %q", name)
	return Profile{}
}

func TestTemplateScalingIsRead(t *testing.T) {
	for _, tc := range []struct {
		env      string
		min, max int
		wake     bool
	}{{"dev", 0, 2, true}, {"prod", 1, 10, false}} {
		s := model(t, tc.env).Scaling
		if s.MinTasks != tc.min || s.MaxTasks != tc.max || (s.Wake != nil) != tc.wake || s.Target <= 0 || s.ScaleOutCooldown <= 0 || s.ScaleInCooldown <= 0 {
			t.Errorf("%s: %+v; want %d-%d tasks, a target, cooldowns, step from zero %v", tc.env, s, tc.min, tc.max, tc.wake)
		}
	}
}

func TestSteadyOneUploadPerSecondHoldsAtMostTwoTasksInProd(t *testing.T) {
	r := model(t, "prod").Run(profile(t, "steady 1/s"))
	if got := r.MaxRunning(); got > 2 {
		t.Errorf("steady 1/s in prod: up to %d tasks; want at most 2", got)
	}
}

func TestBurstOfTenThousandDrainsInTheTimeREADMEStates(t *testing.T) {
	r := model(t, "prod").Run(profile(t, "burst of 10,000"))
	if got := r.DrainedAfter(); got < 0 || got > burstDrainProd {
		t.Errorf("burst of 10,000 in prod drained after %d min; want within %d (README)", got, burstDrainProd)
	}
}

func TestIdleReturnsToTheMinimumWithinTwentyMinutes(t *testing.T) {
	for _, env := range []string{"dev", "prod"} {
		m := model(t, env)
		r := m.Run(profile(t, "idle after a busy period"))
		if got := r.AtMinimumAfter(m.MinTasks); got < 0 || got > idleToMinimum {
			t.Errorf("%s idle from %d tasks: at the minimum %d after %d min; want within %d", env, m.MaxTasks, m.MinTasks, got, idleToMinimum)
		}
	}
}

// The model itself: a task serves vCPU / CPU-seconds-per-image images a second, target tracking
// does not scale out from zero without the step policy, and a backlog beyond one task's target
// adds tasks.
func TestModel(t *testing.T) {
	m := model(t, "dev")
	noWake := m
	noWake.Wake = nil
	burst := profile(t, "burst of 10,000")
	if r := noWake.Run(burst); r.MaxRunning() != 0 {
		t.Errorf("dev without the step policy ran %d tasks; target tracking alone cannot leave zero", r.MaxRunning())
	}
	if r := m.Run(burst); r.MaxRunning() != m.MaxTasks || r.DrainedAfter() < 0 {
		t.Errorf("dev burst: %d tasks at most, drained after %d min; want %d tasks and drained", r.MaxRunning(), r.DrainedAfter(), m.MaxTasks)
	}
	p := model(t, "prod")
	r := p.Run(Profile{Name: "one minute", Minutes: 1, Uploads: func(int) float64 { return 1000 }})
	if want := float64(p.CPU) / 1024 / p.CPUSecondsPerImage * 60; r.Minutes[0].Served != want {
		t.Errorf("one prod task served %.1f images in a minute; want %.1f", r.Minutes[0].Served, want)
	}
}
