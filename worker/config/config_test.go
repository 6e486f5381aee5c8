package config

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/thumbq/thumbq/worker/fit"
	"github.com/thumbq/thumbq/worker/thumb"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func required() map[string]string {
	return map[string]string{
		EnvSourceBucket: "src", EnvThumbnailBucket: "thumbs", EnvQueueURL: "https://sqs/q",
		EnvDeadLetterURL: "https://sqs/dlq", EnvTopicARN: "arn:aws:sns:us-east-1:1:t",
	}
}

func TestLoadTakesDefaults(t *testing.T) {
	c, err := Load(env(required()))
	if err != nil {
		t.Fatal(err)
	}
	if c.ThumbWidth != 64 || c.ThumbHeight != 64 || c.MaxPixels != 100_000_000 || c.GracePeriod != DefaultGracePeriod {
		t.Errorf("Load = %+v; want the defaults", c)
	}
	if c.Concurrency < 1 {
		t.Errorf("Concurrency = %d; want the CPU count", c.Concurrency)
	}
}

func TestLoadReadsEveryVariable(t *testing.T) {
	m := required()
	m[EnvThumbWidth], m[EnvThumbHeight] = "128", "96"
	m[EnvMaxBytes], m[EnvMaxPixels] = "1000", "2000"
	m[EnvConcurrency] = "3"
	m[EnvURLExpiry], m[EnvVisibilityTimeout], m[EnvGracePeriod] = "2h", "90s", "10s"
	m[EnvImageTimeout] = "45s"
	m[EnvLogLevel] = "DEBUG"
	c, err := Load(env(m))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{SourceBucket: "src", ThumbnailBucket: "thumbs", QueueURL: "https://sqs/q", DeadLetterURL: "https://sqs/dlq",
		TopicARN: "arn:aws:sns:us-east-1:1:t", ThumbWidth: 128, ThumbHeight: 96, MaxBytes: 1000, MaxPixels: 2000,
		Concurrency: 3, URLExpiry: 2 * time.Hour, VisibilityTimeout: 90 * time.Second, GracePeriod: 10 * time.Second,
		ImageTimeout: 45 * time.Second, WaitTime: DefaultWaitTime, RetryBase: DefaultRetryBase, LogLevel: "debug"}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Load = %+v;\nwant %+v", c, want)
	}
}

func TestLoadReadsTheSizes(t *testing.T) {
	m := required()
	m[EnvSizes] = "64x64, 256x256:cover,1024x1024:contain"
	c, err := Load(env(m))
	if err != nil {
		t.Fatal(err)
	}
	if got := fit.Format(c.Boxes()); got != "64x64,256x256:cover,1024x1024" {
		t.Errorf("Load(%s=%q).Boxes() = %s; want 64x64,256x256:cover,1024x1024", EnvSizes, m[EnvSizes], got)
	}
	delete(m, EnvSizes)
	m[EnvThumbWidth], m[EnvThumbHeight] = "128", "96"
	if c, err = Load(env(m)); err != nil || fit.Format(c.Boxes()) != "128x96" {
		t.Errorf("Load(width 128, height 96).Boxes() = %v, %v; want 128x96", c.Boxes(), err)
	}
	if c, err = Load(env(required())); err != nil || fit.Format(c.Boxes()) != "64x64" {
		t.Errorf("Load(defaults).Boxes() = %v, %v; want 64x64", c.Boxes(), err)
	}
}

func TestLoadNamesTheBadVariable(t *testing.T) {
	tests := []struct {
		name, variable, value string
	}{
		{"a missing source bucket is named", EnvSourceBucket, ""},
		{"a missing topic is named", EnvTopicARN, " "},
		{"a width that is no number is named", EnvThumbWidth, "wide"},
		{"a zero height is named", EnvThumbHeight, "0"},
		{"a size list with an unknown mode is named", EnvSizes, "64x64:crop"},
		{"a size list with a side over the bound is named", EnvSizes, "64x5000"},
		{"a size list with nine sizes is named", EnvSizes, "1x1,2x2,3x3,4x4,5x5,6x6,7x7,8x8,9x9"},
		{"a size list with a size twice is named", EnvSizes, "64x64,64x64:contain"},
		{"a negative byte cap is named", EnvMaxBytes, "-1"},
		{"a duration without unit is named", EnvURLExpiry, "3600"},
		{"a URL lifetime over SigV4's 7 days is named", EnvURLExpiry, "169h"},
		{"a grace period over Fargate's stop timeout is named", EnvGracePeriod, "5m"},
		{"an unknown log level is named", EnvLogLevel, "loud"},
		{"zero concurrency is named", EnvConcurrency, "0"},
		{"a thumbnail bucket equal to the source bucket is named", EnvThumbnailBucket, "src"},
		{"a dead-letter queue equal to the work queue is named", EnvDeadLetterURL, "https://sqs/q"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := required()
			m[tt.variable] = tt.value
			_, err := Load(env(m))
			if err == nil || !strings.Contains(err.Error(), tt.variable) {
				t.Errorf("Load with %s=%q: error %v; want one naming %s", tt.variable, tt.value, err, tt.variable)
			}
		})
	}
}

func TestVariablesListsEveryName(t *testing.T) {
	names := map[string]bool{}
	for _, v := range Variables() {
		names[v.Name] = true
	}
	// Every variable Load reads must be documented: read them back through a recording getenv.
	seen := map[string]bool{}
	Load(func(k string) string { seen[k] = true; return "" })
	for k := range seen {
		if !names[k] {
			t.Errorf("Load reads %s but Variables() does not list it", k)
		}
	}
	if len(names) != len(seen) {
		t.Errorf("Variables() lists %d names; Load reads %d", len(names), len(seen))
	}
}

func TestStopTimeoutCoversTheGracePeriod(t *testing.T) {
	if got := StopTimeout(DefaultGracePeriod); got <= DefaultGracePeriod || got > 120*time.Second {
		t.Errorf("StopTimeout(%s) = %s; want more than the grace period and at most Fargate's 120 s", DefaultGracePeriod, got)
	}
}

// TestREADMEDocumentsEveryVariable keeps the README's configuration table true to the code.
func TestREADMEDocumentsEveryVariable(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, v := range Variables() {
		def := v.Default
		if v.Required {
			def = "required"
		}
		row := "| `" + v.Name + "` | " + def + " |"
		if !strings.Contains(readme, row) {
			t.Errorf("README.md has no row starting %q", row)
		}
	}
}

func TestValidateRefusesWhatLoadWould(t *testing.T) {
	ok := func() Config {
		c := Defaults()
		c.SourceBucket, c.ThumbnailBucket, c.QueueURL, c.DeadLetterURL, c.TopicARN = "src", "thumbs", "q", "dlq", "t"
		return c
	}
	if err := ok().Validate(); err != nil {
		t.Fatalf("Validate(defaults with names) = %v; want nil", err)
	}
	tests := []struct {
		name, variable string
		change         func(*Config)
	}{
		{"the defaults alone lack the required names", EnvSourceBucket, func(c *Config) { *c = Defaults() }},
		{"a visibility timeout in part seconds is refused (SQS takes whole seconds)", EnvVisibilityTimeout, func(c *Config) { c.VisibilityTimeout = 1500 * time.Millisecond }},
		{"a grace period past Fargate's stop timeout is refused", EnvGracePeriod, func(c *Config) { c.GracePeriod = MaxGracePeriod + time.Second }},
		{"an image time budget under a second is refused", EnvImageTimeout, func(c *Config) { c.ImageTimeout = time.Second - 1 }},
		{"an image time budget over an hour is refused", EnvImageTimeout, func(c *Config) { c.ImageTimeout = MaxImageTimeout + time.Second }},
		{"a zero concurrency is refused", EnvConcurrency, func(c *Config) { c.Concurrency = 0 }},
		{"a box wider than the bound is refused", EnvThumbWidth, func(c *Config) { c.ThumbWidth = MaxThumbSide + 1 }},
		{"an empty size list is refused", EnvSizes, func(c *Config) { c.Sizes = []fit.Box{} }},
		{"sizes with a box of zero pixels are refused", EnvSizes, func(c *Config) { c.Sizes = []fit.Box{{Width: 0, Height: 5, Mode: fit.Cover}} }},
		{"sizes and a width together are refused", EnvSizes, func(c *Config) { c.Sizes, c.ThumbWidth = fit.MustParse("64x64"), 100 }},
		{"a long poll past SQS's 20 s is refused", "wait time", func(c *Config) { c.WaitTime = time.Minute }},
		{"an unknown log level is refused", EnvLogLevel, func(c *Config) { c.LogLevel = "loud" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok()
			tt.change(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.variable) {
				t.Errorf("Validate() = %v; want an error naming %s", err, tt.variable)
			}
		})
	}
}

// TestTheEngineDefaultsAreTheWorkers: the image engine cannot import this package (it knows
// nothing of the worker), so its zero-Options pixel limit is its own constant; it must be ours.
func TestTheEngineDefaultsAreTheWorkers(t *testing.T) {
	if DefaultMaxPixels != thumb.DefaultMaxPixels || DefaultThumbSize != thumb.DefaultSize {
		t.Errorf("config's defaults %d px, %d MP differ from thumb's %d px, %d MP",
			DefaultThumbSize, DefaultMaxPixels, thumb.DefaultSize, thumb.DefaultMaxPixels)
	}
}
