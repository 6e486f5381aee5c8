package stack

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"

	"github.com/thumbq/thumbq/worker/config"
)

// Environment holds every setting that differs between deployments: the stack reads these and
// nothing else, so dev and prod differ here, not in if-statements scattered through the stack.
type Environment struct {
	Name string // dev, prod: part of the stack name

	// Retain keeps the buckets (with their objects) and the queues when the stack is destroyed.
	// Without it, `cdk destroy` empties and deletes them, leaving nothing behind.
	Retain bool

	ThumbnailExpiryDays int // the thumbnail bucket's lifecycle: thumbnails are deleted after this
	URLExpiry           time.Duration

	// The worker's processing budget. The work queue's visibility timeout is VisibilityTimeout (the
	// worker renews it while it works); the container's stop timeout is config.StopTimeout(GracePeriod).
	VisibilityTimeout time.Duration
	GracePeriod       time.Duration

	CPU         int // Fargate task CPU units (1024 = 1 vCPU)
	MemoryMiB   int
	Concurrency int // images worked on at once per task; each may hold a decoded bitmap (formats decoded at full size)

	MinTasks int // 0 lets the service scale to zero when the queue is empty
	MaxTasks int
	// BacklogPerTask is the target of the scaling policy: messages waiting or in flight per task.
	// A task works off about 6 images/s at the slowest measured input (see make simulate), so
	// 300 is under a minute of work per task.
	BacklogPerTask int

	LogRetention  awslogs.RetentionDays // the worker's CloudWatch logs
	LogExpiryDays int                   // S3 access logs and VPC flow logs

	// OldestMessageAlarm is the age of the oldest message on the work queue that raises an alarm.
	// With MinTasks 0 it must exceed the wake-up latency (SQS metrics, alarm, task start).
	OldestMessageAlarm time.Duration

	// Worker holds the worker's settings this environment sets beyond the fields above, by the
	// variable's name in worker/config (THUMBQ_SIZES, THUMBQ_MAX_PIXELS, THUMBQ_MAX_BYTES,
	// THUMBQ_LOG_LEVEL): handed to the container as they are and checked at synth by the worker's
	// own config.Load. From context: -c sizes=128x128 -c maxPixels=50000000 -c logLevel=debug.
	Worker map[string]string

	// EmailDigest sends NotifyEmails a digest (at most 1 email per second) instead of one email
	// per upload. Context: -c emailDigest=false for per-upload email.
	EmailDigest bool

	// Email addresses subscribed to the notification topic and to the operations (alarm) topic.
	// From context (-c notifyEmails=a@example.com,b@example.com), optional.
	NotifyEmails []string
	OpsEmails    []string
}

// StackName is the CloudFormation stack name: it carries the environment.
func (e Environment) StackName() string { return "thumbq-" + e.Name }

// Environments are the deployable environments by name. `cdk deploy -c env=NAME` picks one.
var Environments = map[string]Environment{
	"dev": {
		Name:                "dev",
		Retain:              false,
		ThumbnailExpiryDays: 7,
		URLExpiry:           config.DefaultURLExpiry,
		VisibilityTimeout:   config.DefaultVisibilityTimeout,
		GracePeriod:         config.DefaultGracePeriod,
		CPU:                 512,
		MemoryMiB:           1024,
		Concurrency:         1,
		MinTasks:            0,
		MaxTasks:            2,
		BacklogPerTask:      300,
		EmailDigest:         true,
		LogRetention:        awslogs.RetentionDays_ONE_WEEK,
		LogExpiryDays:       7,
		OldestMessageAlarm:  30 * time.Minute,
	},
	"prod": {
		Name:                "prod",
		Retain:              true,
		ThumbnailExpiryDays: 30,
		URLExpiry:           config.DefaultURLExpiry,
		VisibilityTimeout:   config.DefaultVisibilityTimeout,
		GracePeriod:         config.DefaultGracePeriod,
		CPU:                 1024,
		MemoryMiB:           2048,
		Concurrency:         2,
		MinTasks:            1,
		MaxTasks:            10,
		BacklogPerTask:      300,
		EmailDigest:         true,
		LogRetention:        awslogs.RetentionDays_THREE_MONTHS,
		LogExpiryDays:       90,
		OldestMessageAlarm:  10 * time.Minute,
	},
}

// DefaultEnvironment is what `cdk deploy` without -c env=... deploys.
const DefaultEnvironment = "dev"

// Lookup returns the named environment, or an error that lists the known ones.
func Lookup(name string) (Environment, error) {
	if name == "" {
		name = DefaultEnvironment
	}
	e, ok := Environments[name]
	if !ok {
		names := make([]string, 0, len(Environments))
		for n := range Environments {
			names = append(names, n)
		}
		sort.Strings(names)
		return Environment{}, fmt.Errorf("unknown environment %q (-c env=%s)", name, strings.Join(names, "|"))
	}
	return e, e.validate()
}

// validate checks the settings at synth time, so that a setting the worker or AWS would refuse
// cannot be deployed: the worker's own settings through config.Validate (the bounds live there
// once), the rest against the limits of Fargate and Application Auto Scaling.
func (e Environment) validate() error {
	switch {
	case e.MinTasks < 0 || e.MaxTasks < 1 || e.MinTasks > e.MaxTasks:
		return fmt.Errorf("env %s: tasks min %d, max %d: want 0 <= min <= max, max >= 1", e.Name, e.MinTasks, e.MaxTasks)
	case e.BacklogPerTask < 2:
		return fmt.Errorf("env %s: backlog per task %d: want at least 2", e.Name, e.BacklogPerTask)
	case e.ThumbnailExpiryDays < 1:
		return fmt.Errorf("env %s: thumbnail expiry %d days: want at least 1", e.Name, e.ThumbnailExpiryDays)
	case e.GracePeriod%time.Second != 0:
		// config bounds the grace period by config.MaxGracePeriod (Fargate's longest stop timeout
		// less the margin); Fargate also wants the stop timeout in whole seconds.
		return fmt.Errorf("env %s: grace period %s: the container's stop timeout %s is not whole seconds",
			e.Name, e.GracePeriod, config.StopTimeout(e.GracePeriod))
	}
	if _, err := e.loadWorkerConfig(); err != nil {
		return fmt.Errorf("env %s: the worker would refuse it: %w", e.Name, err)
	}
	return nil
}

// ContextSettings are the CDK context keys that set a worker variable, and the variable.
var ContextSettings = map[string]string{
	"sizes":     config.EnvSizes,
	"maxPixels": config.EnvMaxPixels,
	"maxBytes":  config.EnvMaxBytes,
	"logLevel":  config.EnvLogLevel,
}

// WithContext returns the environment with the settings the CDK context gives (context reads a
// key, "" when unset): the worker's (ContextSettings) and minTasks/maxTasks, validated as Lookup
// validates, so a bad value fails the synth with the variable's name.
func (e Environment) WithContext(context func(key string) string) (Environment, error) {
	w := map[string]string{}
	for k, v := range e.Worker {
		w[k] = v
	}
	for key, name := range ContextSettings {
		if v := context(key); v != "" {
			w[name] = v
		}
	}
	e.Worker = w
	for key, field := range map[string]*int{"minTasks": &e.MinTasks, "maxTasks": &e.MaxTasks} {
		if v := context(key); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return e, fmt.Errorf("-c %s=%s: want a whole number", key, v)
			}
			*field = n
		}
	}
	return e, e.validate()
}

// Placeholders for the settings that are CloudFormation references until deploy time (bucket
// names, queue URLs, the topic ARN), in the configuration workerConfig returns. Distinct, as the
// real ones are.
const (
	placeholderSourceBucket    = "source-bucket"
	placeholderThumbnailBucket = "thumbnail-bucket"
	placeholderQueueURL        = "work-queue-url"
	placeholderDeadLetterURL   = "dead-letter-queue-url"
	placeholderTopicARN        = "topic-arn"
)

// loadWorkerConfig is what the worker's config.Load makes of the container environment the stack
// sets (workerConfig's settings and Worker), with placeholders for the names resolved at deploy time.
func (e Environment) loadWorkerConfig() (config.Config, error) {
	vars := e.workerVariables()
	return config.Load(func(name string) string { return vars[name] })
}

// workerVariables is the container environment of workerConfig and Worker, with placeholders.
func (e Environment) workerVariables() map[string]string {
	c := e.workerConfig()
	vars := map[string]string{
		config.EnvSourceBucket: c.SourceBucket, config.EnvThumbnailBucket: c.ThumbnailBucket,
		config.EnvQueueURL: c.QueueURL, config.EnvDeadLetterURL: c.DeadLetterURL, config.EnvTopicARN: c.TopicARN,
		config.EnvURLExpiry: c.URLExpiry.String(), config.EnvVisibilityTimeout: c.VisibilityTimeout.String(),
		config.EnvGracePeriod: c.GracePeriod.String(), config.EnvConcurrency: strconv.Itoa(c.Concurrency),
	}
	for k, v := range e.Worker {
		vars[k] = v
	}
	return vars
}

// workerConfig is the configuration the worker reads from the container environment the stack
// sets: the environment's settings over config's defaults, with placeholders for the names that
// CloudFormation resolves at deploy time.
func (e Environment) workerConfig() config.Config {
	c := config.Defaults()
	c.SourceBucket = placeholderSourceBucket
	c.ThumbnailBucket = placeholderThumbnailBucket
	c.QueueURL = placeholderQueueURL
	c.DeadLetterURL = placeholderDeadLetterURL
	c.TopicARN = placeholderTopicARN
	c.URLExpiry = e.URLExpiry
	c.VisibilityTimeout = e.VisibilityTimeout
	c.GracePeriod = e.GracePeriod
	c.Concurrency = e.Concurrency
	return c
}
