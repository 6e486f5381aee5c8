// Package config holds the worker's configuration: the names of the environment variables that the
// CDK stack hands to the container (infra imports them from here, so the two cannot drift), their
// defaults, and Load, which reads and validates them at start-up.
package config

import (
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/thumbq/thumbq/worker/fit"
)

// Names of the environment variables the worker reads. The CDK stack sets them on the container.
const (
	EnvSourceBucket      = "THUMBQ_SOURCE_BUCKET"      // bucket the uploads land in; events for other buckets are refused
	EnvThumbnailBucket   = "THUMBQ_THUMBNAIL_BUCKET"   // bucket the thumbnails are written to
	EnvQueueURL          = "THUMBQ_QUEUE_URL"          // work queue
	EnvDeadLetterURL     = "THUMBQ_DEAD_LETTER_URL"    // dead-letter queue of the work queue
	EnvTopicARN          = "THUMBQ_TOPIC_ARN"          // SNS topic for notifications
	EnvSizes             = "THUMBQ_SIZES"              // thumbnails to make: boxes and fit modes (see package fit)
	EnvThumbWidth        = "THUMBQ_THUMB_WIDTH"        // box of the one thumbnail when THUMBQ_SIZES is not set, pixels
	EnvThumbHeight       = "THUMBQ_THUMB_HEIGHT"       //
	EnvMaxBytes          = "THUMBQ_MAX_BYTES"          // largest source object downloaded, bytes
	EnvMaxPixels         = "THUMBQ_MAX_PIXELS"         // largest source image decoded, width*height
	EnvConcurrency       = "THUMBQ_CONCURRENCY"        // images processed at once
	EnvURLExpiry         = "THUMBQ_URL_EXPIRY"         // presigned URL lifetime (Go duration)
	EnvVisibilityTimeout = "THUMBQ_VISIBILITY_TIMEOUT" // the work queue's visibility timeout (Go duration)
	EnvGracePeriod       = "THUMBQ_GRACE_PERIOD"       // time in-flight work gets after SIGTERM (Go duration)
	EnvMemoryBudget      = "THUMBQ_MEMORY_BUDGET"      // bytes decoding may use at once; default: the container's limit less a reserve
	EnvImageTimeout      = "THUMBQ_IMAGE_TIMEOUT"      // longest time one image's thumbnails may take to make (Go duration)
	EnvLogLevel          = "THUMBQ_LOG_LEVEL"          // debug, info, warn, error
)

// Defaults. infra derives the queue's visibility timeout and the container's stop timeout from these.
const (
	DefaultThumbSize         = fit.DefaultSide // the thumbnail box is DefaultThumbSize x DefaultThumbSize
	DefaultThumbWidth        = DefaultThumbSize
	DefaultThumbHeight       = DefaultThumbSize
	DefaultMaxBytes          = 64 << 20    // 64 MiB
	DefaultMaxPixels         = 100_000_000 // 100 megapixels
	DefaultURLExpiry         = 24 * time.Hour
	DefaultVisibilityTimeout = 60 * time.Second
	DefaultGracePeriod       = 25 * time.Second
	DefaultImageTimeout      = 30 * time.Second // a 100 MP worst case takes under 10 s on one core
	DefaultWaitTime          = 20 * time.Second // SQS long-poll wait, the longest SQS allows
	DefaultRetryBase         = 10 * time.Second // first delay before a transient failure is retried; it triples each receive
	DefaultLogLevel          = "info"
)

// Bounds. Validate checks a Config against them and infra checks its environments against them,
// so a setting the worker would refuse cannot be deployed.
const (
	MinThumbSide, MaxThumbSide     = fit.MinSide, fit.MaxSide
	MaxSizes                       = fit.MaxSizes // boxes in THUMBQ_SIZES
	MinConcurrency, MaxConcurrency = 1, 1024
	MinURLExpiry                   = time.Second
	// MaxURLExpiry is the longest lifetime SigV4 allows a presigned URL (7 days). URLs signed with
	// temporary credentials (an ECS task role) stop working when those credentials expire, which is
	// earlier; the worker caps the lifetime at the credentials' expiry.
	MaxURLExpiry = 7 * 24 * time.Hour
	// SQS takes a visibility timeout in whole seconds, up to 12 hours. The worker renews it every
	// third of it while it works (the heartbeat); below 3 s a renewal would be due more often than
	// once a second, closer than one SQS round trip under load can promise, so it is refused.
	MinVisibilityTimeout = 3 * time.Second
	MaxVisibilityTimeout = 12 * time.Hour
	MaxWaitTime          = 20 * time.Second // SQS's longest long poll
	MaxRetryDelay        = MaxVisibilityTimeout
	// An image's time budget: at least a second, at most an hour (the heartbeat keeps the message
	// meanwhile).
	MinImageTimeout, MaxImageTimeout = time.Second, time.Hour
	// MaxStopTimeout is the longest container stop timeout Fargate allows (SIGTERM to SIGKILL).
	MaxStopTimeout = 120 * time.Second
	// StopTimeoutMargin is what the container's stop timeout adds to the grace period, for the
	// worker to release what did not finish (visibility 0) and exit before SIGKILL.
	StopTimeoutMargin = 5 * time.Second
	MaxGracePeriod    = MaxStopTimeout - StopTimeoutMargin
	// MaxReceiveCount is the work queue's redrive policy: after this many receives SQS moves a
	// message to the dead-letter queue. The stack and the local emulator both use it.
	MaxReceiveCount = 3
	// MarkerPrefix is where the worker keeps its notification markers in the thumbnail bucket
	// (package pipeline); the stack lets the worker delete objects under it and nowhere else.
	MarkerPrefix = "_thumbq/notified/"
	// QueueMaxReceiveCount is the redrive policy the stack and the emulator give the work queue:
	// two receives more than the worker's own MaxReceiveCount, as a backstop for workers killed
	// while they work (a SIGKILL, an OOM kill, a lost host), which never get to say why. The
	// worker itself dead-letters, with the reason, on its MaxReceiveCount-th failing receive, so a
	// message reaches the dead-letter queue without a reason only if its worker dies on three
	// receives in a row.
	QueueMaxReceiveCount = MaxReceiveCount + 2
	// LastReceiveRetryWindow is how long the worker keeps trying a message in-process on its last
	// receive (MaxReceiveCount), the heartbeat holding it, before it dead-letters it as
	// retries-exhausted: a transient failure there is tried again after 1, 2, 4, 8 and 16 s,
	// rather than ending the upload after one attempt. A stop ends the tries at once; the message
	// is then handed back while SQS allows another receive (QueueMaxReceiveCount).
	LastReceiveRetryWindow = time.Minute
	// RequestTimeout bounds each call that records a message's fate (delete, change visibility,
	// send to the dead-letter queue, publish), so a stop is never held up by a silent endpoint.
	RequestTimeout = 15 * time.Second
	// HookTimeout bounds the handler's work after a message is dead-lettered (its failure
	// notification, which may wait for another delivery's claim; see package pipeline).
	HookTimeout = 3 * RequestTimeout
	// ReceiveFailureLimit is how long receives may keep failing (a dead endpoint, throttling that
	// never ends) before the worker gives up and exits non-zero, so that ECS sees the task fail.
	ReceiveFailureLimit = 5 * time.Minute
	// StopReceiveWait is how long a stop waits for a long poll under way to return (its messages
	// are then handed back) before cancelling it, so an idle worker exits within a second.
	StopReceiveWait = 500 * time.Millisecond
)

// Config is the worker's whole configuration.
type Config struct {
	SourceBucket      string
	ThumbnailBucket   string
	QueueURL          string
	DeadLetterURL     string
	TopicARN          string
	Sizes             []fit.Box // nil: one contain box of ThumbWidth x ThumbHeight (see Boxes)
	ThumbWidth        int
	ThumbHeight       int
	MaxBytes          int64
	MaxPixels         int64
	Concurrency       int
	URLExpiry         time.Duration
	VisibilityTimeout time.Duration
	GracePeriod       time.Duration
	ImageTimeout      time.Duration // the time one image may take; over it, it fails as too-slow
	MemoryBudget      int64         // 0: derived at start-up from the container's memory limit (package budget)
	WaitTime          time.Duration // not from the environment: local mode polls for 1 s so a stop is quick
	RetryBase         time.Duration // not from the environment: local mode retries after 1 s
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
		ImageTimeout:      DefaultImageTimeout,
		WaitTime:          DefaultWaitTime,
		RetryBase:         DefaultRetryBase,
		LogLevel:          DefaultLogLevel,
	}
}

// Boxes are the thumbnails to make: Sizes, or one contain box of ThumbWidth x ThumbHeight.
func (c Config) Boxes() []fit.Box {
	if len(c.Sizes) > 0 {
		return c.Sizes
	}
	return []fit.Box{{Width: c.ThumbWidth, Height: c.ThumbHeight, Mode: fit.Contain}}
}

// DefaultConcurrency is the number of CPUs Go may use (GOMAXPROCS, which follows the container's
// CPU limit): decoding is CPU-bound, so more would add memory (a format decoded at full size
// holds its whole bitmap), not speed.
func DefaultConcurrency() int { return runtime.GOMAXPROCS(0) }

// Load reads the configuration from getenv (os.Getenv in production) over the defaults, then
// validates it. The error names every variable that is missing or bad.
func Load(getenv func(string) string) (Config, error) {
	c := Defaults()
	var errs problems
	for _, v := range Variables() {
		s := strings.TrimSpace(getenv(v.Name))
		if s == "" || v.set == nil {
			continue
		}
		if err := v.set(&c, s); err != nil {
			errs.add(v.Name, fmt.Sprintf("%q %s", s, err))
		}
	}
	if len(errs) > 0 {
		return Config{}, errs.err()
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Validate checks every setting against its bounds and the settings against each other. Every
// path that builds a Config calls it: the container (Load), local mode, the bench and the emulated
// stack's tests. The error names each bad variable.
func (c Config) Validate() error {
	var errs problems
	for name, v := range map[string]string{EnvSourceBucket: c.SourceBucket, EnvThumbnailBucket: c.ThumbnailBucket,
		EnvQueueURL: c.QueueURL, EnvDeadLetterURL: c.DeadLetterURL, EnvTopicARN: c.TopicARN} {
		if strings.TrimSpace(v) == "" {
			errs.add(name, "required, not set")
		}
	}
	errs.intIn(EnvThumbWidth, c.ThumbWidth, MinThumbSide, MaxThumbSide)
	errs.intIn(EnvThumbHeight, c.ThumbHeight, MinThumbSide, MaxThumbSide)
	if c.Sizes != nil {
		if err := fit.Check(c.Sizes); err != nil {
			errs.add(EnvSizes, err.Error())
		}
		if c.ThumbWidth != DefaultThumbWidth || c.ThumbHeight != DefaultThumbHeight {
			errs.add(EnvSizes, "set it or "+EnvThumbWidth+"/"+EnvThumbHeight+", not both (a box WxH alone is the same as "+EnvThumbWidth+"=W "+EnvThumbHeight+"=H)")
		}
	}
	errs.intIn(EnvConcurrency, c.Concurrency, MinConcurrency, MaxConcurrency)
	if c.MaxBytes < 1 {
		errs.add(EnvMaxBytes, fmt.Sprintf("%d: want at least 1", c.MaxBytes))
	}
	if c.MemoryBudget != 0 && c.MemoryBudget < 64<<20 {
		errs.add(EnvMemoryBudget, fmt.Sprintf("%d: want at least %d (64 MiB), or unset to derive it from the container's limit", c.MemoryBudget, 64<<20))
	}
	if c.MaxPixels < 1 {
		errs.add(EnvMaxPixels, fmt.Sprintf("%d: want at least 1", c.MaxPixels))
	}
	errs.durationIn(EnvURLExpiry, c.URLExpiry, MinURLExpiry, MaxURLExpiry)
	errs.durationIn(EnvVisibilityTimeout, c.VisibilityTimeout, MinVisibilityTimeout, MaxVisibilityTimeout)
	if c.VisibilityTimeout%time.Second != 0 {
		errs.add(EnvVisibilityTimeout, fmt.Sprintf("%s: SQS takes whole seconds", c.VisibilityTimeout))
	}
	errs.durationIn(EnvGracePeriod, c.GracePeriod, 0, MaxGracePeriod)
	errs.durationIn(EnvImageTimeout, c.ImageTimeout, MinImageTimeout, MaxImageTimeout)
	errs.durationIn("wait time", c.WaitTime, time.Second, MaxWaitTime)
	errs.durationIn("retry base", c.RetryBase, time.Second, MaxRetryDelay)
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs.add(EnvLogLevel, fmt.Sprintf("%q is not one of debug, info, warn, error", c.LogLevel))
	}
	if c.SourceBucket != "" && c.SourceBucket == c.ThumbnailBucket {
		errs.add(EnvThumbnailBucket, "must differ from "+EnvSourceBucket+": thumbnails written to the source bucket would be thumbnailed again, forever")
	}
	if c.QueueURL != "" && c.QueueURL == c.DeadLetterURL {
		errs.add(EnvDeadLetterURL, "must differ from "+EnvQueueURL)
	}
	return errs.err()
}

// problems collects what is wrong with a configuration, one entry per variable.
type problems []string

func (p *problems) add(name, why string) { *p = append(*p, name+": "+why) }

func (p *problems) intIn(name string, v, lo, hi int) {
	if v < lo || v > hi {
		p.add(name, fmt.Sprintf("%d: want a whole number from %d to %d", v, lo, hi))
	}
}

func (p *problems) durationIn(name string, d, lo, hi time.Duration) {
	if d < lo || d > hi {
		p.add(name, fmt.Sprintf("%s: want a duration from %s to %s (e.g. 90s, 12h)", d, lo, hi))
	}
}

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	sort.Strings(p)
	return fmt.Errorf("configuration: %s", strings.Join(p, "; "))
}

// StopTimeout is the container stop timeout that matches a grace period: ECS sends SIGTERM, waits
// this long, then SIGKILL.
func StopTimeout(grace time.Duration) time.Duration { return grace + StopTimeoutMargin }

// Variable describes one environment variable, for Load, help texts and documentation.
type Variable struct {
	Name     string
	Default  string // "" for required ones
	Required bool
	Help     string
	set      func(c *Config, v string) error // parses v into c; bounds are Validate's job
}

// Variables lists every variable Load reads, in the order a reader wants them.
func Variables() []Variable {
	d := Defaults()
	return []Variable{
		{EnvSourceBucket, "", true, "bucket the uploads land in; events naming another bucket are refused", setString(func(c *Config) *string { return &c.SourceBucket })},
		{EnvThumbnailBucket, "", true, "bucket the thumbnails are written to", setString(func(c *Config) *string { return &c.ThumbnailBucket })},
		{EnvQueueURL, "", true, "work queue URL", setString(func(c *Config) *string { return &c.QueueURL })},
		{EnvDeadLetterURL, "", true, "dead-letter queue URL", setString(func(c *Config) *string { return &c.DeadLetterURL })},
		{EnvTopicARN, "", true, "SNS topic the notifications are published to", setString(func(c *Config) *string { return &c.TopicARN })},
		{EnvSizes, fit.Format(d.Boxes()), false, fmt.Sprintf("thumbnails to make, up to %d, each WxH[:contain|cover|fill|pad][:enlarge] with sides %d to %d, e.g. 64x64,256x256:cover; each is stored under its own prefix", MaxSizes, MinThumbSide, MaxThumbSide), func(c *Config, v string) error {
			b, err := fit.Parse(v)
			c.Sizes = b
			return err
		}},
		{EnvThumbWidth, strconv.Itoa(d.ThumbWidth), false, fmt.Sprintf("width of the one contain box when %s is not set, %d to %d", EnvSizes, MinThumbSide, MaxThumbSide), setInt(func(c *Config) *int { return &c.ThumbWidth })},
		{EnvThumbHeight, strconv.Itoa(d.ThumbHeight), false, "height of that box", setInt(func(c *Config) *int { return &c.ThumbHeight })},
		{EnvMaxBytes, strconv.FormatInt(d.MaxBytes, 10), false, "largest object downloaded, in bytes", setInt64(func(c *Config) *int64 { return &c.MaxBytes })},
		{EnvMaxPixels, strconv.FormatInt(d.MaxPixels, 10), false, "largest image decoded, width x height", setInt64(func(c *Config) *int64 { return &c.MaxPixels })},
		{EnvConcurrency, "CPUs", false, "images processed at once; each waits for its estimated decoding memory in THUMBQ_MEMORY_BUDGET, so concurrency never multiplies the worst case", setInt(func(c *Config) *int { return &c.Concurrency })},
		{EnvURLExpiry, d.URLExpiry.String(), false, "presigned link lifetime; at most 168h, and never past the signing credentials' expiry", setDuration(func(c *Config) *time.Duration { return &c.URLExpiry })},
		{EnvVisibilityTimeout, d.VisibilityTimeout.String(), false, "the work queue's visibility timeout (whole seconds); renewed every third of it while an image is worked on", setDuration(func(c *Config) *time.Duration { return &c.VisibilityTimeout })},
		{EnvGracePeriod, d.GracePeriod.String(), false, fmt.Sprintf("time in-flight work gets after SIGTERM before it is handed back; at most %s", MaxGracePeriod), setDuration(func(c *Config) *time.Duration { return &c.GracePeriod })},
		{EnvImageTimeout, d.ImageTimeout.String(), false, fmt.Sprintf("time one image may take to decode and make its thumbnails, %s to %s; over it the upload fails as too-slow (not retried)", MinImageTimeout, MaxImageTimeout), setDuration(func(c *Config) *time.Duration { return &c.ImageTimeout })},
		{EnvMemoryBudget, "derived", false, "bytes image decoding may use at once (each image waits for its estimated peak); default: the container's memory limit less 96 MiB and THUMBQ_CONCURRENCY x THUMBQ_MAX_BYTES, or 1 GiB less that without a limit", setInt64(func(c *Config) *int64 { return &c.MemoryBudget })},
		{EnvLogLevel, d.LogLevel, false, "debug, info, warn or error", func(c *Config, v string) error { c.LogLevel = strings.ToLower(v); return nil }},
	}
}

func setString(field func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *field(c) = v; return nil }
}

func setInt(field func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return errors.New("is not a whole number")
		}
		*field(c) = n
		return nil
	}
}

func setInt64(field func(*Config) *int64) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return errors.New("is not a whole number")
		}
		*field(c) = n
		return nil
	}
}

func setDuration(field func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return errors.New("is not a duration (e.g. 90s, 12h)")
		}
		*field(c) = d
		return nil
	}
}
