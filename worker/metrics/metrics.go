// Package metrics writes the worker's own CloudWatch metrics as embedded-metric-format (EMF) lines
// on its log: CloudWatch Logs turns each line into metrics of the namespace thumbq, with the
// dimension Stack (and Reason for failures), at no API call and no extra permission. Per outcome:
// Processed, Skipped or Failed (by reason code), Latency (upload to notification, from the
// event's time), DecodeTime (decoding and making the thumbnails), SourceBytes; and MemoryWaits, the admissions that waited for the memory budget
// since the previous line.
package metrics

import (
	"encoding/json"
	"io"
	"sync"
	"time"

	"github.com/thumbq/thumbq/worker/pipeline"
)

// Namespace is the CloudWatch namespace of the worker's metrics (the stack's dashboard reads it).
const Namespace = "thumbq"

// EnvStack names the dimension Stack's value: the stack sets it to its own name.
const EnvStack = "THUMBQ_STACK"

// Emitter writes one EMF line per outcome. Safe for concurrent use.
type Emitter struct {
	W     io.Writer
	Stack string
	// Waits, when set, returns the memory budget's count of admissions that waited so far
	// (budget.Budget.Waits).
	Waits func() int64
	Now   func() time.Time // nil: time.Now

	mu        sync.Mutex
	lastWaits int64
}

type metric struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

// Observe is a pipeline.Handler's OnOutcome: it writes the outcome's line.
func (e *Emitter) Observe(o pipeline.Outcome) {
	now := time.Now
	if e.Now != nil {
		now = e.Now
	}
	t := now()
	line := map[string]any{"Stack": e.Stack}
	dims := [][]string{{"Stack"}}
	var ms []metric
	count := func(name string) {
		line[name] = 1
		ms = append(ms, metric{name, "Count"})
	}
	switch o.Status {
	case pipeline.OK:
		count("Processed")
		if !o.Object.Time.IsZero() {
			line["Latency"] = t.Sub(o.Object.Time).Milliseconds()
			ms = append(ms, metric{"Latency", "Milliseconds"})
		}
		if o.MakeTime > 0 {
			line["DecodeTime"] = o.MakeTime.Milliseconds()
			ms = append(ms, metric{"DecodeTime", "Milliseconds"})
		}
	case pipeline.Skipped:
		count("Skipped")
	default:
		count("Failed")
		reason := "unknown"
		if o.Err != nil {
			reason = string(o.Err.Code)
		}
		line["Reason"] = reason
		dims = append(dims, []string{"Stack", "Reason"})
	}
	if o.Object.Size >= 0 {
		line["SourceBytes"] = o.Object.Size
		ms = append(ms, metric{"SourceBytes", "Bytes"})
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.Waits != nil {
		w := e.Waits()
		line["MemoryWaits"] = w - e.lastWaits
		e.lastWaits = w
		ms = append(ms, metric{"MemoryWaits", "Count"})
	}
	line["_aws"] = map[string]any{
		"Timestamp": t.UnixMilli(),
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace": Namespace, "Dimensions": dims, "Metrics": ms,
		}},
	}
	b, _ := json.Marshal(line)
	e.W.Write(append(b, '\n'))
}
