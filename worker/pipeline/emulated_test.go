package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/thumbq/thumbq/worker/config"
	"github.com/thumbq/thumbq/worker/emulate"
	"github.com/thumbq/thumbq/worker/fit"
)

// emulatedStack starts an emulated stack (closed when the test ends) and the worker's validated
// configuration for it, making the sizes listed ("" for the default).
func emulatedStack(t *testing.T, prefix, sizes string) (*emulate.Stack, config.Config) {
	t.Helper()
	stack, err := emulate.Start(context.Background(), emulate.Options{Prefix: prefix, VisibilityTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stack.Close() })
	wc := config.Defaults()
	stack.Configure(&wc)
	if sizes != "" {
		wc.Sizes = fit.MustParse(sizes)
	}
	if err := wc.Validate(); err != nil {
		t.Fatal(err)
	}
	return stack, wc
}

// uploadEvent puts body in the source bucket and takes the event the emulated rule put on the work
// queue, as the consumer would. It returns the object's ETag (unquoted) and the event's body.
func uploadEvent(t *testing.T, stack *emulate.Stack, key string, body []byte) (string, []byte) {
	t.Helper()
	ctx := context.Background()
	put, err := stack.S3Client().PutObject(ctx, &s3.PutObjectInput{Bucket: &stack.SourceBucket, Key: &key, Body: bytes.NewReader(body)})
	if err != nil {
		t.Fatal(err)
	}
	got, err := stack.SQSClient().ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &stack.QueueURL, WaitTimeSeconds: 5})
	if err != nil || len(got.Messages) != 1 {
		t.Fatalf("receive the upload's event: %v, %d messages", err, len(got.Messages))
	}
	return string(bytes.Trim([]byte(aws.ToString(put.ETag)), `"`)), []byte(aws.ToString(got.Messages[0].Body))
}

// delivered is one notification as the topic delivered it to a queue.
type delivered struct {
	Subject           string
	Message           string
	MessageAttributes map[string]struct{ Value string }
}

// notificationsDelivered reads what the topic delivered to the stack's notification queue for 3 s.
func notificationsDelivered(t *testing.T, stack *emulate.Stack) []delivered {
	t.Helper()
	var notes []delivered
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); {
		out, err := stack.SQSClient().ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: &stack.NotificationQueueURL, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			var n delivered
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &n); err != nil {
				t.Fatalf("not an SNS notification: %v", err)
			}
			notes = append(notes, n)
		}
	}
	return notes
}
