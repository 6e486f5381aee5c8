package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"syscall"

	"github.com/thumbq/thumbq/worker/emulate"
)

// Serve keeps the emulated services and the workers running until ctx ends, so that any S3
// client can upload to the source bucket. It prints the endpoint (the address it listens on, also
// when the port was chosen by the system) and the names to use, then a line per outcome; with
// opts.Out set it also mirrors thumbnails and notifications there. With opts.Workers NoWorkers it
// starts no worker and prints how to attach one (thumbq work with the stack's environment); it
// then prints a line per notification the attached workers publish.
func Serve(ctx context.Context, opts Options) error {
	e, err := start(ctx, opts)
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("%w\n(another program listens there: choose another address with -addr HOST:PORT, -addr 127.0.0.1:0 for a free port, or make serve ADDR=...)", err)
	}
	if err != nil {
		return err
	}
	defer e.close()
	out := opts.Stdout
	s := e.stack
	printBanner(out, s, opts)
	if opts.Out != "" {
		if err := os.MkdirAll(opts.Out, 0o755); err != nil {
			return err
		}
	}
	if opts.Out != "" || !e.workers() {
		e.readNotifications(ctx)
	}
	if opts.Ready != nil {
		opts.Ready(s)
	}
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(out, "stopping")
			return nil
		case o := <-e.outcomes:
			fmt.Fprintln(out, e.result(ctx, o))
		}
	}
}

// printBanner says where the emulated services listen, the names to use, the workers, and how to
// try them with the AWS CLI.
func printBanner(out io.Writer, s *emulate.Stack, opts Options) {
	thumbq := opts.Command
	if thumbq == "" {
		thumbq = "thumbq"
	}
	fmt.Fprintf(out, "thumbq local --serve: emulated S3, SQS and SNS at %s (region %s)\n", s.Endpoint, s.Region)
	fmt.Fprintf(out, "  source bucket:      %s\n", s.SourceBucket)
	fmt.Fprintf(out, "  thumbnail bucket:   %s\n", s.ThumbnailBucket)
	fmt.Fprintf(out, "  work queue:         %s\n", s.QueueURL)
	fmt.Fprintf(out, "  dead-letter queue:  %s\n", s.DeadLetterURL)
	fmt.Fprintf(out, "  topic:              %s\n", s.TopicARN)
	fmt.Fprintf(out, "  notifications:      %s\n", s.NotificationQueueURL)
	switch n := opts.Workers; {
	case n == NoWorkers:
		fmt.Fprintf(out, "  workers:            none here; attach one (or several) from another terminal:\n")
		env := s.Env()
		env["THUMBQ_VISIBILITY_TIMEOUT"] = workerConfig(opts).VisibilityTimeout.String() // the emulated queue's
		names := make([]string, 0, len(env))
		for k := range env {
			names = append(names, k)
		}
		sort.Strings(names)
		var b strings.Builder
		for _, k := range names {
			fmt.Fprintf(&b, " \\\n    %s=%s", k, env[k])
		}
		fmt.Fprintf(out, "  env%s \\\n    %s work\n", b.String(), thumbq)
	case n <= 1:
		fmt.Fprintf(out, "  workers:            1, in this process\n")
	default:
		fmt.Fprintf(out, "  workers:            %d, in this process\n", n)
	}
	fmt.Fprintf(out, "Try (any credentials are accepted):\n")
	fmt.Fprintf(out, "  export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=%s\n", s.Region)
	fmt.Fprintf(out, "  aws --endpoint-url %s s3 cp photo.jpg s3://%s/\n", s.Endpoint, s.SourceBucket)
	fmt.Fprintf(out, "  aws --endpoint-url %s s3 ls --recursive s3://%s/\n", s.Endpoint, s.ThumbnailBucket)
	fmt.Fprintf(out, "  AWS_ENDPOINT_URL=%s %s status --queue-url %s --dead-letter-url %s\n", s.Endpoint, thumbq, s.QueueURL, s.DeadLetterURL)
	fmt.Fprintf(out, "Ctrl-C stops.\n")
}
