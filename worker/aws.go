package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
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
	return cfg, nil
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
