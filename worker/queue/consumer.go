// Package queue is the transport between SQS and the work: it receives messages with long
// polling, keeps each invisible while its handler works (a heartbeat), deletes it when the handler
// succeeds, sends it to the dead-letter queue with its failure code when the handler fails
// permanently, leaves it to SQS after a growing delay when the failure is transient, and on a stop
// hands back (releases) what it could not finish. It never reads the message bodies: a Handler
// does. It also reports queue depth (Status) and moves dead letters back (Redrive).
package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/thumbq/thumbq/worker/config"
	"github.com/thumbq/thumbq/worker/failure"
)

// SQS is the part of the SQS client the consumer uses.
type SQS interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// Handler does the work a message asks for; *pipeline.Handler is the real one.
type Handler interface {
	// Handle does the work of one message body. nil means done (the message is deleted); an error
	// wrapping a *failure.Error means the input is at fault (the message is dead-lettered at once);
	// any other error is transient (SQS delivers the message again after a delay).
	Handle(ctx context.Context, body []byte, log *slog.Logger) error
	// DeadLettered is called once the message of a permanent failure is in the dead-letter queue,
	// with the error Handle returned, and before the message is deleted from the work queue.
	DeadLettered(ctx context.Context, body []byte, err error, log *slog.Logger)
}

// Consumer takes messages from the work queue. Set the fields, then call Run.
type Consumer struct {
	SQS           SQS
	QueueURL      string
	DeadLetterURL string
	Handler       Handler
	Logger        *slog.Logger

	Concurrency       int           // messages handled at once; at least 1
	VisibilityTimeout time.Duration // the queue's; a message being worked on is kept invisible this long, renewed at a third of it
	GracePeriod       time.Duration // after Run's context ends, the time in-flight work gets to finish
	WaitTime          time.Duration // long-poll wait; 0 means config.DefaultWaitTime
	RetryBase         time.Duration // first delay before a transient failure is retried; 0 means config.DefaultRetryBase; it triples each receive
	// MaxReceiveCount is the work queue's redrive policy: on this receive a transient failure is
	// the last one SQS allows, so the worker dead-letters the message itself, with the last error
	// as its reason and a notification, instead of letting SQS move it there silently. 0 means
	// config.MaxReceiveCount.
	MaxReceiveCount int
	// LastReceiveRetryWindow is how long a transient failure on that last receive is tried again
	// in-process, the heartbeat holding the message, before it is dead-lettered; 0 means
	// config.LastReceiveRetryWindow.
	LastReceiveRetryWindow time.Duration
	// QueueMaxReceiveCount is the receives SQS itself allows before it moves a message to the
	// dead-letter queue (the backstop above MaxReceiveCount); 0 means config.QueueMaxReceiveCount.
	// A stop that cuts the last receive's tries short hands the message back while SQS allows
	// another receive, and dead-letters it, with its reason, when it does not.
	QueueMaxReceiveCount int
}

// Message attributes set on what the worker sends to the dead-letter queue.
const (
	AttrReason          = "thumbq-reason" // the bare failure code (failure.Code), for filters and tools
	AttrDetail          = "thumbq-detail" // the text for people
	AttrSourceMessageID = "thumbq-source-message-id"
)

// Run consumes until ctx ends (SIGTERM), then stops receiving at once, gives in-flight work the
// grace period to finish and releases what did not (visibility 0), so another consumer takes it.
// It returns an error, after that same stop, when a receive fails in a way no retry can mend (the
// queue does not exist, access is denied): the container then exits and ECS sees it fail.
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
	fetchCtx, stopFetching := context.WithCancel(ctx)
	defer stopFetching()

	c.Logger.Info("consumer started", "queue_url", c.QueueURL, "concurrency", c.Concurrency)
	var inFlight sync.WaitGroup
	err := c.fetch(fetchCtx, workCtx, &inFlight)
	c.drain(&inFlight, cancelWork)
	if err != nil {
		c.Logger.Error("consumer stopped: the queue cannot be read", "error", err)
		return err
	}
	c.Logger.Info("consumer stopped")
	return nil
}

// fetch receives batches while ctx lasts and starts a goroutine per message, never more than
// Concurrency at once. It returns nil at a stop, or the receive error no retry can mend.
func (c *Consumer) fetch(ctx, workCtx context.Context, inFlight *sync.WaitGroup) error {
	slots := make(chan struct{}, c.Concurrency)
	failures := 0
	var failingSince time.Time
	for ctx.Err() == nil {
		n := c.takeSlots(ctx, slots)
		if n == 0 {
			continue
		}
		msgs, err := c.receiveOrRelease(ctx, n, inFlight)
		for range n - len(msgs) {
			<-slots
		}
		switch classify(ctx, err) {
		case fatal:
			return err
		case retry:
			if failures == 0 {
				failingSince = time.Now()
			}
			failures++
			if time.Since(failingSince) >= config.ReceiveFailureLimit {
				return fmt.Errorf("receives have failed for %s (%d tries): %w", time.Since(failingSince).Round(time.Second), failures, err)
			}
			delay := min(time.Duration(failures)*time.Second, 30*time.Second)
			c.Logger.Error("receive failed", "error", err, "retry_in", delay.String(), "failing_for", time.Since(failingSince).Round(time.Second).String())
			sleep(ctx, delay)
			continue
		}
		failures = 0
		for _, m := range msgs {
			inFlight.Add(1)
			go func() {
				defer inFlight.Done()
				defer func() { <-slots }()
				if ctx.Err() != nil {
					// Received as the stop came: not started, so handed back at once.
					c.release(m, c.logFor(m))
					return
				}
				c.handle(workCtx, ctx.Done(), m)
			}()
		}
	}
	return nil
}

// takeSlots waits for one free slot, then takes as many more as are free (up to a batch of 10),
// and returns how many it took: 0 at a stop.
func (c *Consumer) takeSlots(ctx context.Context, slots chan struct{}) int {
	select {
	case slots <- struct{}{}:
	case <-ctx.Done():
		return 0
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
	return n
}

// receiveOrRelease receives up to n messages. A stop does not cut the long poll short at once: a
// response already on its way would leave its messages invisible until their timeout. It waits
// config.StopReceiveWait for the receive to return, hands back (releases) what it brings, and only
// then cancels it, so an idle worker stops within about a second. The waiting is counted in
// inFlight; at a stop it returns no messages.
func (c *Consumer) receiveOrRelease(ctx context.Context, n int, inFlight *sync.WaitGroup) ([]sqstypes.Message, error) {
	rctx, cancelReceive := context.WithCancel(context.WithoutCancel(ctx))
	ch := make(chan received, 1)
	go func() { msgs, err := c.receive(rctx, n); ch <- received{msgs, err} }()
	select {
	case r := <-ch:
		cancelReceive()
		return r.msgs, r.err
	case <-ctx.Done():
		inFlight.Add(1)
		go func() {
			defer inFlight.Done()
			defer cancelReceive()
			var r received
			select {
			case r = <-ch:
			case <-time.After(config.StopReceiveWait):
				cancelReceive()
				r = <-ch
			}
			for _, m := range r.msgs {
				c.release(m, c.logFor(m))
			}
		}()
		return nil, nil
	}
}

// drain waits for in-flight work for the grace period, then cancels what is left (its messages
// are released) and waits for that.
func (c *Consumer) drain(inFlight *sync.WaitGroup, cancelWork context.CancelFunc) {
	c.Logger.Info("stopping: no more receives; waiting for in-flight work", "grace_period", c.GracePeriod.String())
	done := make(chan struct{})
	go func() { inFlight.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(c.GracePeriod):
		c.Logger.Warn("grace period over: releasing unfinished messages")
		cancelWork()
		<-done
	}
}

// disposition is what becomes of a message, or of the consumer, after an error.
type disposition int

const (
	done       disposition = iota // no error: delete the message
	deadLetter                    // the input is at fault: to the dead-letter queue at once
	retry                         // transient: try again later
	release                       // the stop came: hand the message back now
	fatal                         // the queue cannot be used (not found, access denied): stop the worker
)

// classify decides, once, what an error means: by its type (a *failure.Error is permanent), by the
// AWS error code for a receive that can never succeed, and by the stop for the rest.
func classify(ctx context.Context, err error) disposition {
	switch {
	case err == nil:
		return done
	case failure.IsPermanent(err):
		return deadLetter
	case ctx.Err() != nil:
		return release
	case queueUnusable(err):
		return fatal
	}
	return retry
}

// queueUnusable reports whether an SQS error says the queue itself cannot be used with these
// credentials, so that no retry can help.
func queueUnusable(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.ErrorCode() {
	case "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist", "NonExistentQueue",
		"AccessDenied", "AccessDeniedException", "InvalidClientTokenId", "UnrecognizedClientException",
		"InvalidAddress", "InvalidSecurity", "KMS.AccessDeniedException", "KMS.DisabledException":
		return true
	}
	return false
}

type received struct {
	msgs []sqstypes.Message
	err  error
}

// receive asks for up to n messages; it ends after the long-poll wait, or when ctx ends.
func (c *Consumer) receive(ctx context.Context, n int) ([]sqstypes.Message, error) {
	wait := c.WaitTime
	if wait <= 0 {
		wait = config.DefaultWaitTime
	}
	ctx, cancel := context.WithTimeout(ctx, wait+config.RequestTimeout)
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

// Describer is what a Handler may also implement: the log fields that name what a message is
// about (the pipeline's are the S3 keys), so that every line the queue logs for it says so.
type Describer interface {
	Describe(body []byte) []any
}

func (c *Consumer) logFor(m sqstypes.Message) *slog.Logger {
	l := c.Logger.With("message_id", aws.ToString(m.MessageId), "receive_count", receiveCount(m))
	if d, ok := c.Handler.(Describer); ok {
		l = l.With(d.Describe([]byte(aws.ToString(m.Body)))...)
	}
	return l
}

// handle works on one message to its end: deleted when the handler succeeds, dead-lettered when
// the input is at fault, left to SQS for a later try otherwise. stopping closes at a stop (SIGTERM):
// ctx, the work's, lasts into the grace period.
func (c *Consumer) handle(ctx context.Context, stopping <-chan struct{}, m sqstypes.Message) {
	log := c.logFor(m)
	body := []byte(aws.ToString(m.Body))
	// The heartbeat goes on while the outcome is recorded (a dead letter's notification may wait),
	// and stops before the message's visibility is changed on purpose.
	stopHeartbeat := c.heartbeat(ctx, m, log)
	defer stopHeartbeat()
	err := c.Handler.Handle(ctx, body, log)
	tries := 1
	if classify(ctx, err) == retry && receiveCount(m) >= c.maxReceives() {
		tries, err = c.retryLastReceive(ctx, stopping, body, err, log)
	}
	switch classify(ctx, err) {
	case done:
		c.deleteDone(m, log)
	case deadLetter:
		c.deadLetter(ctx, m, body, err, log)
	case release:
		stopHeartbeat()
		c.release(m, log)
	default:
		if max := c.maxReceives(); receiveCount(m) >= max {
			if isClosed(stopping) && receiveCount(m) < c.queueMaxReceives() {
				// The stop cut the tries short and SQS allows another receive: another worker
				// takes it at once, with tries of its own.
				stopHeartbeat()
				c.release(m, log)
				return
			}
			// SQS would move it to the dead-letter queue on the next receive, with no reason and
			// no notification: do it now, saying why.
			err = failure.New(failure.RetriesExhausted, "", "still failing on receive %d of %d (%s): %v", receiveCount(m), max, triesText(tries), err)
			c.deadLetter(ctx, m, body, err, log)
			return
		}
		stopHeartbeat()
		c.retryLater(m, err, log)
	}
}

// retryLastReceive tries a message that failed transiently on its last receive again, in-process,
// while the heartbeat holds it: after 1, 2, 4, ... s, for LastReceiveRetryWindow at most. Giving
// up after one attempt there would dead-letter an upload for one passing fault, even one whose
// work is done but for an answer that was lost (an SNS Publish that reached the topic). It returns
// the number of attempts and the last one's error; a stop ends the tries at once (handle then hands
// the message back, or dead-letters it with its reason), well within the grace period.
func (c *Consumer) retryLastReceive(ctx context.Context, stopping <-chan struct{}, body []byte, err error, log *slog.Logger) (int, error) {
	window := c.LastReceiveRetryWindow
	if window <= 0 {
		window = config.LastReceiveRetryWindow
	}
	deadline := time.Now().Add(window)
	tries := 1
	for wait := time.Second; time.Now().Add(wait).Before(deadline) && !isClosed(stopping); wait *= 2 {
		log.Warn("transient failure on the last receive; trying again in-process", "error", err, "retry_in", wait.String(), "tries", tries)
		select {
		case <-stopping:
			return tries, err
		case <-ctx.Done():
			return tries, err
		case <-time.After(wait):
		}
		err = c.Handler.Handle(ctx, body, log)
		tries++
		if classify(ctx, err) != retry {
			if err == nil {
				log.Info("done on the last receive after retrying in-process", "tries", tries)
			}
			return tries, err
		}
	}
	return tries, err
}

func (c *Consumer) queueMaxReceives() int {
	if c.QueueMaxReceiveCount > 0 {
		return c.QueueMaxReceiveCount
	}
	return config.QueueMaxReceiveCount
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func triesText(n int) string {
	if n == 1 {
		return "1 try"
	}
	return strconv.Itoa(n) + " tries"
}

func (c *Consumer) maxReceives() int {
	if c.MaxReceiveCount > 0 {
		return c.MaxReceiveCount
	}
	return config.MaxReceiveCount
}

// deleteDone deletes a message whose work is done, trying again while the visibility timeout
// leaves time: a delete that never succeeds brings the message back, and on its last receive SQS
// would move a success to the dead-letter queue. A lost response is harmless (deleting twice
// succeeds), so the log says only what is known.
func (c *Consumer) deleteDone(m sqstypes.Message, log *slog.Logger) {
	var err error
	deadline := time.Now().Add(c.VisibilityTimeout / 2)
	for try, wait := 1, 200*time.Millisecond; ; try, wait = try+1, wait*2 {
		if err = c.delete(m); err == nil {
			if try > 1 {
				log.Info("deleted after retrying", "tries", try)
			}
			return
		}
		if time.Now().Add(wait).After(deadline) {
			break
		}
		time.Sleep(wait)
	}
	log.Error("delete not confirmed; if the message comes back, the redelivery is acknowledged without making the thumbnail again", "error", err)
}

// deadLetter records a permanent failure: the message goes to the dead-letter queue with its
// failure code, the handler's hook runs (subscribers are told), and only then is the message
// deleted from the work queue.
func (c *Consumer) deadLetter(ctx context.Context, m sqstypes.Message, body []byte, err error, log *slog.Logger) {
	ctx, cancel := detached(ctx)
	defer cancel()
	code := string(failure.As(err).Code)
	attrs := map[string]sqstypes.MessageAttributeValue{}
	for k, v := range m.MessageAttributes {
		if k != AttrReason && k != AttrDetail && k != AttrSourceMessageID {
			attrs[k] = v
		}
	}
	attrs[AttrReason] = stringAttr(code)
	attrs[AttrDetail] = stringAttr(truncate(err.Error(), 1000))
	attrs[AttrSourceMessageID] = stringAttr(aws.ToString(m.MessageId))
	if _, serr := c.SQS.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:          &c.DeadLetterURL,
		MessageBody:       m.Body,
		MessageAttributes: attrs,
	}); serr != nil {
		// Not recorded, so not deleted: SQS delivers it again and, after the last receive,
		// moves it to the dead-letter queue itself.
		log.Error("could not send to the dead-letter queue; left on the work queue", "error", serr, "reason", code)
		return
	}
	hookCtx, cancelHook := context.WithTimeout(context.WithoutCancel(ctx), config.HookTimeout)
	defer cancelHook()
	c.Handler.DeadLettered(hookCtx, body, err, log)
	if derr := c.delete(m); derr != nil {
		log.Error("delete after dead-lettering not confirmed; if the message comes back it is dead-lettered again", "error", derr)
	}
	log.Warn("dead-lettered", "outcome", "failed", "reason", code, "detail", err.Error())
}

// retryLater leaves a transiently failed message to SQS, invisible for a delay that grows with each
// receive.
func (c *Consumer) retryLater(m sqstypes.Message, err error, log *slog.Logger) {
	n := receiveCount(m)
	delay := c.RetryBase
	if delay <= 0 {
		delay = config.DefaultRetryBase
	}
	for i := 1; i < n && delay < config.MaxRetryDelay; i++ {
		delay *= 3
	}
	delay = min(delay, config.MaxRetryDelay)
	log.Warn("transient failure; SQS will deliver it again", "error", err, "retry_in", delay.String())
	c.setVisibility(m, delay, log)
}

func (c *Consumer) release(m sqstypes.Message, log *slog.Logger) {
	log.Info("released unfinished message", "outcome", "released")
	c.setVisibility(m, 0, log)
}

func (c *Consumer) setVisibility(m sqstypes.Message, d time.Duration, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), config.RequestTimeout)
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
	every := max(c.VisibilityTimeout/3, 100*time.Millisecond) // config refuses timeouts under 3 s
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
	ctx, cancel := context.WithTimeout(context.Background(), config.RequestTimeout)
	defer cancel()
	_, err := c.SQS.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &c.QueueURL, ReceiptHandle: m.ReceiptHandle})
	return err
}

// detached gives the steps that record an outcome a context a stop does not cut short.
func detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), config.RequestTimeout)
}

func stringAttr(v string) sqstypes.MessageAttributeValue {
	return sqstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: &v}
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

// NewConsumer builds a Consumer from the worker's configuration.
func NewConsumer(c config.Config, q SQS, h Handler, log *slog.Logger) *Consumer {
	return &Consumer{
		SQS:               q,
		QueueURL:          c.QueueURL,
		DeadLetterURL:     c.DeadLetterURL,
		Handler:           h,
		Logger:            log,
		Concurrency:       c.Concurrency,
		VisibilityTimeout: c.VisibilityTimeout,
		GracePeriod:       c.GracePeriod,
		WaitTime:          c.WaitTime,
		RetryBase:         c.RetryBase,
		MaxReceiveCount:   config.MaxReceiveCount,
	}
}
