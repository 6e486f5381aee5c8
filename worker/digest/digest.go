// Package digest turns per-upload outcomes into email digests that SNS will not suspend: SNS
// suspends an email subscription that receives more than 10 messages per second, and one album
// upload makes ~60 thumbnails per second. The worker sends each outcome (key, status, reason, link)
// to a digest queue (Collector); a single consumer (Sender: the `thumbq digest` function, run each
// minute by a schedule with a reserved concurrency of 1) drains it and publishes to the email
// topic one message per up to MaxEntries outcomes, at least MinGap apart. Every outcome appears
// in some email: a queue message is deleted only after the digest that lists it is published (so
// an outcome can appear twice after a failure, never not at all).
package digest

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/thumbq/thumbq/worker/pipeline"
)

// Names of the environment variables the stack sets.
const (
	EnvQueueURL = "THUMBQ_DIGEST_QUEUE_URL" // the worker sends outcomes there; the digest function drains it
	EnvTopicARN = "THUMBQ_DIGEST_TOPIC_ARN" // the email topic the digests go to
)

// Defaults of a Sender.
const (
	DefaultMaxEntries = 200         // outcomes per email (a few lines each: well under SNS's 256 KB)
	DefaultMinGap     = time.Second // between two digests: at most 1 email per second per address
)

// Entry is one upload's outcome, as a digest lists it.
type Entry struct {
	Key    string    `json:"key"`
	Status string    `json:"status"`
	Reason string    `json:"reason,omitempty"`
	Link   string    `json:"link,omitempty"`
	At     time.Time `json:"at"`
}

// EntryOf is the digest entry of an outcome.
func EntryOf(o pipeline.Outcome, at time.Time) Entry {
	e := Entry{Key: o.Object.Key, Status: string(o.Status), Link: o.URL, At: at.UTC()}
	if o.Err != nil {
		e.Reason = string(o.Err.Code)
	} else if o.Status == pipeline.Skipped {
		e.Reason = o.Reason
	}
	return e
}

// Sender is the SQS calls a Collector makes.
type Sender interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// Collector sends each outcome to the digest queue.
type Collector struct {
	SQS      Sender
	QueueURL string
	Log      *slog.Logger
}

// Observe is a pipeline.Handler's OnOutcome. A lost send is logged (the per-upload notification
// on the topic was still made).
func (c *Collector) Observe(o pipeline.Outcome) {
	b, _ := json.Marshal(EntryOf(o, time.Now()))
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := c.SQS.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &c.QueueURL, MessageBody: aws.String(string(b))}); err != nil && c.Log != nil {
		c.Log.Error("digest entry not sent", "key", o.Object.Key, "error", err)
	}
}

// Queue is the SQS calls a Drainer makes.
type Queue interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
}

// Publisher is the SNS call a Drainer makes.
type Publisher interface {
	Publish(ctx context.Context, in *sns.PublishInput, opts ...func(*sns.Options)) (*sns.PublishOutput, error)
}

// Drainer publishes the digests. One Drainer per process; the stack runs one process at a time.
type Drainer struct {
	SQS        Queue
	QueueURL   string
	SNS        Publisher
	TopicARN   string
	MaxEntries int           // 0: DefaultMaxEntries
	MinGap     time.Duration // 0: DefaultMinGap
	Log        *slog.Logger

	mu   sync.Mutex
	last time.Time // when the previous digest was published
}

// Drain publishes digests until the queue is empty, and returns how many it published.
func (d *Drainer) Drain(ctx context.Context) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	maxEntries, gap := d.MaxEntries, d.MinGap
	if maxEntries <= 0 {
		maxEntries = DefaultMaxEntries
	}
	if gap <= 0 {
		gap = DefaultMinGap
	}
	published := 0
	for {
		var entries []Entry
		var handles []sqstypes.Message
		for len(entries) < maxEntries {
			out, err := d.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &d.QueueURL,
				MaxNumberOfMessages: int32(min(10, maxEntries-len(entries))), WaitTimeSeconds: 0, VisibilityTimeout: 120})
			if err != nil {
				return published, fmt.Errorf("receive from %s: %w", d.QueueURL, err)
			}
			if len(out.Messages) == 0 {
				break
			}
			for _, m := range out.Messages {
				var e Entry
				if json.Unmarshal([]byte(aws.ToString(m.Body)), &e) != nil {
					e = Entry{Key: "(unreadable entry)", Status: "unknown"}
				}
				entries = append(entries, e)
				handles = append(handles, m)
			}
		}
		if len(entries) == 0 {
			return published, nil
		}
		if wait := gap - time.Since(d.last); wait > 0 {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return published, ctx.Err()
			}
		}
		subject, body := Render(entries)
		if _, err := d.SNS.Publish(ctx, &sns.PublishInput{TopicArn: &d.TopicARN, Subject: &subject, Message: &body}); err != nil {
			return published, fmt.Errorf("publish digest to %s: %w", d.TopicARN, err) // entries come back after the visibility timeout
		}
		d.last = time.Now()
		published++
		for i := 0; i < len(handles); i += 10 {
			var batch []sqstypes.DeleteMessageBatchRequestEntry
			for j, m := range handles[i:min(i+10, len(handles))] {
				batch = append(batch, sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(j)), ReceiptHandle: m.ReceiptHandle})
			}
			if _, err := d.SQS.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: &d.QueueURL, Entries: batch}); err != nil && d.Log != nil {
				d.Log.Warn("digest entries not deleted: they will be listed again", "error", err)
			}
		}
	}
}

// Render is a digest's subject and text: counts, then one line per upload.
func Render(entries []Entry) (subject, body string) {
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].At.Before(entries[j].At) })
	count := map[string]int{}
	for _, e := range entries {
		count[e.Status]++
	}
	subject = fmt.Sprintf("thumbq: %d uploads (%d ok, %d failed)", len(entries), count["ok"], count["failed"])
	var b strings.Builder
	fmt.Fprintf(&b, "%d uploads since the last digest: %d thumbnails, %d failed, %d skipped.\n\n",
		len(entries), count["ok"], count["failed"], count["skipped"])
	for _, e := range entries {
		switch {
		case e.Status == "ok":
			fmt.Fprintf(&b, "ok      %s\n        %s\n", e.Key, e.Link)
		case e.Reason != "":
			fmt.Fprintf(&b, "%-7s %s (%s)\n", e.Status, e.Key, e.Reason)
		default:
			fmt.Fprintf(&b, "%-7s %s\n", e.Status, e.Key)
		}
	}
	return subject, b.String()
}
