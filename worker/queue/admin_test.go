package queue

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/png"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/thumbq/thumbq/worker/config"
	"github.com/thumbq/thumbq/worker/emulate"
	"github.com/thumbq/thumbq/worker/failure"
	"github.com/thumbq/thumbq/worker/pipeline"
)

func TestStatusAndRedriveThroughTheEmulator(t *testing.T) {
	ctx := context.Background()
	stack, err := emulate.Start(ctx, emulate.Options{Prefix: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	defer stack.Close()
	q := stack.SQSClient()
	send := func(url, body string, attrs map[string]sqstypes.MessageAttributeValue) {
		t.Helper()
		if _, err := q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &url, MessageBody: &body, MessageAttributes: attrs}); err != nil {
			t.Fatal(err)
		}
	}
	send(stack.QueueURL, `{"waiting":1}`, nil)
	send(stack.QueueURL, `{"waiting":2}`, nil)
	for i := range 3 {
		send(stack.DeadLetterURL, `{"dead":`+string(rune('0'+i))+`}`, map[string]sqstypes.MessageAttributeValue{
			AttrReason: stringAttr("corrupt: truncated"), "origin": stringAttr("test"),
		})
	}
	// One in flight.
	if _, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &stack.QueueURL, MaxNumberOfMessages: 1, VisibilityTimeout: 60}); err != nil {
		t.Fatal(err)
	}

	d, err := Status(ctx, q, nil, stack.QueueURL, stack.DeadLetterURL)
	if err != nil {
		t.Fatal(err)
	}
	if d.Visible != 1 || d.InFlight != 1 || d.DeadLetter != 3 || d.OldestAgeErr == nil {
		t.Errorf("Status = %+v; want 1 waiting, 1 in flight, 3 dead, age unknown without CloudWatch", d)
	}

	r, err := Redrive(ctx, q, stack.DeadLetterURL, stack.QueueURL, RedriveOptions{All: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.Present != 3 || r.Moved != 3 || r.LeftCount() != 0 || !strings.Contains(r.How, "no StartMessageMoveTask") {
		t.Errorf("Redrive(All) = %+v; want 3 present, 3 moved by hand (the emulator has no StartMessageMoveTask)", r)
	}
	d, err = Status(ctx, q, nil, stack.QueueURL, stack.DeadLetterURL)
	if err != nil {
		t.Fatal(err)
	}
	if d.Visible != 4 || d.DeadLetter != 0 {
		t.Errorf("after redrive Status = %+v; want 4 waiting, 0 dead", d)
	}
	out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &stack.QueueURL, MaxNumberOfMessages: 10, MessageAttributeNames: []string{"All"}})
	if err != nil {
		t.Fatal(err)
	}
	var redriven int
	for _, m := range out.Messages {
		if strings.Contains(*m.Body, "dead") {
			redriven++
			if _, ok := m.MessageAttributes[AttrReason]; ok {
				t.Errorf("a redriven message still carries %s", AttrReason)
			}
			if a, ok := m.MessageAttributes["origin"]; !ok || *a.StringValue != "test" {
				t.Errorf("a redriven message lost its own attributes: %v", m.MessageAttributes)
			}
		}
	}
	if redriven != 3 {
		t.Errorf("received %d redriven messages; want 3", redriven)
	}
}

// TestRedriveLeavesAPermanentFailure runs the real worker (consumer and pipeline) on the emulator.
// A text file is dead-lettered at once for not being an image: moving it back cannot help, so
// redrive leaves it (with its reason) and moves only what failed for a transient cause (moved by
// SQS with no reason, or by the worker as retries-exhausted).
func TestRedriveLeavesAPermanentFailure(t *testing.T) {
	ctx := context.Background()
	stack, err := emulate.Start(ctx, emulate.Options{Prefix: "redrive", VisibilityTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer stack.Close()
	wc := config.Defaults()
	stack.Configure(&wc)
	wc.VisibilityTimeout, wc.GracePeriod, wc.WaitTime, wc.RetryBase = 3*time.Second, time.Second, time.Second, time.Second
	if err := wc.Validate(); err != nil {
		t.Fatal(err)
	}
	s3c, q := stack.S3Client(), stack.SQSClient()
	h := &pipeline.Handler{Processor: pipeline.New(wc, s3c, stack.SNSClient(), nil)}
	workCtx, stopWork := context.WithCancel(ctx)
	workDone := make(chan error, 1)
	go func() { workDone <- NewConsumer(wc, q, h, slog.New(slog.DiscardHandler)).Run(workCtx) }()
	defer func() { stopWork(); <-workDone }()

	put := func(key string, body []byte) {
		t.Helper()
		if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: &stack.SourceBucket, Key: &key, Body: bytes.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	deadLetters := func(t *testing.T, want int) {
		t.Helper()
		for wait := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			d, err := Status(ctx, q, nil, stack.QueueURL, stack.DeadLetterURL)
			if err != nil {
				t.Fatal(err)
			}
			if d.DeadLetter == want && d.Visible == 0 && d.InFlight == 0 {
				return
			}
			if time.Now().After(wait) {
				t.Fatalf("queues never settled with %d dead letters: %+v", want, d)
			}
		}
	}
	put("notes.txt", []byte("These are notes, not a photograph."))
	deadLetters(t, 1)
	// A message SQS moved after its last receive (a transient failure, since mended) carries no
	// reason: redrive moves it, and the worker takes it (and, its thumbnail made already,
	// acknowledges it).
	var img bytes.Buffer
	if err := png.Encode(&img, image.NewGray(image.Rect(0, 0, 80, 60))); err != nil {
		t.Fatal(err)
	}
	put("photo.png", img.Bytes())
	deadLetters(t, 1)
	event := `{"version":"0","detail-type":"Object Created","source":"aws.s3","region":"us-east-1",` +
		`"resources":["arn:aws:s3:::` + stack.SourceBucket + `"],"detail":{"bucket":{"name":"` + stack.SourceBucket +
		`"},"object":{"key":"photo.png","size":` + strconv.Itoa(img.Len()) + `},"reason":"PutObject"}}`
	if _, err := q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &stack.DeadLetterURL, MessageBody: &event}); err != nil {
		t.Fatal(err)
	}
	// And one the worker dead-lettered itself after the last receive, for a transient failure.
	if _, err := q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &stack.DeadLetterURL, MessageBody: &event,
		MessageAttributes: map[string]sqstypes.MessageAttributeValue{AttrReason: stringAttr(string(failure.RetriesExhausted))}}); err != nil {
		t.Fatal(err)
	}

	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	r, err := Redrive(rctx, q, stack.DeadLetterURL, stack.QueueURL, RedriveOptions{})
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Redrive did not end within 20 s: %+v", r)
	}
	if err != nil {
		t.Fatal(err)
	}
	if r.Present != 3 || r.Moved != 2 || r.LeftCount() != 1 || r.Left["not-an-image"] != 1 {
		t.Errorf("Redrive = %+v; want 3 present, 2 moved (no reason, retries-exhausted), not-an-image: 1 left", r)
	}
	// The failure is still in the dead-letter queue, visible again, and nothing goes round.
	deadLetters(t, 1)
	out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &stack.DeadLetterURL, MessageAttributeNames: []string{"All"}})
	if err != nil || len(out.Messages) != 1 {
		t.Fatalf("ReceiveMessage(dead-letter queue) = %v, %v; want the failure", out, err)
	}
	if a := out.Messages[0].MessageAttributes[AttrReason]; aws.ToString(a.StringValue) != "not-an-image" {
		t.Errorf("the dead letter left has %s %q; want not-an-image", AttrReason, aws.ToString(a.StringValue))
	}
}

// deadLetterAll is a worker's handler that fails every message permanently, as the pipeline fails
// an upload that is not an image: the consumer puts each message it receives back on the
// dead-letter queue at once.
type deadLetterAll struct{}

func (deadLetterAll) Handle(context.Context, []byte, *slog.Logger) error {
	return failure.New(failure.NotImage, "", "not an image")
}

func (deadLetterAll) DeadLettered(context.Context, []byte, error, *slog.Logger) {}

// TestRedriveEndsWhileTheWorkerRefillsTheDeadLetterQueue: with --all, every message moved fails
// again and is back in the dead-letter queue at once. Redrive used to loop until a receive came
// back empty, which a running worker never let happen: against make serve it moved one text file
// 244 times in 15 s and 131,714 times in ten minutes. It must move what was there when it started,
// once each, and end.
func TestRedriveEndsWhileTheWorkerRefillsTheDeadLetterQueue(t *testing.T) {
	ctx := context.Background()
	stack, err := emulate.Start(ctx, emulate.Options{Prefix: "refill", VisibilityTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer stack.Close()
	wc := config.Defaults()
	stack.Configure(&wc)
	wc.VisibilityTimeout, wc.GracePeriod, wc.WaitTime = 3*time.Second, time.Second, time.Second
	q := stack.SQSClient()
	for i := range 3 {
		body := `{"n":` + strconv.Itoa(i) + `}`
		if _, err := q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &stack.DeadLetterURL, MessageBody: &body,
			MessageAttributes: map[string]sqstypes.MessageAttributeValue{AttrReason: stringAttr("not-an-image")}}); err != nil {
			t.Fatal(err)
		}
	}
	workCtx, stopWork := context.WithCancel(ctx)
	workDone := make(chan error, 1)
	go func() { workDone <- NewConsumer(wc, q, deadLetterAll{}, slog.New(slog.DiscardHandler)).Run(workCtx) }()
	defer func() { stopWork(); <-workDone }()

	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	r, err := Redrive(rctx, q, stack.DeadLetterURL, stack.QueueURL, RedriveOptions{All: true})
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Redrive --all did not end within 20 s (%d moved)", r.Moved)
	}
	if err != nil {
		t.Fatal(err)
	}
	if r.Present != 3 || r.Moved != 3 {
		t.Errorf("Redrive(All) = %+v; want the 3 present moved once each", r)
	}
	for wait := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		d, err := Status(ctx, q, nil, stack.QueueURL, stack.DeadLetterURL)
		if err != nil {
			t.Fatal(err)
		}
		if d.DeadLetter == 3 && d.Visible == 0 && d.InFlight == 0 {
			break // failed again, back where they were
		}
		if time.Now().After(wait) {
			t.Fatalf("queues never settled with the 3 dead letters back: %+v", d)
		}
	}
}

// cancelAfterSend is the emulator's SQS client with a Ctrl-C after the first message is sent.
type cancelAfterSend struct {
	AdminSQS
	cancel context.CancelFunc
}

func (c cancelAfterSend) SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	out, err := c.AdminSQS.SendMessage(ctx, in, opts...)
	c.cancel()
	return out, err
}

// TestRedriveInterrupted: a Ctrl-C mid-redrive says what moved, and what it held aside is
// visible on the dead-letter queue again at once, nothing lost or hidden.
func TestRedriveInterrupted(t *testing.T) {
	ctx := context.Background()
	stack, err := emulate.Start(ctx, emulate.Options{Prefix: "interrupt", VisibilityTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer stack.Close()
	q := stack.SQSClient()
	for i, reason := range []string{"not-an-image", "", "", "corrupt"} {
		attrs := map[string]sqstypes.MessageAttributeValue{}
		if reason != "" {
			attrs[AttrReason] = stringAttr(reason)
		}
		body := `{"n":` + strconv.Itoa(i) + `}`
		if _, err := q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &stack.DeadLetterURL, MessageBody: &body, MessageAttributes: attrs}); err != nil {
			t.Fatal(err)
		}
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r, err := Redrive(rctx, cancelAfterSend{q, cancel}, stack.DeadLetterURL, stack.QueueURL, RedriveOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Redrive interrupted = %+v, %v; want context.Canceled", r, err)
	}
	if r.Present != 4 || r.Moved > 1 {
		t.Errorf("Redrive interrupted = %+v; want 4 present, at most the one sent before the interrupt moved", r)
	}
	d, err := Status(ctx, q, nil, stack.QueueURL, stack.DeadLetterURL)
	if err != nil {
		t.Fatal(err)
	}
	// The message whose copy was sent may not have been deleted (the interrupt came between):
	// then it is on both queues, never on neither.
	if d.DeadLetter+d.Visible < 4 || d.InFlight != 0 {
		t.Errorf("after the interrupt: %+v; want all 4 messages visible on one queue or the other, none held", d)
	}
}

// TestRedriveOfRetriesExhaustedMakesTheThumbnail: a transient failure through every receive is
// dead-lettered as retries-exhausted, and notified; once the cause is gone, redrive (without
// --all) moves it and the worker makes the thumbnail. Until 719d3e6 the worker acknowledged the
// moved message as "already made and notified" and no thumbnail was ever made.
func TestRedriveOfRetriesExhaustedMakesTheThumbnail(t *testing.T) {
	ctx := context.Background()
	stack, err := emulate.Start(ctx, emulate.Options{Prefix: "exhausted", VisibilityTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer stack.Close()
	wc := config.Defaults()
	stack.Configure(&wc)
	wc.VisibilityTimeout, wc.GracePeriod, wc.WaitTime, wc.RetryBase = 3*time.Second, time.Second, time.Second, 100*time.Millisecond
	s3c, q := stack.S3Client(), stack.SQSClient()
	h := &pipeline.Handler{Processor: pipeline.New(wc, s3c, stack.SNSClient(), nil)}
	workCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	c := NewConsumer(wc, q, h, slog.New(slog.DiscardHandler))
	c.LastReceiveRetryWindow = time.Millisecond // no tries in-process on the last receive: this test is about the redrive
	go func() { done <- c.Run(workCtx) }()
	defer func() { stop(); <-done }()
	stack.FailNext("s3:HeadObject", 1000) // every receive fails, after the SDK's own retries
	var img bytes.Buffer
	if err := png.Encode(&img, image.NewGray(image.Rect(0, 0, 80, 60))); err != nil {
		t.Fatal(err)
	}
	if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: &stack.SourceBucket, Key: aws.String("photo.png"), Body: bytes.NewReader(img.Bytes())}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		d, _ := Status(ctx, q, nil, stack.QueueURL, stack.DeadLetterURL)
		if d.DeadLetter == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never dead-lettered: %+v", d)
		}
	}
	stack.FailNext("s3:HeadObject", 0)
	r, err := Redrive(ctx, q, stack.DeadLetterURL, stack.QueueURL, RedriveOptions{})
	if err != nil || r.Moved != 1 {
		t.Fatalf("Redrive = %+v, %v; want the retries-exhausted message moved", r, err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if _, err := s3c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &stack.ThumbnailBucket, Key: aws.String("64x64/photo.png.png")}); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redriven retries-exhausted upload never got its thumbnail")
		}
	}
}
