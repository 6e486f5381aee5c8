package main

import (
	"context"
	"fmt"
	"io"
	"os"
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
Moves every message of the dead-letter queue back to the work queue, for example after a bug is
mended or a limit raised. On AWS it starts an SQS message move task (StartMessageMoveTask), which
runs in the background; where the endpoint lacks that call (the emulator) it receives, sends and
deletes each message itself, deleting none before its copy is sent. The queues come from the flags
or from THUMBQ_QUEUE_URL and THUMBQ_DEAD_LETTER_URL.
`

// queueFlags declares the flags status and redrive share; parseFn parses them and checks that both
// queues are named.
func queueFlags(name, help string, stderr io.Writer) (queueURL, deadLetterURL *string, parseFn func(args []string) error) {
	f := newFlags(name, "[flags]", help, stderr)
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
	queueURL, deadLetterURL, parseArgs := queueFlags("status", statusHelp, stderr)
	if err := parseArgs(args); err != nil {
		return err
	}
	awsCfg, err := loadAWS(ctx)
	if err != nil {
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
	queueURL, deadLetterURL, parseArgs := queueFlags("redrive", redriveHelp, stderr)
	if err := parseArgs(args); err != nil {
		return err
	}
	awsCfg, err := loadAWS(ctx)
	if err != nil {
		return err
	}
	n, how, err := queue.Redrive(ctx, sqs.NewFromConfig(awsCfg), *deadLetterURL, *queueURL)
	if err != nil {
		if n > 0 {
			fmt.Fprintf(stdout, "moved %d messages before the failure\n", n)
		}
		return err
	}
	if n >= 0 {
		fmt.Fprintf(stdout, "moved %d messages: %s\n", n, how)
	} else {
		fmt.Fprintln(stdout, how)
	}
	return nil
}
