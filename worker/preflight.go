package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/thumbq/thumbq/worker/config"
)

// preflightTimeout bounds the start-up checks: a wrong URL or a dead endpoint ends the worker
// within it, so ECS's deployment circuit breaker sees the task fail.
const preflightTimeout = 8 * time.Second

type preflightClients struct {
	sqs interface {
		GetQueueAttributes(context.Context, *sqs.GetQueueAttributesInput, ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
	}
	s3 interface {
		HeadBucket(context.Context, *s3.HeadBucketInput, ...func(*s3.Options)) (*s3.HeadBucketOutput, error)
	}
	sns interface {
		GetTopicAttributes(context.Context, *sns.GetTopicAttributesInput, ...func(*sns.Options)) (*sns.GetTopicAttributesOutput, error)
	}
}

// preflight checks, with one cheap read call each and all at once, that the queues, buckets and
// topic of the configuration exist and can be reached with these credentials. The error names
// every one that cannot.
func preflight(ctx context.Context, cfg config.Config, c preflightClients) error {
	ctx, cancel := context.WithTimeout(ctx, preflightTimeout)
	defer cancel()
	checks := map[string]func() error{
		config.EnvQueueURL + " " + cfg.QueueURL: func() error {
			_, err := c.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &cfg.QueueURL,
				AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameVisibilityTimeout}})
			return err
		},
		config.EnvDeadLetterURL + " " + cfg.DeadLetterURL: func() error {
			_, err := c.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &cfg.DeadLetterURL,
				AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameVisibilityTimeout}})
			return err
		},
		config.EnvSourceBucket + " " + cfg.SourceBucket: func() error {
			_, err := c.s3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &cfg.SourceBucket})
			return err
		},
		config.EnvThumbnailBucket + " " + cfg.ThumbnailBucket: func() error {
			_, err := c.s3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &cfg.ThumbnailBucket})
			return err
		},
		config.EnvTopicARN + " " + cfg.TopicARN: func() error {
			_, err := c.sns.GetTopicAttributes(ctx, &sns.GetTopicAttributesInput{TopicArn: &cfg.TopicARN})
			return err
		},
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var problems []string
	for what, check := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := check(); err != nil {
				if errors.Is(err, context.DeadlineExceeded) {
					err = fmt.Errorf("no answer within %s", preflightTimeout)
				}
				mu.Lock()
				problems = append(problems, fmt.Sprintf("%s: %v", what, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(problems) > 0 {
		sort.Strings(problems)
		return fmt.Errorf("start-up check failed; nothing was received:\n  %s", strings.Join(problems, "\n  "))
	}
	return nil
}
