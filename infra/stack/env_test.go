package stack

import (
	"strings"
	"testing"
	"time"
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
		{"links valid longer than SigV4 allows", func(e *Environment) { e.URLExpiry = 8 * 24 * time.Hour }, "URL expiry 192h0m0s"},
		{"a visibility timeout in fractions of seconds", func(e *Environment) { e.VisibilityTimeout = 1500 * time.Millisecond }, "visibility timeout 1.5s"},
		{"a stop timeout over Fargate's 120 s", func(e *Environment) { e.GracePeriod = 116 * time.Second }, "exceeds Fargate's 120s"},
		{"no concurrency", func(e *Environment) { e.Concurrency = 0 }, "concurrency 0"},
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
