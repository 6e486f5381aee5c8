package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/aws/smithy-go"

	"github.com/thumbq/thumbq/worker/config"
	"github.com/thumbq/thumbq/worker/failure"
)

// recorder is an SQS fake that hands out a fixed set of messages once and records every call in
// order; the real protocol is covered by the end-to-end tests through the emulator.
type recorder struct {
	mu      sync.Mutex
	msgs    []sqstypes.Message
	calls   []string
	sendErr error
}

func (r *recorder) log(s string) { r.mu.Lock(); r.calls = append(r.calls, s); r.mu.Unlock() }

func (r *recorder) ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	r.mu.Lock()
	n := min(int(in.MaxNumberOfMessages), len(r.msgs))
	out := r.msgs[:n]
	r.msgs = r.msgs[n:]
	r.mu.Unlock()
	if n == 0 {
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
	return &sqs.ReceiveMessageOutput{Messages: out}, nil
}

func (r *recorder) DeleteMessage(_ context.Context, in *sqs.DeleteMessageInput, _ ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error) {
	r.log("delete " + *in.ReceiptHandle)
	return &sqs.DeleteMessageOutput{}, nil
}

func (r *recorder) ChangeMessageVisibility(_ context.Context, in *sqs.ChangeMessageVisibilityInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	r.log(fmt.Sprintf("visibility %s %d", *in.ReceiptHandle, in.VisibilityTimeout))
	return &sqs.ChangeMessageVisibilityOutput{}, nil
}

func (r *recorder) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	if r.sendErr != nil {
		r.log("send-failed " + *in.QueueUrl)
		return nil, r.sendErr
	}
	r.log(fmt.Sprintf("send %s reason=%s detail=%s", *in.QueueUrl, *in.MessageAttributes[AttrReason].StringValue, *in.MessageAttributes[AttrDetail].StringValue))
	return &sqs.SendMessageOutput{}, nil
}

func (r *recorder) Calls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}

// script is a Handler whose result per body is set by the test; the body is just a name.
type script struct {
	mu           sync.Mutex
	delay        time.Duration
	err          map[string]error
	r            *recorder // DeadLettered calls are recorded in its call order
	deadLettered []string
}

func (s *script) Handle(ctx context.Context, body []byte, _ *slog.Logger) error {
	select {
	case <-time.After(s.delay):
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.err[string(body)]
}

func (s *script) DeadLettered(_ context.Context, body []byte, err error, _ *slog.Logger) {
	s.mu.Lock()
	s.deadLettered = append(s.deadLettered, string(body)+": "+err.Error())
	s.mu.Unlock()
	if s.r != nil {
		s.r.log("hook " + string(body))
	}
}

func msg(id, body string, receives int) sqstypes.Message {
	return sqstypes.Message{MessageId: &id, ReceiptHandle: &id, Body: &body,
		Attributes: map[string]string{"ApproximateReceiveCount": fmt.Sprint(receives)}}
}

// runUntil runs the consumer until want calls were recorded (or 5 s passed), then stops it.
func runUntil(t *testing.T, c *Consumer, r *recorder, want int) []string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for len(r.Calls()) < want && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	return r.Calls()
}

func newConsumer(r *recorder, h Handler) *Consumer {
	return &Consumer{SQS: r, QueueURL: "work", DeadLetterURL: "dlq", Handler: h, Concurrency: 2,
		VisibilityTimeout: 60 * time.Second, GracePeriod: time.Second, WaitTime: time.Second}
}

var notAnImage = failure.New(failure.NotImage, "", "text")

func TestAPermanentFailureIsDeadLetteredWithItsBareCodeBeforeItIsDeleted(t *testing.T) {
	r := &recorder{msgs: []sqstypes.Message{msg("m1", "notes.txt", 1)}}
	h := &script{err: map[string]error{"notes.txt": fmt.Errorf("processing: %w", notAnImage)}, r: r}
	calls := runUntil(t, newConsumer(r, h), r, 3)
	want := []string{"send dlq reason=not-an-image detail=processing: not-an-image: text", "hook notes.txt", "delete m1"}
	if strings.Join(calls, "|") != strings.Join(want, "|") {
		t.Errorf("calls = %q; want %q", calls, want)
	}
	if len(h.deadLettered) != 1 || h.deadLettered[0] != "notes.txt: processing: not-an-image: text" {
		t.Errorf("DeadLettered saw %q; want the handler's own error once", h.deadLettered)
	}
}

func TestAMessageIsNotDeletedWhenTheDeadLetterQueueRefusesIt(t *testing.T) {
	r := &recorder{msgs: []sqstypes.Message{msg("m1", "notes.txt", 1)}, sendErr: errors.New("throttled")}
	h := &script{err: map[string]error{"notes.txt": notAnImage}}
	calls := runUntil(t, newConsumer(r, h), r, 1)
	time.Sleep(50 * time.Millisecond)
	for _, c := range r.Calls() {
		if strings.HasPrefix(c, "delete") {
			t.Errorf("calls = %q; the message was deleted without its outcome recorded", calls)
		}
	}
	if len(h.deadLettered) != 0 {
		t.Errorf("DeadLettered ran %q though the message never reached the dead-letter queue", h.deadLettered)
	}
}

func TestATransientFailureIsRetriedAfterAGrowingDelay(t *testing.T) {
	for receives, want := range map[int]int{1: 10, 2: 30, 3: 90} {
		t.Run(fmt.Sprintf("receive %d waits %d s", receives, want), func(t *testing.T) {
			r := &recorder{msgs: []sqstypes.Message{msg("m1", "a.jpg", receives)}}
			h := &script{err: map[string]error{"a.jpg": errors.New("s3: SlowDown")}}
			c := newConsumer(r, h)
			c.MaxReceiveCount = 10 // receive 3 is not the last here
			calls := runUntil(t, c, r, 1)
			if len(calls) != 1 || calls[0] != fmt.Sprintf("visibility m1 %d", want) {
				t.Errorf("calls = %q; want [visibility m1 %d] and no delete", calls, want)
			}
		})
	}
}

func TestSlowWorkIsKeptInvisible(t *testing.T) {
	r := &recorder{msgs: []sqstypes.Message{msg("m1", "big.jpg", 1)}}
	h := &script{delay: 2500 * time.Millisecond}
	c := newConsumer(r, h)
	c.VisibilityTimeout = 3 * time.Second // renewed every second
	c.GracePeriod = 5 * time.Second
	calls := runUntil(t, c, r, 3)
	// 2.5 s of work with a 3 s timeout renewed every second: at least two renewals, then the delete.
	if len(calls) < 3 || calls[len(calls)-1] != "delete m1" {
		t.Fatalf("calls = %q; want renewals, then delete m1", calls)
	}
	for _, c := range calls[:len(calls)-1] {
		if c != "visibility m1 3" {
			t.Errorf("calls = %q; want only renewals to 3 s before the delete", calls)
		}
	}
}

// unusable is an SQS whose every receive fails with an API error code.
type unusable struct {
	recorder
	code string
}

func (u *unusable) ReceiveMessage(context.Context, *sqs.ReceiveMessageInput, ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	return nil, &smithy.GenericAPIError{Code: u.code, Message: "no"}
}

func TestAQueueThatCannotBeReadStopsTheConsumer(t *testing.T) {
	for _, code := range []string{"AWS.SimpleQueueService.NonExistentQueue", "AccessDenied"} {
		t.Run(code+" ends Run with an error", func(t *testing.T) {
			u := &unusable{code: code}
			c := newConsumer(&u.recorder, &script{})
			c.SQS = u
			done := make(chan error, 1)
			go func() { done <- c.Run(context.Background()) }()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), code) {
					t.Errorf("Run = %v; want an error naming %s", err, code)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Run still running 5 s after a receive said the queue cannot be used")
			}
		})
	}
}

func TestAThrottledReceiveIsRetriedNotFatal(t *testing.T) {
	u := &unusable{code: "ThrottlingException"}
	c := newConsumer(&u.recorder, &script{})
	c.SQS = u
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := c.Run(ctx); err != nil {
		t.Errorf("Run = %v; want nil (a throttled receive is retried until the stop)", err)
	}
}

func TestATransientFailureOnTheLastReceiveIsDeadLetteredWithTheLastError(t *testing.T) {
	r := &recorder{msgs: []sqstypes.Message{msg("m1", "a.jpg", 3)}}
	h := &script{err: map[string]error{"a.jpg": errors.New("s3: SlowDown")}, r: r}
	c := newConsumer(r, h)
	c.LastReceiveRetryWindow = 2500 * time.Millisecond // tries after 1 s, then gives up (2 s more would pass it)
	calls := runUntil(t, c, r, 3)
	want := []string{"send dlq reason=retries-exhausted detail=retries-exhausted: still failing on receive 3 of 3 (2 tries): s3: SlowDown", "hook a.jpg", "delete m1"}
	if strings.Join(calls, "|") != strings.Join(want, "|") {
		t.Errorf("calls = %q; want %q (SQS would move it on the next receive, with no reason)", calls, want)
	}
}

// flaky is a Handler that fails transiently a number of times, then succeeds.
type flaky struct {
	mu    sync.Mutex
	fails int
	calls int
}

func (f *flaky) Handle(context.Context, []byte, *slog.Logger) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.calls <= f.fails {
		return errors.New("publish: connection reset by peer")
	}
	return nil
}

func (f *flaky) DeadLettered(context.Context, []byte, error, *slog.Logger) {}

func TestATransientFailureOnTheLastReceiveIsTriedAgainInProcess(t *testing.T) {
	for receives, wantCalls := range map[int]int{2: 1, 3: 3} {
		t.Run(fmt.Sprintf("receive %d of 3 tries %d times", receives, wantCalls), func(t *testing.T) {
			r := &recorder{msgs: []sqstypes.Message{msg("m1", "a.jpg", receives)}}
			h := &flaky{fails: 2}
			c := newConsumer(r, h)
			c.LastReceiveRetryWindow = 10 * time.Second
			calls := runUntil(t, c, r, 1)
			want := "delete m1"
			if receives < 3 {
				want = "visibility m1 30" // not the last receive: left to SQS, as before
			}
			if len(calls) != 1 || calls[0] != want {
				t.Errorf("calls = %q; want [%s] and nothing sent to the dead-letter queue", calls, want)
			}
			if h.calls != wantCalls {
				t.Errorf("Handle ran %d times; want %d", h.calls, wantCalls)
			}
		})
	}
}

func TestAStopEndsTheTriesOnTheLastReceiveAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name     string
		receives int
		want     string
	}{
		{"receive 3 of the 5 SQS allows is handed back for another worker", 3, "visibility m1 0"},
		{"receive 5 of 5 is dead-lettered with its reason", 5,
			"send dlq reason=retries-exhausted detail=retries-exhausted: still failing on receive 5 of 3 (1 try): s3: SlowDown|hook a.jpg|delete m1"},
	} {
		receives, want := tc.receives, tc.want
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{msgs: []sqstypes.Message{msg("m1", "a.jpg", receives)}}
			h := &script{err: map[string]error{"a.jpg": errors.New("s3: SlowDown")}, r: r}
			c := newConsumer(r, h)
			c.GracePeriod = 10 * time.Second
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { c.Run(ctx); close(done) }()
			time.Sleep(300 * time.Millisecond) // the first try has failed; the next is a second away
			stopped := time.Now()
			cancel()
			<-done
			if took := time.Since(stopped); took > 2*time.Second {
				t.Errorf("Run took %s after the stop; want the tries ended at once", took.Round(time.Millisecond))
			}
			if calls := r.Calls(); strings.Join(calls, "|") != want {
				t.Errorf("calls = %q; want %q", calls, want)
			}
		})
	}
}

// longPoll is an SQS whose receive waits out its whole long poll, as an empty queue does, unless
// its context ends; after the stop it can answer with messages late.
type longPoll struct {
	recorder
	late    []sqstypes.Message // when set, the receive answers with these lateAt into the poll
	lateAt  time.Duration
	started chan struct{}
}

func (l *longPoll) ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	select {
	case l.started <- struct{}{}:
	default:
	}
	wait := time.Duration(in.WaitTimeSeconds) * time.Second
	if l.late != nil {
		wait = l.lateAt
	}
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(wait):
		return &sqs.ReceiveMessageOutput{Messages: l.late}, nil
	}
}

func TestAnIdleStopEndsTheLongPollWithinASecond(t *testing.T) {
	l := &longPoll{started: make(chan struct{}, 1)}
	c := newConsumer(&l.recorder, &script{})
	c.SQS, c.WaitTime = l, 20*time.Second
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	<-l.started
	stopped := time.Now()
	cancel()
	select {
	case err := <-done:
		if took := time.Since(stopped); took > 3*time.Second {
			t.Errorf("Run took %s to stop while idle; want about %s, not the 20 s poll", took, config.StopReceiveWait)
		}
		if err != nil {
			t.Errorf("Run = %v; want nil", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run still polling 15 s after the stop")
	}
}

func TestMessagesAReceiveBringsAfterTheStopAreHandedBack(t *testing.T) {
	l := &longPoll{started: make(chan struct{}, 1), late: []sqstypes.Message{msg("m1", "a.jpg", 1), msg("m2", "b.jpg", 1)}, lateAt: 300 * time.Millisecond}
	c := newConsumer(&l.recorder, &script{})
	c.SQS = l
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	<-l.started
	cancel()
	<-done
	calls := l.recorder.Calls()
	sort.Strings(calls)
	if strings.Join(calls, "|") != "visibility m1 0|visibility m2 0" {
		t.Errorf("calls = %q; want both late messages released (visibility 0), none worked on", calls)
	}
}
