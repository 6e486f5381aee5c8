package main

import (
	"math"
)

// Model is the queue and the service the scaling policies act on, minute by minute.
//
// What it assumes, each a flag of make simulate:
//   - a task works off (vCPU / CPUSecondsPerImage) images per second (CPU-bound; S3 latency
//     overlaps with the other images in flight);
//   - a task runs TaskStartMinutes after it is desired (Fargate's image pull and start);
//   - a CloudWatch datapoint reaches Application Auto Scaling MetricLagMinutes after its minute.
//
// What it takes from AWS's documentation, not from the template:
//   - target tracking's scale-out alarm fires on 3 consecutive datapoints above the target, its
//     scale-in alarm on 15 consecutive datapoints below 90% of it; either sets the capacity to
//     ceil(current capacity x metric / target), within the scalable target's bounds, and target
//     tracking never scales out from zero tasks;
//   - a cooldown blocks the next activity of the same direction, and a scale-out ends a scale-in
//     cooldown.
type Model struct {
	Scaling
	CPUSecondsPerImage float64
	TaskStartMinutes   int
	MetricLagMinutes   int
}

// Profile is a traffic profile: uploads arriving in each minute.
type Profile struct {
	Name     string
	Minutes  int
	Uploads  func(minute int) float64
	StartMax bool // start with MaxTasks running (after a busy period) instead of MinTasks
}

// Minute is the state at the end of one simulated minute.
type Minute struct {
	Arrived, Served float64
	Backlog         float64 // visible + in flight
	OldestAge       float64 // seconds
	Desired         int
	Running         int
}

// Result is a profile's run.
type Result struct {
	Profile Profile
	Minutes []Minute
}

type bucket struct {
	at float64 // minute of arrival (middle of the minute)
	n  float64
}

// Run replays a profile.
func (m Model) Run(p Profile) Result {
	perTaskMinute := float64(m.CPU) / 1024 / m.CPUSecondsPerImage * 60
	f := &fleet{desired: m.MinTasks, lastOut: -1 << 30, lastIn: -1 << 30, lastWake: -1 << 30}
	if p.StartMax {
		f.desired = m.MaxTasks
	}
	f.running = f.desired
	res := Result{Profile: p}
	for t := 0; t < p.Minutes; t++ {
		f.tasksStarted(t)
		before := f.queued()
		arrived := p.Uploads(t)
		served := f.serve(t, arrived, float64(f.running)*perTaskMinute)
		backlog, age := f.queued(), 0.0
		if len(f.queue) > 0 {
			age = (float64(t+1) - f.queue[0].at) * 60
		}
		m.datapoints(f, before, backlog, served, perTaskMinute)
		m.scale(f, t)
		f.converge(t, m.TaskStartMinutes)
		res.Minutes = append(res.Minutes, Minute{Arrived: arrived, Served: served, Backlog: backlog, OldestAge: age, Desired: f.desired, Running: f.running})
	}
	return res
}

// fleet is a run's state from minute to minute: the tasks, the queue, the datapoints the policies
// read and when each policy last acted.
type fleet struct {
	desired, running int
	starting         []int // minute at which each starting task runs
	queue            []bucket
	metric, wake     []float64 // one datapoint a minute: BacklogPerTaskExpression, WakeExpression

	lastOut, lastIn, lastWake int // minutes
}

// tasksStarted counts the tasks that finished starting by minute t as running.
func (f *fleet) tasksStarted(t int) {
	kept := f.starting[:0]
	for _, at := range f.starting {
		if at <= t {
			f.running++
		} else {
			kept = append(kept, at)
		}
	}
	f.starting = kept
}

// queued is the number of messages in the queue.
func (f *fleet) queued() float64 {
	n := 0.0
	for _, b := range f.queue {
		n += b.n
	}
	return n
}

// serve queues the uploads arrived in minute t and serves up to capacity of the oldest first; it
// returns how many were served.
func (f *fleet) serve(t int, arrived, capacity float64) float64 {
	if arrived > 0 {
		f.queue = append(f.queue, bucket{at: float64(t) + 0.5, n: arrived})
	}
	served := 0.0
	for capacity > 0 && len(f.queue) > 0 {
		take := math.Min(capacity, f.queue[0].n)
		f.queue[0].n -= take
		capacity -= take
		served += take
		if f.queue[0].n <= 1e-9 {
			f.queue = f.queue[1:]
		}
	}
	return served
}

// datapoints appends this minute's datapoints, as the template's expressions compute them from the
// 1-minute maxima of visible and in-flight messages: the larger of the backlog at the start and at
// the end of the minute, plus the messages being worked on (Little's law: served per minute x
// minutes per image per slot x slots; at least 1 while anything is served).
func (m Model) datapoints(f *fleet, before, backlog, served, perTaskMinute float64) {
	inFlight := served / perTaskMinute * float64(max(m.Concurrency, 1))
	if served > 0 {
		inFlight = math.Max(inFlight, 1)
	}
	sampled := math.Max(before, backlog) + inFlight
	f.metric = append(f.metric, sampled/math.Max(float64(f.desired), 1)) // BacklogPerTaskExpression
	w := 0.0
	if f.desired < 1 {
		w = sampled // WakeExpression
	}
	f.wake = append(f.wake, w)
}

// scale applies the policies at minute t to the desired count, as they see the datapoints: up to
// MetricLagMinutes ago.
func (m Model) scale(f *fleet, t int) {
	seen := len(f.metric) - m.MetricLagMinutes
	current := f.desired + 0 // the scalable target's capacity
	if seen >= 3 && current > 0 && all(f.metric[seen-3:seen], func(v float64) bool { return v > m.Target }) &&
		(t-f.lastOut)*60 >= m.ScaleOutCooldown {
		if n := m.clamp(int(math.Ceil(float64(current) * f.metric[seen-1] / m.Target))); n > current {
			f.desired, f.lastOut = n, t
		}
	}
	if seen >= 15 && f.desired == current && all(f.metric[seen-15:seen], func(v float64) bool { return v < 0.9*m.Target }) &&
		(t-f.lastIn)*60 >= m.ScaleInCooldown && (t-f.lastOut)*60 >= m.ScaleOutCooldown {
		if n := m.clamp(int(math.Ceil(float64(current) * f.metric[seen-1] / m.Target))); n < current {
			f.desired, f.lastIn = n, t
		}
	}
	if wk := m.Wake; wk != nil && seen >= wk.EvaluationPeriods && (t-f.lastWake)*60 >= wk.Cooldown &&
		all(f.wake[seen-wk.EvaluationPeriods:seen], func(v float64) bool { return v >= wk.Threshold }) {
		v := f.wake[seen-1]
		for _, st := range wk.Steps {
			if v >= st.Lower {
				if n := m.clamp(st.Tasks); n != f.desired {
					f.desired = n
				}
			}
		}
		f.lastWake = t
	}
}

// converge starts or stops tasks toward the desired count; a started task runs startMinutes after
// the next minute. A task stops once its work is handed back (scale-in protection keeps a busy one
// until then; within the minute here).
func (f *fleet) converge(t, startMinutes int) {
	for f.running+len(f.starting) < f.desired {
		f.starting = append(f.starting, t+1+startMinutes)
	}
	for f.running+len(f.starting) > f.desired {
		if len(f.starting) > 0 {
			f.starting = f.starting[:len(f.starting)-1]
		} else {
			f.running--
		}
	}
}

func (m Model) clamp(n int) int { return min(max(n, m.MinTasks), m.MaxTasks) }

func all(vs []float64, ok func(float64) bool) bool {
	for _, v := range vs {
		if !ok(v) {
			return false
		}
	}
	return len(vs) > 0
}

// Summary figures of a run.
func (r Result) MaxRunning() int {
	n := 0
	for _, m := range r.Minutes {
		n = max(n, m.Running)
	}
	return n
}

func (r Result) MeanRunning() float64 {
	s := 0.0
	for _, m := range r.Minutes {
		s += float64(m.Running)
	}
	return s / float64(len(r.Minutes))
}

func (r Result) MaxBacklog() float64 {
	b := 0.0
	for _, m := range r.Minutes {
		b = math.Max(b, m.Backlog)
	}
	return b
}

func (r Result) MaxAge() float64 {
	a := 0.0
	for _, m := range r.Minutes {
		a = math.Max(a, m.OldestAge)
	}
	return a
}

// DrainedAfter is the first minute (counted from 1) at whose end nothing is left, after the last
// upload; -1 if the backlog never empties.
func (r Result) DrainedAfter() int {
	last := 0
	for i, m := range r.Minutes {
		if m.Arrived > 0 {
			last = i
		}
	}
	for i := last; i < len(r.Minutes); i++ {
		if r.Minutes[i].Backlog < 0.5 {
			return i + 1
		}
	}
	return -1
}

// AtMinimumAfter is the first minute (counted from 1) from which the desired count stays at min
// to the end; -1 if it does not.
func (r Result) AtMinimumAfter(min int) int {
	at := -1
	for i, m := range r.Minutes {
		switch {
		case m.Desired != min:
			at = -1
		case at < 0:
			at = i + 1
		}
	}
	return at
}

// Fargate ARM64 on-demand prices in us-east-1, and a task's public IPv4 address (see README's cost
// section).
const (
	pricePerVCPUHour = 0.03238
	pricePerGBHour   = 0.00356
	pricePerIPv4Hour = 0.005
	hoursPerMonth    = 730
)

// DollarsPerMonth is the month's cost of the tasks if every hour were like the run's average.
func (r Result) DollarsPerMonth(s Scaling) float64 {
	perTask := float64(s.CPU)/1024*pricePerVCPUHour + float64(s.MemoryMiB)/1024*pricePerGBHour + pricePerIPv4Hour
	return r.MeanRunning() * perTask * hoursPerMonth
}
