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

	"github.com/thumbq/thumbq/worker/failure"
)

// AdminSQS is the part of the SQS client that Status and Redrive use.
type AdminSQS interface {
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, opts ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
	StartMessageMoveTask(ctx context.Context, in *sqs.StartMessageMoveTaskInput, opts ...func(*sqs.Options)) (*sqs.StartMessageMoveTaskOutput, error)
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
	DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
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

// Redriven is what Redrive did.
type Redriven struct {
	// Present is the number of messages waiting on the dead-letter queue when Redrive started
	// (SQS's ApproximateNumberOfMessages): Redrive handles at most these, never what arrives
	// while it runs, such as a message it moved that failed again.
	Present int
	// Moved is how many went back to the work queue; -1 when SQS moves them in the background
	// (StartMessageMoveTask) and does not say how many.
	Moved int
	// Left counts, by failure code, the permanent failures left in the dead-letter queue: the
	// messages the worker dead-lettered with a thumbq-reason other than retries-exhausted. Moving
	// them back cannot succeed until the upload itself is replaced (or a limit raised), so only
	// RedriveOptions.All moves them.
	Left map[string]int
	// How says how the messages were moved.
	How string
}

// LeftCount is the number of messages left in the dead-letter queue.
func (r Redriven) LeftCount() int {
	n := 0
	for _, c := range r.Left {
		n += c
	}
	return n
}

// RedriveOptions choose what Redrive moves.
type RedriveOptions struct {
	// All moves the permanent failures too (those the worker dead-lettered with a thumbq-reason).
	// With All, Redrive asks SQS to move the messages (StartMessageMoveTask), where it can.
	All bool
	// Hold is how long a permanent failure Redrive has looked at stays invisible on the
	// dead-letter queue while Redrive goes on (it is made visible again at the end); 0 means 5
	// minutes.
	Hold time.Duration
}

// Redrive moves the messages waiting on the dead-letter queue back to the work queue, at most as
// many as wait there when it starts, as SQS's own move task does, and then returns. A message the
// worker dead-lettered for a permanent failure (it carries thumbq-reason: not an image, over a
// limit, ...) fails the same way when moved back, so it stays unless opts.All is set; the rest
// (transient failures that outlasted their receives: thumbq-reason retries-exhausted, or moved by
// SQS itself with no reason) move.
//
// Without All it receives, sends and deletes each message itself, deleting none before its copy
// is sent, so that it can look at the reason. With All it asks SQS to move them
// (StartMessageMoveTask) and, where the endpoint lacks that call (the emulator), moves them
// itself. A move by hand drops the attributes the worker added (thumbq-reason, thumbq-detail,
// thumbq-source-message-id) and keeps the others.
func Redrive(ctx context.Context, q AdminSQS, deadLetterURL, queueURL string, opts RedriveOptions) (Redriven, error) {
	r := Redriven{Left: map[string]int{}}
	dl, err := attributes(ctx, q, deadLetterURL)
	if err != nil {
		return r, err
	}
	r.Present = atoi(dl["ApproximateNumberOfMessages"])
	if opts.All {
		dlArn, err := queueArn(ctx, q, deadLetterURL)
		if err != nil {
			return r, err
		}
		workArn, err := queueArn(ctx, q, queueURL)
		if err != nil {
			return r, err
		}
		out, err := q.StartMessageMoveTask(ctx, &sqs.StartMessageMoveTaskInput{SourceArn: &dlArn, DestinationArn: &workArn})
		if err == nil {
			r.Moved, r.How = -1, "started SQS message move task "+aws.ToString(out.TaskHandle)
			return r, nil
		}
		if !unsupported(err) {
			return r, fmt.Errorf("start message move task: %w", err)
		}
		r.How = "moved by receive/send/delete (the endpoint has no StartMessageMoveTask)"
	} else {
		r.How = "moved by receive/send/delete (to leave the permanent failures)"
	}
	err = moveByHand(ctx, q, deadLetterURL, queueURL, opts, &r)
	return r, err
}

// moveByHand moves at most r.Present messages. The permanent failures it leaves are held
// invisible until it ends, so that each is looked at once, and then made visible again; so is
// what it received but had not moved when an error or an interrupt stops it.
func moveByHand(ctx context.Context, q AdminSQS, from, to string, opts RedriveOptions, r *Redriven) error {
	hold := opts.Hold
	if hold <= 0 {
		hold = 5 * time.Minute
	}
	var held []sqstypes.Message
	defer func() {
		// Also after a Ctrl-C: what is left must be visible again at once.
		rctx, cancel := detached(ctx)
		defer cancel()
		for _, m := range held {
			_, _ = q.ChangeMessageVisibility(rctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: &from, ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0})
		}
	}()
	seen := map[string]bool{}
	for len(seen) < r.Present {
		out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: &from, MaxNumberOfMessages: int32(min(10, r.Present-len(seen))), WaitTimeSeconds: 1,
			VisibilityTimeout: int32(hold / time.Second), MessageAttributeNames: []string{"All"},
		})
		if err != nil {
			return fmt.Errorf("receive from %s: %w", from, err)
		}
		fresh := 0
		for i, m := range out.Messages {
			// On an error or an interrupt, what this batch has not moved is made visible again
			// with what was held (a message whose copy was sent but whose delete failed is then
			// on both queues: never on neither).
			unmoved := out.Messages[i:]
			id := aws.ToString(m.MessageId)
			if seen[id] {
				continue // held before and visible again: it is already counted
			}
			seen[id] = true
			fresh++
			if code, ok := inputAtFault(m); ok && !opts.All {
				held = append(held, m)
				r.Left[code]++
				continue
			}
			if err := moveMessage(ctx, q, from, to, m); err != nil {
				held = append(held, unmoved...)
				return err
			}
			r.Moved++
		}
		if fresh == 0 {
			return nil // nothing more to see: the rest is in flight elsewhere or gone
		}
	}
	return nil
}

// moveMessage sends a copy of m to the queue to, without the attributes the dead-lettering added,
// then deletes m from the queue from.
func moveMessage(ctx context.Context, q AdminSQS, from, to string, m sqstypes.Message) error {
	attrs := map[string]sqstypes.MessageAttributeValue{}
	for k, v := range m.MessageAttributes {
		if k != AttrReason && k != AttrDetail && k != AttrSourceMessageID {
			attrs[k] = v
		}
	}
	if _, err := q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &to, MessageBody: m.Body, MessageAttributes: attrs}); err != nil {
		return fmt.Errorf("send to %s: %w", to, err)
	}
	if _, err := q.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &from, ReceiptHandle: m.ReceiptHandle}); err != nil {
		return fmt.Errorf("delete from %s after sending its copy: %w", from, err)
	}
	return nil
}

// inputAtFault returns the failure code of a message the worker dead-lettered because the upload
// itself is at fault: any thumbq-reason but retries-exhausted, which the worker gives a transient
// failure that outlasted the receives SQS allows (moved back, it may well succeed).
func inputAtFault(m sqstypes.Message) (string, bool) {
	a, ok := m.MessageAttributes[AttrReason]
	code := aws.ToString(a.StringValue)
	return code, ok && code != string(failure.RetriesExhausted)
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
