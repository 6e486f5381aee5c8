package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/thumbq/thumbq/worker/config"
	"github.com/thumbq/thumbq/worker/queue"
)

func init() {
	commands["status"] = command{"show the work queue's depth, in-flight count, oldest message age and dead letters", runStatus}
	commands["redrive"] = command{"move the dead-letter queue's messages back to the work queue", runRedrive}
}

const statusHelp = `
Shows how many messages wait on the work queue, how many are being worked on, the age of the
oldest one (CloudWatch's ApproximateAgeOfOldestMessage, a minute's maximum that arrives a few
minutes late; unknown where CloudWatch cannot be reached, as with the emulator) and how many wait
on the dead-letter queue. The queues come from the flags or from THUMBQ_QUEUE_URL and
THUMBQ_DEAD_LETTER_URL; point at an emulator with AWS_ENDPOINT_URL.
`

const redriveHelp = `
Moves the messages waiting on the dead-letter queue back to the work queue, once the cause of
their failure is mended (a bug fixed, a limit raised). It moves at most the messages present when
it starts, as SQS's own move task does, and ends.

Messages the worker dead-lettered for a permanent failure (they carry thumbq-reason: not an
image, unsupported format, over a limit, corrupt) stay: the upload itself is at fault, and moved
back it would fail the same way. Transient failures that outlasted their receives move (reason
retries-exhausted, or moved by SQS with no reason). Upload a mended file instead, or give -all to move them too (for
example after raising THUMBQ_MAX_PIXELS). Without -all each message is received, sent and deleted
by this command (deleting none before its copy is sent), so that its reason can be read; with
-all, on AWS, SQS moves them in the background (StartMessageMoveTask). The queues come from the
flags or from THUMBQ_QUEUE_URL and THUMBQ_DEAD_LETTER_URL.
`

// queueFlags declares the flags status and redrive share on f; parseFn parses them and checks
// that both queues are named.
func queueFlags(f *flag.FlagSet, name string, stderr io.Writer) (queueURL, deadLetterURL *string, parseFn func(args []string) error) {
	queueURL = f.String("queue-url", os.Getenv(config.EnvQueueURL), "work queue URL (default $"+config.EnvQueueURL+")")
	deadLetterURL = f.String("dead-letter-url", os.Getenv(config.EnvDeadLetterURL), "dead-letter queue URL (default $"+config.EnvDeadLetterURL+")")
	parseFn = func(args []string) error {
		if err := parse(f, args); err != nil {
			return err
		}
		if *queueURL == "" || *deadLetterURL == "" {
			fmt.Fprintf(stderr, "thumbq %s: set -queue-url and -dead-letter-url (or %s and %s)\n", name, config.EnvQueueURL, config.EnvDeadLetterURL)
			return errUsage
		}
		return nil
	}
	return queueURL, deadLetterURL, parseFn
}

func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	queueURL, deadLetterURL, parseArgs := queueFlags(newFlags("status", "[flags]", statusHelp, stderr), "status", stderr)
	if err := parseArgs(args); err != nil {
		return err
	}
	awsCfg, err := loadAWS(ctx)
	if err != nil {
		return err
	}
	if err := requireCredentials(ctx, awsCfg); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var metrics queue.Metrics = cloudwatch.NewFromConfig(awsCfg)
	if os.Getenv("AWS_ENDPOINT_URL") != "" && os.Getenv("AWS_ENDPOINT_URL_CLOUDWATCH") == "" {
		metrics = nil // an emulator (thumbq local) has no CloudWatch
	}
	d, err := queue.Status(ctx, sqs.NewFromConfig(awsCfg), metrics, *queueURL, *deadLetterURL)
	if err != nil {
		return err
	}
	age := d.OldestAge.Round(time.Second).String()
	if d.OldestAgeErr != nil {
		age = "unknown (" + d.OldestAgeErr.Error() + ")"
	}
	fmt.Fprintf(stdout, "work queue:         %s\n", *queueURL)
	fmt.Fprintf(stdout, "  waiting:          %d\n", d.Visible)
	fmt.Fprintf(stdout, "  in flight:        %d\n", d.InFlight)
	fmt.Fprintf(stdout, "  delayed:          %d\n", d.Delayed)
	fmt.Fprintf(stdout, "  oldest message:   %s\n", age)
	fmt.Fprintf(stdout, "dead-letter queue:  %s\n", *deadLetterURL)
	fmt.Fprintf(stdout, "  waiting:          %d\n", d.DeadLetter)
	return nil
}

func runRedrive(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("redrive", "[flags]", redriveHelp, stderr)
	all := f.Bool("all", false, "move the permanent failures too (a thumbq-reason other than retries-exhausted)")
	queueURL, deadLetterURL, parseArgs := queueFlags(f, "redrive", stderr)
	if err := parseArgs(args); err != nil {
		return err
	}
	awsCfg, err := loadAWS(ctx)
	if err != nil {
		return err
	}
	if err := requireCredentials(ctx, awsCfg); err != nil {
		return err
	}
	r, err := queue.Redrive(ctx, sqs.NewFromConfig(awsCfg), *deadLetterURL, *queueURL, queue.RedriveOptions{All: *all})
	switch {
	case err != nil && ctx.Err() != nil:
		fmt.Fprintf(stdout, "interrupted: moved %d of the %d messages present; the rest are still in the dead-letter queue\n", r.Moved, r.Present)
		return errInterrupted
	case err != nil:
		if r.Moved > 0 {
			fmt.Fprintf(stdout, "moved %d of the %d messages present before the failure\n", r.Moved, r.Present)
		}
		return err
	case r.Moved < 0:
		fmt.Fprintf(stdout, "%s: SQS moves the %d messages present in the background (thumbq status shows the depths)\n", r.How, r.Present)
	default:
		fmt.Fprintf(stdout, "moved %d of the %d messages present: %s\n", r.Moved, r.Present, r.How)
	}
	if n := r.LeftCount(); n > 0 {
		codes := make([]string, 0, len(r.Left))
		for code, c := range r.Left {
			codes = append(codes, fmt.Sprintf("%s: %d", code, c))
		}
		sort.Strings(codes)
		fmt.Fprintf(stdout, "left %d permanent %s in the dead-letter queue (%s): the uploads themselves are at fault, so\n",
			n, plural(n, "failure", "failures"), strings.Join(codes, ", "))
		fmt.Fprintln(stdout, "moved back they would fail the same way. Upload mended files, or redrive -all once the cause is mended.")
	}
	return nil
}
