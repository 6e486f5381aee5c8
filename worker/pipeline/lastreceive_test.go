package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/png"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/thumbq/thumbq/worker/pipeline"
	"github.com/thumbq/thumbq/worker/queue"
)

// lostAnswer publishes for real, then loses the first answer: the notification reached the topic,
// and the worker cannot know it (a connection reset after the request, on every SDK try).
type lostAnswer struct {
	pipeline.Publisher
	mu   sync.Mutex
	lose int
}

func (l *lostAnswer) Publish(ctx context.Context, in *sns.PublishInput, opts ...func(*sns.Options)) (*sns.PublishOutput, error) {
	out, err := l.Publisher.Publish(ctx, in, opts...)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err == nil && l.lose > 0 {
		l.lose--
		return nil, errors.New("read tcp: connection reset by peer")
	}
	return out, err
}

// TestAPublishWhoseAnswerIsLostOnTheLastReceiveIsNotDeadLettered runs the consumer and the
// pipeline's handler against the emulated stack on the receive SQS would dead-letter next (the
// third), with a thumbnail notification that reaches the topic though its answer is lost. This is
// how make chaos at 40% faults dead-lettered a success and notified it twice (ok, then failed): the
// last receive gave up after its one attempt. The message must be finished and deleted, with no
// dead letter and no failure notification.
func TestAPublishWhoseAnswerIsLostOnTheLastReceiveIsNotDeadLettered(t *testing.T) {
	ctx := context.Background()
	stack, wc := emulatedStack(t, "lastreceive", "")
	sqsc := stack.SQSClient()
	var b bytes.Buffer
	png.Encode(&b, image.NewGray(image.Rect(0, 0, 300, 200)))
	key := "last/photo.png"
	if _, err := stack.S3Client().PutObject(ctx, &s3.PutObjectInput{Bucket: &stack.SourceBucket, Key: &key, Body: bytes.NewReader(b.Bytes())}); err != nil {
		t.Fatal(err)
	}
	handBack(t, sqsc, stack.QueueURL, 1)
	handBack(t, sqsc, stack.QueueURL, 2) // failed twice (a worker killed, say): the consumer's is the third

	pub := &lostAnswer{Publisher: stack.SNSClient(), lose: 1}
	h := &pipeline.Handler{Processor: pipeline.New(wc, stack.S3Client(), pub, nil)}
	c := queue.NewConsumer(wc, sqsc, h, slog.New(slog.DiscardHandler))
	c.WaitTime = time.Second
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(runCtx) }()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && queueDepth(t, sqsc, stack.QueueURL) > 0 {
		time.Sleep(200 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	if n := queueDepth(t, sqsc, stack.DeadLetterURL); n != 0 {
		t.Errorf("%d messages in the dead-letter queue; want 0 (the upload succeeded)", n)
	}
	if n := queueDepth(t, sqsc, stack.QueueURL); n != 0 {
		t.Errorf("%d messages left on the work queue; want 0 (deleted once done)", n)
	}
	ids := map[string]bool{}
	for _, n := range notificationsDelivered(t, stack) {
		if st := n.MessageAttributes["status"].Value; st != "ok" {
			t.Errorf("a %q notification (%s); want only the thumbnail's", st, n.Subject)
		}
		ids[n.MessageAttributes["notification-id"].Value] = true
	}
	if len(ids) != 1 {
		t.Errorf("%d distinct notifications; want 1 (delivered again with the same notification-id at most)", len(ids))
	}
}

// handBack receives the work queue's one message, checks it is its receive-th receive, and makes it
// visible again at once.
func handBack(t *testing.T, sqsc *sqs.Client, url string, receive int) {
	t.Helper()
	got, err := sqsc.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: &url, WaitTimeSeconds: 5,
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameApproximateReceiveCount}})
	if err != nil || len(got.Messages) != 1 {
		t.Fatalf("receive %d: %v, %d messages", receive, err, len(got.Messages))
	}
	m := got.Messages[0]
	if n := m.Attributes["ApproximateReceiveCount"]; n != strconv.Itoa(receive) {
		t.Fatalf("receive count %s; want %d", n, receive)
	}
	if _, err := sqsc.ChangeMessageVisibility(context.Background(), &sqs.ChangeMessageVisibilityInput{QueueUrl: &url,
		ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0}); err != nil {
		t.Fatal(err)
	}
}

// queueDepth is a queue's visible plus in-flight messages.
func queueDepth(t *testing.T, sqsc *sqs.Client, url string) int {
	t.Helper()
	out, err := sqsc.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: &url,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, v := range out.Attributes {
		k, _ := strconv.Atoi(v)
		n += k
	}
	return n
}
