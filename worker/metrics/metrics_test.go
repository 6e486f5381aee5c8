package metrics

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/thumbq/thumbq/worker/event"
	"github.com/thumbq/thumbq/worker/failure"
	"github.com/thumbq/thumbq/worker/pipeline"
)

// emf is an EMF line as CloudWatch reads it: the metadata, and the values by name.
type emf struct {
	AWS struct {
		Timestamp         int64
		CloudWatchMetrics []struct {
			Namespace  string
			Dimensions [][]string
			Metrics    []struct{ Name, Unit string }
		}
	} `json:"_aws"`
	Values map[string]any `json:"-"`
}

func parse(t *testing.T, line string) emf {
	t.Helper()
	var e emf
	if err := json.Unmarshal([]byte(line), &e); err != nil {
		t.Fatalf("%q: %v", line, err)
	}
	json.Unmarshal([]byte(line), &e.Values)
	// Every declared metric and dimension has a value in the line, as CloudWatch requires.
	for _, d := range e.AWS.CloudWatchMetrics[0].Dimensions {
		for _, name := range d {
			if _, ok := e.Values[name].(string); !ok {
				t.Errorf("dimension %s has no string value in %s", name, line)
			}
		}
	}
	for _, m := range e.AWS.CloudWatchMetrics[0].Metrics {
		if _, ok := e.Values[m.Name].(float64); !ok {
			t.Errorf("metric %s has no number in %s", m.Name, line)
		}
	}
	return e
}

func TestOneEMFLinePerOutcome(t *testing.T) {
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	var buf bytes.Buffer
	waits := int64(0)
	e := &Emitter{W: &buf, Stack: "thumbq-prod", Now: func() time.Time { return now }, Waits: func() int64 { return waits }}
	obj := event.Object{Bucket: "b", Key: "a.jpg", Size: 2048, Time: now.Add(-1500 * time.Millisecond)}
	e.Observe(pipeline.Outcome{Result: pipeline.Result{Object: obj, Status: pipeline.OK, MakeTime: 42 * time.Millisecond}})
	waits = 3
	e.Observe(pipeline.Outcome{Result: pipeline.Result{Object: obj, Status: pipeline.Failed}, Err: failure.New(failure.NotImage, "", "text")})
	e.Observe(pipeline.Outcome{Result: pipeline.Result{Object: event.Object{Size: -1}, Status: pipeline.Skipped}})

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines; want 3:\n%s", len(lines), buf.String())
	}
	for i, tc := range []struct {
		name   string
		values map[string]any
		dims   int
	}{
		{"processed", map[string]any{"Processed": 1.0, "Latency": 1500.0, "DecodeTime": 42.0, "SourceBytes": 2048.0, "MemoryWaits": 0.0}, 1},
		{"failed by reason", map[string]any{"Failed": 1.0, "Reason": "not-an-image", "MemoryWaits": 3.0}, 2},
		{"skipped", map[string]any{"Skipped": 1.0, "MemoryWaits": 0.0}, 1},
	} {
		got := parse(t, lines[i])
		if got.AWS.CloudWatchMetrics[0].Namespace != Namespace || got.AWS.Timestamp != now.UnixMilli() || got.Values["Stack"] != "thumbq-prod" {
			t.Errorf("%s: %s; want namespace %s, the time, Stack", tc.name, lines[i], Namespace)
		}
		if n := len(got.AWS.CloudWatchMetrics[0].Dimensions); n != tc.dims {
			t.Errorf("%s: %d dimension sets; want %d", tc.name, n, tc.dims)
		}
		for k, v := range tc.values {
			if got.Values[k] != v {
				t.Errorf("%s: %s = %v; want %v", tc.name, k, got.Values[k], v)
			}
		}
	}
}
