package local

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/thumbq/thumbq/worker/budget"
	"github.com/thumbq/thumbq/worker/pipeline"
)

// figures gathers, from the outcomes of a run, the figures the deployed worker writes as its
// CloudWatch metrics (package metrics): outcomes by status and failure code, the latency from
// upload to outcome, the decode time, the source bytes and the waits for memory.
type figures struct {
	mu        sync.Mutex
	byStatus  map[string]int
	latencies []time.Duration
	decodes   []time.Duration
	bytes     int64
	budget    *budget.Budget
}

func (f *figures) add(o pipeline.Outcome, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.byStatus == nil {
		f.byStatus = map[string]int{}
	}
	key := string(o.Status)
	if o.Err != nil {
		key += " " + string(o.Err.Code)
	}
	f.byStatus[key]++
	if !o.Object.Time.IsZero() {
		f.latencies = append(f.latencies, now.Sub(o.Object.Time))
	}
	if o.MakeTime > 0 {
		f.decodes = append(f.decodes, o.MakeTime)
	}
	if o.Object.Size > 0 {
		f.bytes += o.Object.Size
	}
}

// String is the summary's metrics line.
func (f *figures) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	keys := make([]string, 0, len(f.byStatus))
	for k := range f.byStatus {
		keys = append(keys, fmt.Sprintf("%s %d", k, f.byStatus[k]))
	}
	slices.Sort(keys)
	var waits int64
	if f.budget != nil {
		waits = f.budget.Waits()
	}
	return fmt.Sprintf("metrics (as the deployed worker writes them): %s; latency from the event time (whole seconds) to outcome %s; decode %s; source %.1f MB; memory waits %d",
		strings.Join(keys, ", "), spread(f.latencies), spread(f.decodes), float64(f.bytes)/1e6, waits)
}

// spread is "p50 X, max Y" of ds, or "-" for none.
func spread(ds []time.Duration) string {
	if len(ds) == 0 {
		return "-"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return fmt.Sprintf("p50 %s, max %s", s[(len(s)-1)/2].Round(time.Millisecond), s[len(s)-1].Round(time.Millisecond))
}
