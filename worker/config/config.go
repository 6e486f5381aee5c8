// Package config holds the worker's configuration: the names of the environment variables that the
// CDK stack hands to the container (infra imports them from here, so the two cannot drift), their
// defaults, and Load, which reads and validates them at start-up.
package config

import (
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Names of the environment variables the worker reads. The CDK stack sets them on the container.
const (
	EnvSourceBucket      = "THUMBQ_SOURCE_BUCKET"      // bucket the uploads land in; events for other buckets are refused
	EnvThumbnailBucket   = "THUMBQ_THUMBNAIL_BUCKET"   // bucket the thumbnails are written to
	EnvQueueURL          = "THUMBQ_QUEUE_URL"          // work queue
	EnvDeadLetterURL     = "THUMBQ_DEAD_LETTER_URL"    // dead-letter queue of the work queue
	EnvTopicARN          = "THUMBQ_TOPIC_ARN"          // SNS topic for notifications
	EnvThumbWidth        = "THUMBQ_THUMB_WIDTH"        // box the thumbnail fits in, pixels
	EnvThumbHeight       = "THUMBQ_THUMB_HEIGHT"       //
	EnvMaxBytes          = "THUMBQ_MAX_BYTES"          // largest source object downloaded, bytes
	EnvMaxPixels         = "THUMBQ_MAX_PIXELS"         // largest source image decoded, width*height
	EnvConcurrency       = "THUMBQ_CONCURRENCY"        // images processed at once
	EnvURLExpiry         = "THUMBQ_URL_EXPIRY"         // presigned URL lifetime (Go duration)
	EnvVisibilityTimeout = "THUMBQ_VISIBILITY_TIMEOUT" // the work queue's visibility timeout (Go duration)
	EnvGracePeriod       = "THUMBQ_GRACE_PERIOD"       // time in-flight work gets after SIGTERM (Go duration)
	EnvLogLevel          = "THUMBQ_LOG_LEVEL"          // debug, info, warn, error
)

// Defaults. infra derives the queue's visibility timeout and the container's stop timeout from these.
const (
	DefaultThumbWidth        = 64
	DefaultThumbHeight       = 64
	DefaultMaxBytes          = 64 << 20    // 64 MiB
	DefaultMaxPixels         = 100_000_000 // 100 megapixels
	DefaultURLExpiry         = 24 * time.Hour
	DefaultVisibilityTimeout = 60 * time.Second
	DefaultGracePeriod       = 25 * time.Second
	// StopTimeoutMargin is what the container's stop timeout adds to the grace period, for the
	// worker to release what did not finish (visibility 0) and exit before SIGKILL.
	StopTimeoutMargin = 5 * time.Second
	// MaxURLExpiry is the longest lifetime SigV4 allows a presigned URL (7 days). URLs signed with
	// temporary credentials (an ECS task role) stop working when those credentials expire, which is
	// earlier; the worker caps the lifetime at the credentials' expiry.
	MaxURLExpiry = 7 * 24 * time.Hour
)

// Config is the worker's whole configuration.
type Config struct {
	SourceBucket      string
	ThumbnailBucket   string
	QueueURL          string
	DeadLetterURL     string
	TopicARN          string
	ThumbWidth        int
	ThumbHeight       int
	MaxBytes          int64
	MaxPixels         int64
	Concurrency       int
	URLExpiry         time.Duration
	VisibilityTimeout time.Duration
	GracePeriod       time.Duration
	LogLevel          string
}

// Defaults returns a Config with every optional setting at its default and the required ones empty.
func Defaults() Config {
	return Config{
		ThumbWidth:        DefaultThumbWidth,
		ThumbHeight:       DefaultThumbHeight,
		MaxBytes:          DefaultMaxBytes,
		MaxPixels:         DefaultMaxPixels,
		Concurrency:       DefaultConcurrency(),
		URLExpiry:         DefaultURLExpiry,
		VisibilityTimeout: DefaultVisibilityTimeout,
		GracePeriod:       DefaultGracePeriod,
		LogLevel:          "info",
	}
}

// DefaultConcurrency is the number of CPUs Go may use (GOMAXPROCS, which follows the container's
// CPU limit): decoding is CPU-bound, so more would add memory (a format decoded at full size
// holds its whole bitmap), not speed.
func DefaultConcurrency() int { return runtime.GOMAXPROCS(0) }

// Load reads the configuration from getenv (os.Getenv in production) and validates it. The error
// names the variable that is missing or bad.
func Load(getenv func(string) string) (Config, error) {
	c := Defaults()
	var errs []string
	bad := func(name, why string) { errs = append(errs, fmt.Sprintf("%s: %s", name, why)) }

	required := func(name string, dst *string) {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			bad(name, "required, not set")
			return
		}
		*dst = v
	}
	required(EnvSourceBucket, &c.SourceBucket)
	required(EnvThumbnailBucket, &c.ThumbnailBucket)
	required(EnvQueueURL, &c.QueueURL)
	required(EnvDeadLetterURL, &c.DeadLetterURL)
	required(EnvTopicARN, &c.TopicARN)

	intVar := func(name string, dst *int, min, max int) {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			return
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < min || n > max {
			bad(name, fmt.Sprintf("%q is not a whole number from %d to %d", v, min, max))
			return
		}
		*dst = n
	}
	int64Var := func(name string, dst *int64, min int64) {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			return
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < min {
			bad(name, fmt.Sprintf("%q is not a whole number of at least %d", v, min))
			return
		}
		*dst = n
	}
	durVar := func(name string, dst *time.Duration, min, max time.Duration) {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			return
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < min || d > max {
			bad(name, fmt.Sprintf("%q is not a duration from %s to %s (e.g. 90s, 12h)", v, min, max))
			return
		}
		*dst = d
	}
	intVar(EnvThumbWidth, &c.ThumbWidth, 1, 4096)
	intVar(EnvThumbHeight, &c.ThumbHeight, 1, 4096)
	int64Var(EnvMaxBytes, &c.MaxBytes, 1)
	int64Var(EnvMaxPixels, &c.MaxPixels, 1)
	intVar(EnvConcurrency, &c.Concurrency, 1, 1024)
	durVar(EnvURLExpiry, &c.URLExpiry, time.Second, MaxURLExpiry)
	durVar(EnvVisibilityTimeout, &c.VisibilityTimeout, time.Second, 12*time.Hour)
	durVar(EnvGracePeriod, &c.GracePeriod, 0, 115*time.Second) // Fargate's stop timeout is at most 120 s

	if v := strings.ToLower(strings.TrimSpace(getenv(EnvLogLevel))); v != "" {
		switch v {
		case "debug", "info", "warn", "error":
			c.LogLevel = v
		default:
			bad(EnvLogLevel, fmt.Sprintf("%q is not one of debug, info, warn, error", v))
		}
	}
	if c.SourceBucket != "" && c.SourceBucket == c.ThumbnailBucket {
		bad(EnvThumbnailBucket, "must differ from "+EnvSourceBucket+": thumbnails written to the source bucket would be thumbnailed again, forever")
	}
	if c.QueueURL != "" && c.QueueURL == c.DeadLetterURL {
		bad(EnvDeadLetterURL, "must differ from "+EnvQueueURL)
	}
	if len(errs) > 0 {
		return Config{}, fmt.Errorf("configuration: %s", strings.Join(errs, "; "))
	}
	return c, nil
}

// StopTimeout is the container stop timeout that matches a grace period: ECS sends SIGTERM, waits
// this long, then SIGKILL.
func StopTimeout(grace time.Duration) time.Duration { return grace + StopTimeoutMargin }

// Variable describes one environment variable, for help texts and documentation.
type Variable struct {
	Name     string
	Default  string // "" for required ones
	Required bool
	Help     string
}

// Variables lists every variable Load reads, in the order a reader wants them.
func Variables() []Variable {
	d := Defaults()
	return []Variable{
		{EnvSourceBucket, "", true, "bucket the uploads land in; events naming another bucket are refused"},
		{EnvThumbnailBucket, "", true, "bucket the thumbnails are written to"},
		{EnvQueueURL, "", true, "work queue URL"},
		{EnvDeadLetterURL, "", true, "dead-letter queue URL"},
		{EnvTopicARN, "", true, "SNS topic the notifications are published to"},
		{EnvThumbWidth, strconv.Itoa(d.ThumbWidth), false, "width of the box the thumbnail fits in (aspect ratio kept)"},
		{EnvThumbHeight, strconv.Itoa(d.ThumbHeight), false, "height of that box"},
		{EnvMaxBytes, strconv.FormatInt(d.MaxBytes, 10), false, "largest object downloaded, in bytes"},
		{EnvMaxPixels, strconv.FormatInt(d.MaxPixels, 10), false, "largest image decoded, width x height"},
		{EnvConcurrency, "CPUs", false, "images processed at once (JPEG and PNG are decoded already reduced; a GIF, WebP, BMP, TIFF or CMYK JPEG may hold a decoded bitmap of up to 4 bytes x THUMBQ_MAX_PIXELS)"},
		{EnvURLExpiry, d.URLExpiry.String(), false, "presigned link lifetime; at most 168h, and never past the signing credentials' expiry"},
		{EnvVisibilityTimeout, d.VisibilityTimeout.String(), false, "the work queue's visibility timeout; renewed every third of it while an image is worked on"},
		{EnvGracePeriod, d.GracePeriod.String(), false, "time in-flight work gets after SIGTERM before it is handed back"},
		{EnvLogLevel, d.LogLevel, false, "debug, info, warn or error"},
	}
}
