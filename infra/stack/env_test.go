package stack

import (
	"strings"
	"testing"
	"time"

	"github.com/thumbq/thumbq/worker/config"
)

func TestLookup(t *testing.T) {
	for _, tc := range []struct {
		name, want, wantErr string
	}{
		{name: "", want: "dev"},
		{name: "dev", want: "dev"},
		{name: "prod", want: "prod"},
		{name: "staging", wantErr: `unknown environment "staging" (-c env=dev|prod)`},
	} {
		t.Run("env "+tc.name, func(t *testing.T) {
			e, err := Lookup(tc.name)
			switch {
			case tc.wantErr != "" && (err == nil || err.Error() != tc.wantErr):
				t.Errorf("Lookup(%q) error = %v; want %q", tc.name, err, tc.wantErr)
			case tc.wantErr == "" && err != nil:
				t.Errorf("Lookup(%q) error = %v; want none", tc.name, err)
			case tc.wantErr == "" && e.Name != tc.want:
				t.Errorf("Lookup(%q) = %q; want %q", tc.name, e.Name, tc.want)
			}
		})
	}
}

func TestValidateRefusesSettingsTheWorkerOrFargateCannotHonour(t *testing.T) {
	for _, tc := range []struct {
		what   string
		change func(*Environment)
		want   string
	}{
		{"min above max", func(e *Environment) { e.MinTasks, e.MaxTasks = 3, 2 }, "tasks min 3, max 2"},
		{"no task at all", func(e *Environment) { e.MaxTasks = 0 }, "tasks min 0, max 0"},
		{"expiry of 0 days", func(e *Environment) { e.ThumbnailExpiryDays = 0 }, "thumbnail expiry 0 days"},
		{"a stop timeout in fractions of seconds", func(e *Environment) { e.GracePeriod = 2500 * time.Millisecond }, "stop timeout 7.5s is not whole seconds"},
		// The worker's own bounds, from config.Validate: the error names the variable.
		{"links valid longer than SigV4 allows", func(e *Environment) { e.URLExpiry = config.MaxURLExpiry + time.Hour }, config.EnvURLExpiry + ": 169h0m0s"},
		{"a visibility timeout in fractions of seconds", func(e *Environment) { e.VisibilityTimeout = 1500 * time.Millisecond }, config.EnvVisibilityTimeout + ": 1.5s"},
		{"a visibility timeout over SQS's 12 h", func(e *Environment) { e.VisibilityTimeout = config.MaxVisibilityTimeout + time.Second }, config.EnvVisibilityTimeout + ": 12h0m1s"},
		{"a stop timeout over Fargate's", func(e *Environment) { e.GracePeriod = config.MaxGracePeriod + time.Second }, config.EnvGracePeriod + ": 1m56s"},
		{"no concurrency", func(e *Environment) { e.Concurrency = 0 }, config.EnvConcurrency + ": 0"},
		{"more concurrency than the worker takes", func(e *Environment) { e.Concurrency = config.MaxConcurrency + 1 }, config.EnvConcurrency + ": 1025"},
	} {
		t.Run(tc.what, func(t *testing.T) {
			e := Environments["dev"]
			tc.change(&e)
			if err := e.validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("validate() = %v; want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestContextSetsTheWorkersSettingsCheckedAtSynth(t *testing.T) {
	prod, err := Lookup("prod")
	if err != nil {
		t.Fatal(err)
	}
	ctx := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	got, err := prod.WithContext(ctx(map[string]string{"sizes": "128x128", "logLevel": "debug", "maxPixels": "50000000", "minTasks": "2", "maxTasks": "4"}))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := got.loadWorkerConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.LogLevel != "debug" || cfg.MaxPixels != 50_000_000 || got.MinTasks != 2 || got.MaxTasks != 4 || got.Worker[config.EnvSizes] != "128x128" {
		t.Errorf("with context: %+v, worker %+v; want debug, 50 MP, 2-4 tasks, sizes 128x128", got, cfg)
	}
	if len(prod.Worker) != 0 {
		t.Errorf("WithContext changed the environment it was called on: %v", prod.Worker)
	}
	for _, tc := range []struct {
		name string
		kv   map[string]string
		want string
	}{
		{"a log level the worker refuses", map[string]string{"logLevel": "loud"}, config.EnvLogLevel},
		{"sizes the worker cannot parse", map[string]string{"sizes": "big"}, config.EnvSizes},
		{"a pixel limit that is not a number", map[string]string{"maxPixels": "many"}, config.EnvMaxPixels},
		{"more minimum than maximum tasks", map[string]string{"minTasks": "5", "maxTasks": "3"}, "tasks min 5, max 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := prod.WithContext(ctx(tc.kv)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("WithContext(%v) = %v; want an error naming %s", tc.kv, err, tc.want)
			}
		})
	}
}
