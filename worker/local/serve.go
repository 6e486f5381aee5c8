package local

import (
	"context"
	"fmt"
	"os"
)

// Serve keeps the emulated services and the worker running until ctx ends, so that any S3 client
// can upload to the source bucket. It prints the endpoint and the names to use, then a line per
// outcome; with opts.Out set it also mirrors thumbnails and notifications there.
func Serve(ctx context.Context, opts Options) error {
	e, err := start(ctx, opts)
	if err != nil {
		return err
	}
	defer e.close()
	out := opts.Stdout
	s := e.stack
	fmt.Fprintf(out, "thumbq local --serve: emulated S3, SQS and SNS at %s (region %s)\n", s.Endpoint, s.Region)
	fmt.Fprintf(out, "  source bucket:      %s\n", s.SourceBucket)
	fmt.Fprintf(out, "  thumbnail bucket:   %s\n", s.ThumbnailBucket)
	fmt.Fprintf(out, "  work queue:         %s\n", s.QueueURL)
	fmt.Fprintf(out, "  dead-letter queue:  %s\n", s.DeadLetterURL)
	fmt.Fprintf(out, "  topic:              %s\n", s.TopicARN)
	fmt.Fprintf(out, "  notifications:      %s\n", s.NotificationQueueURL)
	fmt.Fprintf(out, "Try (any credentials are accepted):\n")
	fmt.Fprintf(out, "  export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=%s\n", s.Region)
	fmt.Fprintf(out, "  aws --endpoint-url %s s3 cp photo.jpg s3://%s/\n", s.Endpoint, s.SourceBucket)
	fmt.Fprintf(out, "  aws --endpoint-url %s s3 ls --recursive s3://%s/\n", s.Endpoint, s.ThumbnailBucket)
	fmt.Fprintf(out, "  AWS_ENDPOINT_URL=%s thumbq status --queue-url %s --dead-letter-url %s\n", s.Endpoint, s.QueueURL, s.DeadLetterURL)
	fmt.Fprintf(out, "Ctrl-C stops.\n")
	if opts.Out != "" {
		if err := os.MkdirAll(opts.Out, 0o755); err != nil {
			return err
		}
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
