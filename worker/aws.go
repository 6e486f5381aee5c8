package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// loadAWS reads the SDK's configuration the usual way (environment, shared files, the ECS task
// role). AWS_ENDPOINT_URL points every client at another endpoint, such as `thumbq local --serve`.
func loadAWS(ctx context.Context) (aws.Config, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return aws.Config{}, fmt.Errorf("AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return aws.Config{}, fmt.Errorf("AWS configuration: no region (set AWS_REGION)")
	}
	cfg.Retryer = retryer
	return cfg, nil
}

// retryer is the SDK's standard retryer (3 attempts, or AWS_MAX_ATTEMPTS; exponential backoff
// with jitter; AWS_RETRY_MODE is not read) without its client-side retry quota. The quota (500 tokens a client, 14 a retry,
// refilled by successes) is there to stop a fleet of clients multiplying the load on a failing
// service; here it did the opposite: once a burst of errors had drained it, no request was tried
// twice, so every single fault failed the whole message, and SQS's redelivery then repeated the
// download, the decode and the upload. The worker's load is already bounded (THUMBQ_CONCURRENCY
// messages, each retried after a growing delay), so each request keeps its three tries.
func retryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) { o.RateLimiter = ratelimit.None })
}

// requireCredentials checks that the SDK finds credentials before a command calls AWS with them,
// so that their absence reads as one sentence rather than the SDK's chain of attempts (the
// environment, the shared files, SSO, the ECS and EC2 instance roles).
func requireCredentials(ctx context.Context, cfg aws.Config) error {
	if cfg.Credentials != nil {
		ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		if _, err := cfg.Credentials.Retrieve(ctx); err == nil {
			return nil
		}
	}
	return errors.New("no AWS credentials found (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, " +
		"or run where a role provides them; against thumbq local --serve any values do, e.g. test and test)")
}

// s3Options uses path-style addressing when an endpoint other than AWS's is set (emulators and
// most S3-compatible stores do not serve bucket subdomains).
func s3Options(o *s3.Options) {
	if os.Getenv("AWS_ENDPOINT_URL") != "" || os.Getenv("AWS_ENDPOINT_URL_S3") != "" {
		o.UsePathStyle = true
	}
}

// credentialsExpire reports when the SDK's credentials expire, for capping presigned URLs.
func credentialsExpire(cfg aws.Config) func(ctx context.Context) (time.Time, bool, error) {
	return func(ctx context.Context) (time.Time, bool, error) {
		c, err := cfg.Credentials.Retrieve(ctx)
		if err != nil {
			return time.Time{}, false, err
		}
		return c.Expires, c.CanExpire, nil
	}
}
