// Package queue consumes the work queue: it receives messages with long polling, processes them
// with bounded concurrency while keeping them invisible to other consumers, records each outcome
// and only then deletes the message. It also reports queue depth (Status) and moves dead letters
// back (Redrive).
package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/thumbq/thumbq/worker/config"
	"github.com/thumbq/thumbq/worker/event"
	"github.com/thumbq/thumbq/worker/pipeline"
)

// SQS is the part of the SQS client the consumer uses.
type SQS interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// Processor makes thumbnails; *pipeline.Processor is the real one.
type Processor interface {
	Process(ctx context.Context, obj event.Object, log *slog.Logger) (pipeline.Outcome, error)
	Notify(ctx context.Context, o pipeline.Outcome) error
}

// Consumer takes messages from the work queue. Set the fields, then call Run.
type Consumer struct {
	SQS           SQS
	QueueURL      string
	DeadLetterURL string
	Processor     Processor
	Logger        *slog.Logger

	Concurrency       int           // messages processed at once; at least 1
	VisibilityTimeout time.Duration // the queue's; a message being worked on is kept invisible this long, renewed at a third of it
	GracePeriod       time.Duration // after Run's context ends, the time in-flight work gets to finish
	WaitTime          time.Duration // long-poll wait; 0 means 20 s
	RetryBase         time.Duration // first delay before a transient failure is retried; 0 means 10 s; it triples each receive

	// OnOutcome, when set, is called once for each object whose outcome is recorded (local mode
	// writes its report from it).
	OnOutcome func(pipeline.Outcome)
}

// Message attributes set on what the worker sends to the dead-letter queue.
const (
	AttrReason          = "thumbq-reason"
	AttrSourceMessageID = "thumbq-source-message-id"
)

// Run consumes until ctx ends (SIGTERM), then stops receiving at once, gives in-flight work the
// grace period to finish and releases what did not (visibility 0), so another consumer takes it.
// A receive under way at the stop is let finish (it ends within the long-poll wait) and what it
// brings is released too, rather than left invisible until its visibility timeout.
func (c *Consumer) Run(ctx context.Context) error {
	if c.Concurrency < 1 {
		return errors.New("queue: concurrency must be at least 1")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	// Work has its own context: a stop ends the fetching at once, not the work in hand.
	workCtx, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()

	slots := make(chan struct{}, c.Concurrency)
	var wg sync.WaitGroup
	failures := 0
	var pending <-chan received // a receive still under way when the stop came
	c.Logger.Info("consumer started", "queue_url", c.QueueURL, "concurrency", c.Concurrency)
	for ctx.Err() == nil {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			continue
		}
		n := 1
		for n < 10 && n < c.Concurrency {
			select {
			case slots <- struct{}{}:
				n++
				continue
			default:
			}
			break
		}
		// The receive is not cancelled by a stop: a response already on its way would leave its
		// messages invisible until their timeout. At a stop, what it brings is handed back.
		ch := make(chan received, 1)
		go func() { msgs, err := c.receive(ctx, n); ch <- received{msgs, err} }()
		var r received
		select {
		case r = <-ch:
		case <-ctx.Done():
			pending = ch
			for range n {
				<-slots
			}
			continue
		}
		for range n - len(r.msgs) {
			<-slots
		}
		if r.err != nil {
			failures++
			delay := min(time.Duration(failures)*time.Second, 30*time.Second)
			c.Logger.Error("receive failed", "error", r.err, "retry_in", delay.String())
			sleep(ctx, delay)
			continue
		}
		failures = 0
		for _, m := range r.msgs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-slots }()
				if ctx.Err() != nil {
					// Received as the stop came: not started, so handed back at once.
					c.release(m, c.logFor(m))
					return
				}
				c.handle(workCtx, m)
			}()
		}
	}

	if pending != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := <-pending
			for _, m := range r.msgs {
				c.release(m, c.logFor(m))
			}
		}()
	}
	c.Logger.Info("stopping: no more receives; waiting for in-flight work", "grace_period", c.GracePeriod.String())
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(c.GracePeriod):
		c.Logger.Warn("grace period over: releasing unfinished messages")
		cancelWork()
		<-done
	}
	c.Logger.Info("consumer stopped")
	return nil
}

type received struct {
	msgs []sqstypes.Message
	err  error
}

// receive asks for up to n messages. A stop does not cut it short (see Run); it ends by itself
// after the long-poll wait.
func (c *Consumer) receive(ctx context.Context, n int) ([]sqstypes.Message, error) {
	wait := c.WaitTime
	if wait <= 0 {
		wait = 20 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), wait+15*time.Second)
	defer cancel()
	out, err := c.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    &c.QueueURL,
		MaxNumberOfMessages:         int32(n),
		WaitTimeSeconds:             int32(wait / time.Second),
		VisibilityTimeout:           int32(c.VisibilityTimeout / time.Second),
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameApproximateReceiveCount},
		MessageAttributeNames:       []string{"All"},
	})
	if err != nil {
		return nil, fmt.Errorf("receive from %s: %w", c.QueueURL, err)
	}
	return out.Messages, nil
}

func receiveCount(m sqstypes.Message) int {
	n, err := strconv.Atoi(m.Attributes[string(sqstypes.MessageSystemAttributeNameApproximateReceiveCount)])
	if err != nil || n < 1 {
		return 1
	}
	return n
}

func (c *Consumer) logFor(m sqstypes.Message) *slog.Logger {
	return c.Logger.With("message_id", deref(m.MessageId), "receive_count", receiveCount(m))
}

// handle processes one message to its end: deleted after its outcome is recorded, or left to SQS
// for a later try.
func (c *Consumer) handle(ctx context.Context, m sqstypes.Message) {
	log := c.logFor(m)
	stopHeartbeat := c.heartbeat(ctx, m, log)

	objs, err := event.Parse([]byte(deref(m.Body)))
	if err != nil {
		stopHeartbeat()
		c.deadLetter(ctx, m, "malformed-event: "+err.Error(), nil, log)
		return
	}
	var outcomes []pipeline.Outcome
	for _, obj := range objs {
		olog := log.With("bucket", obj.Bucket, "key", obj.Key)
		o, err := c.Processor.Process(ctx, obj, olog)
		if err == nil && o.Status == pipeline.OK {
			err = c.Processor.Notify(ctx, o)
		}
		if err != nil {
			stopHeartbeat()
			c.retryLater(ctx, m, err, olog)
			return
		}
		outcomes = append(outcomes, o)
	}
	stopHeartbeat()

	var failed []pipeline.Outcome
	for _, o := range outcomes {
		if o.Status == pipeline.Failed {
			failed = append(failed, o)
		}
	}
	if len(failed) > 0 {
		reasons := make([]string, len(failed))
		for i, o := range failed {
			reasons[i] = o.Reason
		}
		c.deadLetter(ctx, m, strings.Join(reasons, "; "), outcomes, log)
		return
	}
	if err := c.delete(m); err != nil {
		log.Error("delete failed; the message will be received again and its thumbnail overwritten", "error", err)
	}
	for _, o := range outcomes {
		log.Info("done", "bucket", o.Object.Bucket, "key", o.Object.Key, "outcome", string(o.Status),
			"reason", o.Reason, "thumbnail_key", o.ThumbnailKey, "width", o.Width, "height", o.Height)
		c.report(o)
	}
	if len(outcomes) == 0 {
		log.Info("done", "outcome", "nothing to do")
	}
}

// deadLetter records a permanent failure: the message goes to the dead-letter queue with its
// reason, subscribers are told, and only then is it deleted from the work queue.
func (c *Consumer) deadLetter(ctx context.Context, m sqstypes.Message, reason string, outcomes []pipeline.Outcome, log *slog.Logger) {
	ctx, cancel := detached(ctx)
	defer cancel()
	attrs := map[string]sqstypes.MessageAttributeValue{}
	for k, v := range m.MessageAttributes {
		if k != AttrReason && k != AttrSourceMessageID {
			attrs[k] = v
		}
	}
	attrs[AttrReason] = stringAttr(truncate(reason, 1000))
	attrs[AttrSourceMessageID] = stringAttr(deref(m.MessageId))
	if _, err := c.SQS.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:          &c.DeadLetterURL,
		MessageBody:       m.Body,
		MessageAttributes: attrs,
	}); err != nil {
		// Not recorded, so not deleted: SQS delivers it again and, after the third receive,
		// moves it to the dead-letter queue itself.
		log.Error("could not send to the dead-letter queue; left on the work queue", "error", err, "reason", reason)
		return
	}
	for _, o := range outcomes {
		if o.Status == pipeline.Failed {
			if err := c.Processor.Notify(ctx, o); err != nil {
				log.Error("failure notification not sent", "key", o.Object.Key, "error", err)
			}
		}
	}
	if err := c.delete(m); err != nil {
		log.Error("delete failed after dead-lettering; the message may be dead-lettered twice", "error", err)
	}
	log.Warn("dead-lettered", "outcome", "failed", "reason", reason)
	for _, o := range outcomes {
		c.report(o)
	}
	if outcomes == nil {
		c.report(pipeline.Outcome{Status: pipeline.Failed, Reason: reason})
	}
}

// retryLater leaves a transiently failed message to SQS, invisible for a delay that grows with each
// receive; at a stop it is released at once instead.
func (c *Consumer) retryLater(ctx context.Context, m sqstypes.Message, err error, log *slog.Logger) {
	if ctx.Err() != nil {
		c.release(m, log)
		return
	}
	n := receiveCount(m)
	base := c.RetryBase
	if base <= 0 {
		base = 10 * time.Second
	}
	delay := base
	for i := 1; i < n && delay < 12*time.Hour; i++ {
		delay *= 3
	}
	delay = min(delay, 12*time.Hour)
	log.Warn("transient failure; SQS will deliver it again", "error", err, "retry_in", delay.String())
	c.setVisibility(m, delay, log)
}

func (c *Consumer) release(m sqstypes.Message, log *slog.Logger) {
	log.Info("released unfinished message", "outcome", "released")
	c.setVisibility(m, 0, log)
}

func (c *Consumer) setVisibility(m sqstypes.Message, d time.Duration, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.SQS.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl: &c.QueueURL, ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: int32(d / time.Second),
	})
	if err != nil {
		log.Error("change visibility failed; the message reappears when its visibility timeout ends", "error", err)
	}
}

// heartbeat keeps the message invisible while it is worked on; the returned func stops it.
func (c *Consumer) heartbeat(ctx context.Context, m sqstypes.Message, log *slog.Logger) func() {
	every := c.VisibilityTimeout / 3
	if every < 500*time.Millisecond {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				_, err := c.SQS.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
					QueueUrl: &c.QueueURL, ReceiptHandle: m.ReceiptHandle,
					VisibilityTimeout: int32(c.VisibilityTimeout / time.Second),
				})
				if err != nil && ctx.Err() == nil {
					log.Warn("visibility heartbeat failed", "error", err)
				}
			}
		}
	}()
	return func() { cancel(); <-done }
}

func (c *Consumer) delete(m sqstypes.Message) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.SQS.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &c.QueueURL, ReceiptHandle: m.ReceiptHandle})
	return err
}

func (c *Consumer) report(o pipeline.Outcome) {
	if c.OnOutcome != nil {
		c.OnOutcome(o)
	}
}

// detached gives the steps that record an outcome a context a stop does not cut short.
func detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
}

func stringAttr(v string) sqstypes.MessageAttributeValue {
	return sqstypes.MessageAttributeValue{DataType: ptr("String"), StringValue: &v}
}

// truncate shortens s to at most n bytes without cutting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func ptr[T any](v T) *T { return &v }

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// NewConsumer builds a Consumer from the worker's configuration.
func NewConsumer(c config.Config, q SQS, p Processor, log *slog.Logger) *Consumer {
	return &Consumer{
		SQS:               q,
		QueueURL:          c.QueueURL,
		DeadLetterURL:     c.DeadLetterURL,
		Processor:         p,
		Logger:            log,
		Concurrency:       c.Concurrency,
		VisibilityTimeout: c.VisibilityTimeout,
		GracePeriod:       c.GracePeriod,
	}
}
