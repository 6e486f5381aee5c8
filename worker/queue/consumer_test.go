package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/thumbq/thumbq/worker/event"
	"github.com/thumbq/thumbq/worker/pipeline"
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
	r.log(fmt.Sprintf("send %s reason=%s", *in.QueueUrl, *in.MessageAttributes[AttrReason].StringValue))
	return &sqs.SendMessageOutput{}, nil
}

func (r *recorder) Calls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}

// script is a Processor whose outcome per key is set by the test.
type script struct {
	mu       sync.Mutex
	delay    time.Duration
	outcome  map[string]pipeline.Status
	err      map[string]error
	notified []string
}

func (s *script) Process(ctx context.Context, obj event.Object, _ *slog.Logger) (pipeline.Outcome, error) {
	select {
	case <-time.After(s.delay):
	case <-ctx.Done():
		return pipeline.Outcome{}, ctx.Err()
	}
	if err := s.err[obj.Key]; err != nil {
		return pipeline.Outcome{}, err
	}
	st := s.outcome[obj.Key]
	return pipeline.Outcome{Object: obj, Status: st, Reason: map[pipeline.Status]string{pipeline.Failed: "corrupt: bad"}[st]}, nil
}

func (s *script) Notify(_ context.Context, o pipeline.Outcome) error {
	s.mu.Lock()
	s.notified = append(s.notified, o.Object.Key+":"+string(o.Status))
	s.mu.Unlock()
	return nil
}

func msg(id, key string, receives int) sqstypes.Message {
	body := `{"source":"aws.s3","detail-type":"Object Created","detail":{"bucket":{"name":"src"},"object":{"key":"` + key + `"}}}`
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

func newConsumer(r *recorder, p Processor) *Consumer {
	return &Consumer{SQS: r, QueueURL: "work", DeadLetterURL: "dlq", Processor: p, Concurrency: 2,
		VisibilityTimeout: 60 * time.Second, GracePeriod: time.Second, WaitTime: time.Second}
}

func TestAPermanentFailureIsDeadLetteredBeforeItIsDeleted(t *testing.T) {
	r := &recorder{msgs: []sqstypes.Message{msg("m1", "notes.txt", 1)}}
	p := &script{outcome: map[string]pipeline.Status{"notes.txt": pipeline.Failed}}
	calls := runUntil(t, newConsumer(r, p), r, 2)
	want := []string{"send dlq reason=corrupt: bad", "delete m1"}
	if strings.Join(calls, "|") != strings.Join(want, "|") {
		t.Errorf("calls = %q; want %q", calls, want)
	}
	if len(p.notified) != 1 || p.notified[0] != "notes.txt:failed" {
		t.Errorf("notified %q; want the failure notified once", p.notified)
	}
}

func TestAMessageIsNotDeletedWhenTheDeadLetterQueueRefusesIt(t *testing.T) {
	r := &recorder{msgs: []sqstypes.Message{msg("m1", "notes.txt", 1)}, sendErr: errors.New("throttled")}
	p := &script{outcome: map[string]pipeline.Status{"notes.txt": pipeline.Failed}}
	calls := runUntil(t, newConsumer(r, p), r, 1)
	time.Sleep(50 * time.Millisecond)
	for _, c := range r.Calls() {
		if strings.HasPrefix(c, "delete") {
			t.Errorf("calls = %q; the message was deleted without its outcome recorded", calls)
		}
	}
}

func TestATransientFailureIsRetriedAfterAGrowingDelay(t *testing.T) {
	for receives, want := range map[int]int{1: 10, 2: 30, 3: 90} {
		t.Run(fmt.Sprintf("receive %d waits %d s", receives, want), func(t *testing.T) {
			r := &recorder{msgs: []sqstypes.Message{msg("m1", "a.jpg", receives)}}
			p := &script{err: map[string]error{"a.jpg": errors.New("s3: SlowDown")}}
			calls := runUntil(t, newConsumer(r, p), r, 1)
			if len(calls) != 1 || calls[0] != fmt.Sprintf("visibility m1 %d", want) {
				t.Errorf("calls = %q; want [visibility m1 %d] and no delete", calls, want)
			}
		})
	}
}

func TestSlowWorkIsKeptInvisible(t *testing.T) {
	r := &recorder{msgs: []sqstypes.Message{msg("m1", "big.jpg", 1)}}
	p := &script{delay: 2500 * time.Millisecond, outcome: map[string]pipeline.Status{"big.jpg": pipeline.OK}}
	c := newConsumer(r, p)
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

func TestAMalformedMessageIsDeadLetteredWithItsReason(t *testing.T) {
	body := "hello"
	r := &recorder{msgs: []sqstypes.Message{{MessageId: ptr("m1"), ReceiptHandle: ptr("m1"), Body: &body}}}
	calls := runUntil(t, newConsumer(r, &script{}), r, 2)
	if len(calls) != 2 || !strings.HasPrefix(calls[0], "send dlq reason=malformed-event") || calls[1] != "delete m1" {
		t.Errorf("calls = %q; want a dead letter with reason malformed-event, then the delete", calls)
	}
}
