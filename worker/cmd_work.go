package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/thumbq/thumbq/worker/budget"
	"github.com/thumbq/thumbq/worker/config"
	"github.com/thumbq/thumbq/worker/digest"
	"github.com/thumbq/thumbq/worker/ecsagent"
	"github.com/thumbq/thumbq/worker/metrics"
	"github.com/thumbq/thumbq/worker/pipeline"
	"github.com/thumbq/thumbq/worker/queue"
)

func init() {
	commands["work"] = command{"consume the work queue and make thumbnails (what the container runs)", runWork}
}

const workHelp = `
Consumes the work queue until SIGTERM or Ctrl-C: long polling (20 s), batches of up to 10,
THUMBQ_CONCURRENCY images at once, each kept invisible to other consumers while it is worked on.
A thumbnail goes to the thumbnail bucket under <W>x<H>/<source key>.png, a presigned link to it
is published to the topic, and only then is the message deleted. A bad upload (not an image,
unsupported, over a limit, corrupt) goes to the dead-letter queue at once with its reason in the
message attribute thumbq-reason; an S3/SNS/network failure is left to SQS and tried again after
a growing delay; on the third receive it is tried in-process for up to a minute, then the worker
moves it to the dead-letter queue itself as retries-exhausted, with the last error.
On SIGTERM it stops receiving, gives in-flight work THUMBQ_GRACE_PERIOD and hands back what is
unfinished (visibility 0). Logs are JSON lines on standard output.

Configuration (environment; AWS_REGION, AWS_ENDPOINT_URL and the SDK's other variables as usual):
`

func runWork(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("work", "", workHelp+variablesHelp(), stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(os.Getenv)
	if err != nil {
		return err
	}
	log := newLogger(stdout, cfg.LogLevel)
	if err := applyMemoryLimits(&cfg, log); err != nil {
		return err
	}
	awsCfg, err := loadAWS(ctx)
	if err != nil {
		return err
	}
	s3c, snsc, sqsc := s3.NewFromConfig(awsCfg, s3Options), sns.NewFromConfig(awsCfg), sqs.NewFromConfig(awsCfg)
	if err := preflight(ctx, cfg, preflightClients{sqs: sqsc, s3: s3c, sns: snsc}); err != nil {
		return err
	}
	h := &pipeline.Handler{Processor: pipeline.New(cfg, s3c, snsc, credentialsExpire(awsCfg))}
	go prepareHEIF(ctx, h.Processor.Budget, log) // so that no HEIC or AVIF image compiles its decoder
	if err := useLinks(h.Processor, os.Getenv); err != nil {
		return err
	}
	h.OnOutcome = observers(os.Getenv, stdout, h.Processor, sqsc, log)
	// In ECS, the task is protected from scale-in while it has a message in hand.
	c := queue.NewConsumer(cfg, sqsc, ecsagent.Protect(h, ecsagent.New(os.Getenv(ecsagent.EnvAgentURI), log)), log)
	return c.Run(ctx)
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	switch strings.ToLower(level) {
	case "debug":
		l = slog.LevelDebug
	case "warn":
		l = slog.LevelWarn
	case "error":
		l = slog.LevelError
	default:
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

func variablesHelp() string {
	var b strings.Builder
	for _, v := range config.Variables() {
		def := v.Default
		if v.Required {
			def = "required"
		}
		fmt.Fprintf(&b, "  %-26s %-10s %s\n", v.Name, def, v.Help)
	}
	return b.String()
}

// applyMemoryLimits derives the decoding budget from the container's memory limit (unless
// THUMBQ_MEMORY_BUDGET sets it) and sets the Go runtime's soft limit from the same number (unless
// GOMEMLIMIT is set): the cgroup limit is the one source of truth.
func applyMemoryLimits(cfg *config.Config, log *slog.Logger) error {
	limit, ok := budget.ContainerLimit()
	if ok && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(budget.GoMemLimit(limit))
	}
	if cfg.MemoryBudget == 0 {
		total, err := budget.Derive(limit, ok, cfg.Concurrency, cfg.MaxBytes)
		if err != nil {
			return fmt.Errorf("memory budget: %w", err)
		}
		cfg.MemoryBudget = total
	}
	log.Info("memory", "container_limit_bytes", limit, "has_limit", ok, "go_memory_limit_bytes", debug.SetMemoryLimit(-1), "decoding_budget_bytes", cfg.MemoryBudget)
	return nil
}

// observers is what each recorded outcome is given to in AWS: the worker's metrics (EMF lines,
// when the stack names itself in THUMBQ_STACK) and the email digest's queue (when the stack
// configured one). Nil when neither is set.
func observers(getenv func(string) string, stdout io.Writer, p *pipeline.Processor, sqsc digest.Sender, log *slog.Logger) func(pipeline.Outcome) {
	var fs []func(pipeline.Outcome)
	if stack := getenv(metrics.EnvStack); stack != "" {
		e := &metrics.Emitter{W: stdout, Stack: stack}
		if b := p.Budget; b != nil {
			e.Waits = b.Waits
		}
		fs = append(fs, e.Observe)
	}
	if url := getenv(digest.EnvQueueURL); url != "" {
		fs = append(fs, (&digest.Collector{SQS: sqsc, QueueURL: url, Log: log}).Observe)
	}
	if len(fs) == 0 {
		return nil
	}
	return func(o pipeline.Outcome) {
		for _, f := range fs {
			f(o)
		}
	}
}
