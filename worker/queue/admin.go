package queue

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
)

// AdminSQS is the part of the SQS client that Status and Redrive use.
type AdminSQS interface {
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, opts ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
	StartMessageMoveTask(ctx context.Context, in *sqs.StartMessageMoveTaskInput, opts ...func(*sqs.Options)) (*sqs.StartMessageMoveTaskOutput, error)
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
	DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
}

// Metrics is the part of the CloudWatch client Status uses for the age of the oldest message,
// which SQS reports only as a metric.
type Metrics interface {
	GetMetricData(ctx context.Context, in *cloudwatch.GetMetricDataInput, opts ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error)
}

// Depth is what Status reports.
type Depth struct {
	Visible    int // waiting on the work queue
	InFlight   int // received, not yet deleted
	Delayed    int
	DeadLetter int // waiting on the dead-letter queue
	// OldestAge is CloudWatch's ApproximateAgeOfOldestMessage (a minute's maximum, a few minutes
	// late); OldestAgeErr says why it is unknown.
	OldestAge    time.Duration
	OldestAgeErr error
}

// Status reads the depth of the work and dead-letter queues. metrics may be nil.
func Status(ctx context.Context, q AdminSQS, metrics Metrics, queueURL, deadLetterURL string) (Depth, error) {
	var d Depth
	attrs, err := attributes(ctx, q, queueURL)
	if err != nil {
		return d, err
	}
	d.Visible = atoi(attrs["ApproximateNumberOfMessages"])
	d.InFlight = atoi(attrs["ApproximateNumberOfMessagesNotVisible"])
	d.Delayed = atoi(attrs["ApproximateNumberOfMessagesDelayed"])
	dl, err := attributes(ctx, q, deadLetterURL)
	if err != nil {
		return d, err
	}
	d.DeadLetter = atoi(dl["ApproximateNumberOfMessages"])
	if metrics == nil {
		d.OldestAgeErr = errors.New("no CloudWatch at this endpoint")
	} else {
		d.OldestAge, d.OldestAgeErr = oldestAge(ctx, metrics, queueName(queueURL))
	}
	return d, nil
}

func attributes(ctx context.Context, q AdminSQS, url string) (map[string]string, error) {
	out, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       &url,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll},
	})
	if err != nil {
		return nil, fmt.Errorf("attributes of %s: %w", url, err)
	}
	return out.Attributes, nil
}

func oldestAge(ctx context.Context, m Metrics, queue string) (time.Duration, error) {
	end := time.Now()
	out, err := m.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(end.Add(-15 * time.Minute)),
		EndTime:   &end,
		ScanBy:    cwtypes.ScanByTimestampDescending,
		MetricDataQueries: []cwtypes.MetricDataQuery{{
			Id: aws.String("age"),
			MetricStat: &cwtypes.MetricStat{
				Metric: &cwtypes.Metric{
					Namespace:  aws.String("AWS/SQS"),
					MetricName: aws.String("ApproximateAgeOfOldestMessage"),
					Dimensions: []cwtypes.Dimension{{Name: aws.String("QueueName"), Value: &queue}},
				},
				Period: aws.Int32(60),
				Stat:   aws.String("Maximum"),
			},
		}},
	})
	if err != nil {
		return 0, fmt.Errorf("CloudWatch ApproximateAgeOfOldestMessage: %w", err)
	}
	for _, r := range out.MetricDataResults {
		if len(r.Values) > 0 {
			return time.Duration(r.Values[0] * float64(time.Second)), nil
		}
	}
	return 0, errors.New("CloudWatch has no datapoint in the last 15 minutes")
}

// Redrive moves every message of the dead-letter queue back to the work queue and returns how
// many moved (-1 when SQS moves them asynchronously and does not say). It asks SQS to do it
// (StartMessageMoveTask); where the endpoint lacks that call, as the emulator does, it receives,
// sends and deletes itself, never deleting a message before its copy is sent.
func Redrive(ctx context.Context, q AdminSQS, deadLetterURL, queueURL string) (int, string, error) {
	dlArn, err := queueArn(ctx, q, deadLetterURL)
	if err != nil {
		return 0, "", err
	}
	workArn, err := queueArn(ctx, q, queueURL)
	if err != nil {
		return 0, "", err
	}
	out, err := q.StartMessageMoveTask(ctx, &sqs.StartMessageMoveTaskInput{SourceArn: &dlArn, DestinationArn: &workArn})
	if err == nil {
		return -1, "started SQS message move task " + aws.ToString(out.TaskHandle), nil
	}
	if !unsupported(err) {
		return 0, "", fmt.Errorf("start message move task: %w", err)
	}
	n, err := moveByHand(ctx, q, deadLetterURL, queueURL)
	return n, "moved by receive/send/delete (the endpoint has no StartMessageMoveTask)", err
}

func moveByHand(ctx context.Context, q AdminSQS, from, to string) (int, error) {
	moved := 0
	for {
		out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: &from, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 60,
			MessageAttributeNames: []string{"All"},
		})
		if err != nil {
			return moved, fmt.Errorf("receive from %s: %w", from, err)
		}
		if len(out.Messages) == 0 {
			return moved, nil
		}
		for _, m := range out.Messages {
			attrs := map[string]sqstypes.MessageAttributeValue{}
			for k, v := range m.MessageAttributes {
				if k != AttrReason && k != AttrSourceMessageID {
					attrs[k] = v
				}
			}
			if _, err := q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &to, MessageBody: m.Body, MessageAttributes: attrs}); err != nil {
				return moved, fmt.Errorf("send to %s: %w", to, err)
			}
			if _, err := q.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &from, ReceiptHandle: m.ReceiptHandle}); err != nil {
				return moved, fmt.Errorf("delete from %s after sending its copy: %w", from, err)
			}
			moved++
		}
	}
}

func queueArn(ctx context.Context, q AdminSQS, url string) (string, error) {
	out, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: &url, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		return "", fmt.Errorf("arn of %s: %w", url, err)
	}
	arn := out.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]
	if arn == "" {
		return "", fmt.Errorf("arn of %s: not in the queue's attributes", url)
	}
	return arn, nil
}

// unsupported reports whether err says the endpoint does not know the call.
func unsupported(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "UnsupportedOperation", "InvalidAction", "UnknownOperationException", "NotImplemented",
			"AWS.SimpleQueueService.UnsupportedOperation":
			return true
		}
		// goaws answers an unknown JSON action with a plain error naming it.
		return strings.Contains(strings.ToLower(ae.ErrorMessage()), "not supported") ||
			strings.Contains(strings.ToLower(ae.ErrorMessage()), "invalid action")
	}
	return false
}

func queueName(url string) string { return url[strings.LastIndex(url, "/")+1:] }

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
