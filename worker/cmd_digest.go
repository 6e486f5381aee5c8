package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/thumbq/thumbq/worker/config"
	"github.com/thumbq/thumbq/worker/digest"
	"github.com/thumbq/thumbq/worker/link"
)

func init() {
	commands["digest"] = command{"publish the waiting upload outcomes as email digests (at most 1 email/s), then exit", runDigest}
}

const digestHelp = `
Drains the digest queue (` + digest.EnvQueueURL + `) and publishes its entries to the email topic
(` + digest.EnvTopicARN + `): one message per up to 200 uploads, at least 1 s apart, so an
address never gets more than 1 email per second. In AWS it runs as a Lambda function (the worker's
image, command "digest") every minute, one at a time (reserved concurrency 1).
`

func runDigest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("digest", "", digestHelp, stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	queueURL, topic := os.Getenv(digest.EnvQueueURL), os.Getenv(digest.EnvTopicARN)
	if queueURL == "" || topic == "" {
		return fmt.Errorf("%s and %s are required", digest.EnvQueueURL, digest.EnvTopicARN)
	}
	awsCfg, err := loadAWS(ctx)
	if err != nil {
		return err
	}
	log := newLogger(stdout, os.Getenv(config.EnvLogLevel))
	d := &digest.Drainer{SQS: sqs.NewFromConfig(awsCfg), QueueURL: queueURL, SNS: sns.NewFromConfig(awsCfg), TopicARN: topic, Log: log}
	drain := func(ctx context.Context) error {
		n, err := d.Drain(ctx)
		log.Info("digest", "published", n, "error", err)
		return err
	}
	if api := link.RuntimeAPI(); api != "" { // in Lambda: one drain per scheduled invocation
		return link.ServeLambdaFunc(ctx, api, func(ctx context.Context, _ []byte) ([]byte, error) {
			return []byte(`{}`), drain(ctx)
		})
	}
	return drain(ctx)
}
