package emulate

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
	"github.com/sirupsen/logrus"

	"github.com/thumbq/thumbq/worker/config"
)

var stackSeq atomic.Int64

// startStack starts a stack with a prefix of its own and a 2s visibility timeout, closed when
// the test ends.
func startStack(t *testing.T, opts Options) *Stack {
	t.Helper()
	if opts.Prefix == "" {
		opts.Prefix = fmt.Sprintf("t%d", stackSeq.Add(1))
	}
	if opts.VisibilityTimeout == 0 {
		opts.VisibilityTimeout = 2 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	s, err := Start(context.Background(), opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

type testWriter struct{ t *testing.T }

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// receive receives up to max messages with every attribute, waiting up to wait seconds.
func receive(t *testing.T, c *sqs.Client, queueURL string, max, wait int32) []sqstypes.Message {
	t.Helper()
	out, err := c.ReceiveMessage(ctxFor(t), &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(queueURL),
		MaxNumberOfMessages:         max,
		WaitTimeSeconds:             wait,
		MessageAttributeNames:       []string{"All"},
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameApproximateReceiveCount, sqstypes.MessageSystemAttributeNameSentTimestamp},
	})
	if err != nil {
		t.Fatalf("ReceiveMessage(%s): %v", queueURL, err)
	}
	return out.Messages
}

// receiveOne receives exactly one message, waiting up to wait seconds for it.
func receiveOne(t *testing.T, c *sqs.Client, queueURL string, wait int32) sqstypes.Message {
	t.Helper()
	msgs := receive(t, c, queueURL, 10, wait)
	if len(msgs) != 1 {
		t.Fatalf("ReceiveMessage(%s) = %d messages; want 1", queueURL, len(msgs))
	}
	return msgs[0]
}

func queueCounts(t *testing.T, c *sqs.Client, queueURL string) (visible, inFlight string) {
	t.Helper()
	out, err := c.GetQueueAttributes(ctxFor(t), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(queueURL),
		AttributeNames: []sqstypes.QueueAttributeName{
			sqstypes.QueueAttributeNameApproximateNumberOfMessages,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		},
	})
	if err != nil {
		t.Fatalf("GetQueueAttributes(%s): %v", queueURL, err)
	}
	return out.Attributes["ApproximateNumberOfMessages"], out.Attributes["ApproximateNumberOfMessagesNotVisible"]
}

func decodeEvent(t *testing.T, m sqstypes.Message) Event {
	t.Helper()
	var e Event
	if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &e); err != nil {
		t.Fatalf("event %s: %v", aws.ToString(m.Body), err)
	}
	return e
}

func md5hex(b []byte) string {
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

// checkEvent checks an Object Created event against the object that was written.
func checkEvent(t *testing.T, s *Stack, e Event, key string, size int64, etag, reason string) {
	t.Helper()
	if e.Version != "0" || e.DetailType != "Object Created" || e.Source != "aws.s3" || e.Account != AccountID || e.Region != s.Region || e.ID == "" {
		t.Errorf("event envelope = %+v; want version 0, Object Created from aws.s3, account %s, region %s, an id", e, AccountID, s.Region)
	}
	if _, err := time.Parse(time.RFC3339, e.Time); err != nil {
		t.Errorf("event time %q: %v", e.Time, err)
	}
	if len(e.Resources) != 1 || e.Resources[0] != "arn:aws:s3:::"+s.SourceBucket {
		t.Errorf("event resources = %v; want [arn:aws:s3:::%s]", e.Resources, s.SourceBucket)
	}
	d := e.Detail
	if d.Bucket.Name != s.SourceBucket || d.Object.Key != key || d.Object.Size != size || d.Object.ETag != etag || d.Reason != reason {
		t.Errorf("event detail = bucket %q key %q size %d etag %q reason %q; want %q %q %d %q %q",
			d.Bucket.Name, d.Object.Key, d.Object.Size, d.Object.ETag, d.Reason, s.SourceBucket, key, size, etag, reason)
	}
	if d.Version != "0" || d.Object.Sequencer == "" || d.RequestID == "" || d.Requester != AccountID || d.SourceIPAddress != "127.0.0.1" {
		t.Errorf("event detail = %+v; want version 0, a sequencer, a request id, requester %s, source ip 127.0.0.1", d, AccountID)
	}
}

// awkwardKeys are keys that URL encoding gets wrong in one way or another.
var awkwardKeys = []string{
	"plain.jpg",
	"IMG 0001 (copy)+final.jpg",
	"albums/été/φωτο.jpg",
	"a%2Fb & c=d?e#f.png",
	"deep/ly/nested/~tilde's*.png",
}

func TestPutObjectToSourceBucketQueuesObjectCreatedEvent(t *testing.T) {
	t.Parallel()
	s := startStack(t, Options{})
	s3c, sqsc := s.S3Client(), s.SQSClient()
	for _, key := range awkwardKeys {
		t.Run(key, func(t *testing.T) {
			body := []byte("image bytes of " + key)
			if _, err := s3c.PutObject(ctxFor(t), &s3.PutObjectInput{Bucket: &s.SourceBucket, Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
				t.Fatalf("PutObject(%q): %v", key, err)
			}
			// No wait: the event is queued before PutObject returns.
			m := receiveOne(t, sqsc, s.QueueURL, 0)
			checkEvent(t, s, decodeEvent(t, m), key, int64(len(body)), md5hex(body), "PutObject")

			got, err := s3c.GetObject(ctxFor(t), &s3.GetObjectInput{Bucket: &s.SourceBucket, Key: aws.String(key)})
			if err != nil {
				t.Fatalf("GetObject(%q): %v", key, err)
			}
			defer got.Body.Close()
			if b, _ := io.ReadAll(got.Body); !bytes.Equal(b, body) {
				t.Errorf("GetObject(%q) = %q; want %q", key, b, body)
			}
			if _, err := sqsc.DeleteMessage(ctxFor(t), &sqs.DeleteMessageInput{QueueUrl: &s.QueueURL, ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatalf("DeleteMessage: %v", err)
			}
		})
	}
}

func TestOtherWritesToSourceBucketQueueEvents(t *testing.T) {
	t.Parallel()
	s := startStack(t, Options{})
	s3c, sqsc := s.S3Client(), s.SQSClient()
	ctx := ctxFor(t)
	small := []byte("original")
	if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: &s.ThumbnailBucket, Key: aws.String("x/orig (1).png"), Body: bytes.NewReader(small)}); err != nil {
		t.Fatalf("PutObject to thumbnail bucket: %v", err)
	}

	t.Run("CopyObject", func(t *testing.T) {
		key := "copied été+1.png"
		_, err := s3c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: &s.SourceBucket, Key: aws.String(key),
			CopySource: aws.String(s.ThumbnailBucket + "/x/orig%20%281%29.png")})
		if err != nil {
			t.Fatalf("CopyObject: %v", err)
		}
		checkEvent(t, s, decodeEvent(t, receiveOne(t, sqsc, s.QueueURL, 0)), key, int64(len(small)), md5hex(small), "CopyObject")
	})

	t.Run("CompleteMultipartUpload", func(t *testing.T) {
		key := "big/IMG 0002 (copy)+final.jpg"
		up, err := s3c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &s.SourceBucket, Key: aws.String(key)})
		if err != nil {
			t.Fatalf("CreateMultipartUpload: %v", err)
		}
		parts := [][]byte{bytes.Repeat([]byte("a"), 5<<20), []byte("tail")}
		var done []s3types.CompletedPart
		for i, p := range parts {
			n := int32(i + 1)
			out, err := s3c.UploadPart(ctx, &s3.UploadPartInput{Bucket: &s.SourceBucket, Key: aws.String(key), UploadId: up.UploadId, PartNumber: &n, Body: bytes.NewReader(p)})
			if err != nil {
				t.Fatalf("UploadPart %d: %v", n, err)
			}
			done = append(done, s3types.CompletedPart{ETag: out.ETag, PartNumber: &n})
		}
		if visible, _ := queueCounts(t, sqsc, s.QueueURL); visible != "0" {
			t.Errorf("after UploadPart: %s messages; want 0 before CompleteMultipartUpload", visible)
		}
		_, err = s3c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &s.SourceBucket, Key: aws.String(key), UploadId: up.UploadId,
			MultipartUpload: &s3types.CompletedMultipartUpload{Parts: done}})
		if err != nil {
			t.Fatalf("CompleteMultipartUpload: %v", err)
		}
		e := decodeEvent(t, receiveOne(t, sqsc, s.QueueURL, 0))
		head, err := s3c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.SourceBucket, Key: aws.String(key)})
		if err != nil {
			t.Fatalf("HeadObject: %v", err)
		}
		checkEvent(t, s, e, key, 5<<20+4, strings.Trim(aws.ToString(head.ETag), `"`), "CompleteMultipartUpload")
	})

	t.Run("POST upload", func(t *testing.T) {
		key := "form/φωτο (2).jpg"
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		_ = mw.WriteField("key", key)
		fw, _ := mw.CreateFormFile("file", "photo.jpg")
		_, _ = fw.Write(small)
		_ = mw.Close()
		resp, err := http.Post(s.Endpoint+"/"+s.SourceBucket, mw.FormDataContentType(), &body)
		if err != nil {
			t.Fatalf("POST upload: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Fatalf("POST upload: %s", resp.Status)
		}
		checkEvent(t, s, decodeEvent(t, receiveOne(t, sqsc, s.QueueURL, 0)), key, int64(len(small)), md5hex(small), "POST Object")
	})

	t.Run("failed and other-bucket writes send nothing", func(t *testing.T) {
		_, err := s3c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: &s.SourceBucket, Key: aws.String("never"),
			CopySource: aws.String(s.ThumbnailBucket + "/missing.png")})
		if err == nil {
			t.Fatal("CopyObject of a missing object succeeded; want an error")
		}
		if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: &s.ThumbnailBucket, Key: aws.String("thumb.png"), Body: bytes.NewReader(small)}); err != nil {
			t.Fatalf("PutObject to thumbnail bucket: %v", err)
		}
		if msgs := receive(t, sqsc, s.QueueURL, 10, 0); len(msgs) != 0 {
			t.Errorf("work queue has %d messages; want none: %v", len(msgs), aws.ToString(msgs[0].Body))
		}
	})
}

func TestSQSThroughSDK(t *testing.T) {
	t.Parallel()
	s := startStack(t, Options{})
	c := s.SQSClient()
	ctx := ctxFor(t)

	t.Run("SendMessage with attributes, ReceiveMessage returns them and the receive count", func(t *testing.T) {
		_, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &s.QueueURL, MessageBody: aws.String("hello"),
			MessageAttributes: map[string]sqstypes.MessageAttributeValue{
				"kind":  {DataType: aws.String("String"), StringValue: aws.String("test")},
				"count": {DataType: aws.String("Number"), StringValue: aws.String("7")},
			}})
		if err != nil {
			t.Fatalf("SendMessage: %v", err)
		}
		m := receiveOne(t, c, s.QueueURL, 0)
		if aws.ToString(m.Body) != "hello" || aws.ToString(m.MessageAttributes["kind"].StringValue) != "test" || aws.ToString(m.MessageAttributes["count"].StringValue) != "7" {
			t.Errorf("received body %q attributes %v; want hello, kind=test, count=7", aws.ToString(m.Body), m.MessageAttributes)
		}
		if got := m.Attributes["ApproximateReceiveCount"]; got != "1" {
			t.Errorf("ApproximateReceiveCount = %q; want 1", got)
		}
		if visible, inFlight := queueCounts(t, c, s.QueueURL); visible != "0" || inFlight != "1" {
			t.Errorf("counts = %s visible, %s in flight; want 0, 1", visible, inFlight)
		}

		// Released at once, received again: the count goes up.
		if _, err := c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: &s.QueueURL, ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0}); err != nil {
			t.Fatalf("ChangeMessageVisibility(0): %v", err)
		}
		if visible, inFlight := queueCounts(t, c, s.QueueURL); visible != "1" || inFlight != "0" {
			t.Errorf("counts after release = %s visible, %s in flight; want 1, 0", visible, inFlight)
		}
		m = receiveOne(t, c, s.QueueURL, 0)
		if got := m.Attributes["ApproximateReceiveCount"]; got != "2" {
			t.Errorf("ApproximateReceiveCount = %q; want 2", got)
		}
		if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &s.QueueURL, ReceiptHandle: m.ReceiptHandle}); err != nil {
			t.Fatalf("DeleteMessage: %v", err)
		}
		if visible, inFlight := queueCounts(t, c, s.QueueURL); visible != "0" || inFlight != "0" {
			t.Errorf("counts after delete = %s visible, %s in flight; want 0, 0", visible, inFlight)
		}
	})

	t.Run("attributes not asked for are not returned", func(t *testing.T) {
		_, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &s.QueueURL, MessageBody: aws.String("x"),
			MessageAttributes: map[string]sqstypes.MessageAttributeValue{"kind": {DataType: aws.String("String"), StringValue: aws.String("test")}}})
		if err != nil {
			t.Fatalf("SendMessage: %v", err)
		}
		out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &s.QueueURL})
		if err != nil || len(out.Messages) != 1 {
			t.Fatalf("ReceiveMessage = %v, %v; want one message", out, err)
		}
		if m := out.Messages[0]; len(m.Attributes) != 0 || len(m.MessageAttributes) != 0 {
			t.Errorf("ReceiveMessage without names returned attributes %v and %v; want none", m.Attributes, m.MessageAttributes)
		}
		if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &s.QueueURL, ReceiptHandle: out.Messages[0].ReceiptHandle}); err != nil {
			t.Fatalf("DeleteMessage: %v", err)
		}
	})

	t.Run("MaxNumberOfMessages 10 receives ten of twelve", func(t *testing.T) {
		for i := range 12 {
			if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &s.NotificationQueueURL, MessageBody: aws.String(fmt.Sprint(i))}); err != nil {
				t.Fatalf("SendMessage: %v", err)
			}
		}
		if got := receive(t, c, s.NotificationQueueURL, 10, 0); len(got) != 10 {
			t.Errorf("ReceiveMessage(max 10) = %d messages; want 10", len(got))
		}
		if got := receive(t, c, s.NotificationQueueURL, 10, 0); len(got) != 2 {
			t.Errorf("second ReceiveMessage(max 10) = %d messages; want 2", len(got))
		}
	})

	t.Run("long polling waits for a message and returns when it comes", func(t *testing.T) {
		go func() {
			time.Sleep(300 * time.Millisecond)
			_, _ = c.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: &s.DeadLetterURL, MessageBody: aws.String("late")})
		}()
		start := time.Now()
		m := receiveOne(t, c, s.DeadLetterURL, 5)
		if took := time.Since(start); took < 250*time.Millisecond || took > 3*time.Second || aws.ToString(m.Body) != "late" {
			t.Errorf("long poll returned %q after %v; want \"late\" after about 300ms", aws.ToString(m.Body), took)
		}
		start = time.Now()
		if got := receive(t, c, s.DeadLetterURL, 1, 1); len(got) != 0 {
			t.Fatalf("ReceiveMessage on an empty queue = %d messages", len(got))
		}
		if took := time.Since(start); took < 900*time.Millisecond {
			t.Errorf("empty long poll of 1s returned after %v", took)
		}
	})

	t.Run("GetQueueAttributes reports the redrive policy and visibility timeout", func(t *testing.T) {
		out, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &s.QueueURL, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll}})
		if err != nil {
			t.Fatalf("GetQueueAttributes: %v", err)
		}
		want := fmt.Sprintf(`{"deadLetterTargetArn":"arn:aws:sqs:%s:%s:%s","maxReceiveCount":%d}`, s.Region, AccountID, queueName(s.DeadLetterURL), MaxReceiveCount)
		if got := out.Attributes["RedrivePolicy"]; got != want {
			t.Errorf("RedrivePolicy = %s; want %s", got, want)
		}
		if got := out.Attributes["VisibilityTimeout"]; got != "2" {
			t.Errorf("VisibilityTimeout = %s; want 2", got)
		}
		if got := out.Attributes["QueueArn"]; got != fmt.Sprintf("arn:aws:sqs:%s:%s:%s", s.Region, AccountID, queueName(s.QueueURL)) {
			t.Errorf("QueueArn = %s", got)
		}
		_, err = c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &s.QueueURL, AttributeNames: []sqstypes.QueueAttributeName{"ApproximateAgeOfOldestMessage"}})
		var apiErr smithy.APIError
		if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "InvalidAttributeName" {
			t.Errorf("GetQueueAttributes(ApproximateAgeOfOldestMessage) error = %v; want InvalidAttributeName, as SQS answers", err)
		}
		_, err = c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(s.Endpoint + "/" + AccountID + "/nope")})
		if !errors.As(err, &apiErr) || !strings.Contains(apiErr.ErrorCode(), "NonExistentQueue") {
			t.Errorf("GetQueueAttributes(missing queue) error = %v; want AWS.SimpleQueueService.NonExistentQueue", err)
		}
	})

	t.Run("ChangeMessageVisibilityBatch", func(t *testing.T) {
		for range 2 {
			if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &s.QueueURL, MessageBody: aws.String("b")}); err != nil {
				t.Fatalf("SendMessage: %v", err)
			}
		}
		msgs := receive(t, c, s.QueueURL, 10, 0)
		if len(msgs) != 2 {
			t.Fatalf("received %d messages; want 2", len(msgs))
		}
		out, err := c.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: &s.QueueURL, Entries: []sqstypes.ChangeMessageVisibilityBatchRequestEntry{
			{Id: aws.String("a"), ReceiptHandle: msgs[0].ReceiptHandle, VisibilityTimeout: 0},
			{Id: aws.String("b"), ReceiptHandle: msgs[1].ReceiptHandle, VisibilityTimeout: 0},
			{Id: aws.String("c"), ReceiptHandle: aws.String("bogus"), VisibilityTimeout: 0},
		}})
		if err != nil {
			t.Fatalf("ChangeMessageVisibilityBatch: %v", err)
		}
		if len(out.Successful) != 2 || len(out.Failed) != 1 || aws.ToString(out.Failed[0].Id) != "c" {
			t.Errorf("ChangeMessageVisibilityBatch = %d successful, failed %+v; want 2 and c", len(out.Successful), out.Failed)
		}
		for _, m := range receive(t, c, s.QueueURL, 10, 0) {
			if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &s.QueueURL, ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatalf("DeleteMessage: %v", err)
			}
		}
	})
}

func TestMessageMovesToDeadLetterQueueAfterMaxReceiveCountReceives(t *testing.T) {
	t.Parallel()
	s := startStack(t, Options{VisibilityTimeout: time.Second})
	c := s.SQSClient()
	if _, err := c.SendMessage(ctxFor(t), &sqs.SendMessageInput{QueueUrl: &s.QueueURL, MessageBody: aws.String("poison")}); err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	for i := 1; i <= MaxReceiveCount; i++ {
		// Each receive waits out the previous one's visibility timeout (1s), except that the second
		// is released at once with ChangeMessageVisibility(0), the worker's way of giving up.
		start := time.Now()
		m := receiveOne(t, c, s.QueueURL, 3)
		if got := m.Attributes["ApproximateReceiveCount"]; got != fmt.Sprint(i) {
			t.Errorf("receive %d: ApproximateReceiveCount = %s; want %d", i, got, i)
		}
		if i == 2 {
			if took := time.Since(start); took < 500*time.Millisecond {
				t.Errorf("receive 2 came after %v; want after the 1s visibility timeout", took)
			}
			if _, err := c.ChangeMessageVisibility(ctxFor(t), &sqs.ChangeMessageVisibilityInput{QueueUrl: &s.QueueURL, ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatalf("ChangeMessageVisibility(0): %v", err)
			}
		}
	}
	m := receiveOne(t, c, s.DeadLetterURL, 3)
	if aws.ToString(m.Body) != "poison" {
		t.Errorf("dead-letter message = %q; want poison", aws.ToString(m.Body))
	}
	if visible, inFlight := queueCounts(t, c, s.QueueURL); visible != "0" || inFlight != "0" {
		t.Errorf("work queue after the move: %s visible, %s in flight; want empty", visible, inFlight)
	}
}

func TestPublishReachesNotificationQueue(t *testing.T) {
	t.Parallel()
	s := startStack(t, Options{})
	_, err := s.SNSClient().Publish(ctxFor(t), &sns.PublishInput{
		TopicArn: &s.TopicARN,
		Subject:  aws.String("Thumbnail ready: IMG 0001 (copy)+final.jpg"),
		Message:  aws.String(`{"url":"http://x/y?a=1&b=2"}`),
		MessageAttributes: map[string]snstypes.MessageAttributeValue{
			"status": {DataType: aws.String("String"), StringValue: aws.String("ok")},
			"width":  {DataType: aws.String("Number"), StringValue: aws.String("64")},
		},
	})
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	m := receiveOne(t, s.SQSClient(), s.NotificationQueueURL, 0)
	var n Notification
	if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &n); err != nil {
		t.Fatalf("notification %s: %v", aws.ToString(m.Body), err)
	}
	want := map[string]NotificationAttribute{"status": {"String", "ok"}, "width": {"Number", "64"}}
	if n.Type != "Notification" || n.TopicARN != s.TopicARN || n.Subject != "Thumbnail ready: IMG 0001 (copy)+final.jpg" ||
		n.Message != `{"url":"http://x/y?a=1&b=2"}` || n.MessageID == "" || fmt.Sprint(n.MessageAttributes) != fmt.Sprint(want) {
		t.Errorf("notification = %+v; want the published subject, message and attributes %v", n, want)
	}
	if _, err := time.Parse(time.RFC3339, n.Timestamp); err != nil {
		t.Errorf("notification timestamp %q: %v", n.Timestamp, err)
	}

	_, err = s.SNSClient().Publish(ctxFor(t), &sns.PublishInput{TopicArn: &s.TopicARN, Subject: aws.String("two\nlines"), Message: aws.String("x")})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "InvalidParameter" {
		t.Errorf("Publish with a line break in the subject: error %v; want InvalidParameter", err)
	}
	_, err = s.SNSClient().Publish(ctxFor(t), &sns.PublishInput{TopicArn: aws.String(s.TopicARN + "-nope"), Message: aws.String("x")})
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "NotFound" {
		t.Errorf("Publish to a missing topic: error %v; want NotFound", err)
	}
}

func TestFailNext(t *testing.T) {
	t.Parallel()
	s := startStack(t, Options{})
	ctx := ctxFor(t)
	noRetry := func(o *s3.Options) { o.RetryMaxAttempts = 1 }
	s3c := s.S3Client(noRetry)
	if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: &s.ThumbnailBucket, Key: aws.String("k"), Body: strings.NewReader("v")}); err != nil {
		t.Fatalf("PutObject: %v", err)
	}
	wantCode := func(t *testing.T, what string, err error, code string) {
		t.Helper()
		var apiErr smithy.APIError
		if !errors.As(err, &apiErr) || apiErr.ErrorCode() != code {
			t.Errorf("%s: error %v; want %s", what, err, code)
		}
		var re interface{ HTTPStatusCode() int }
		if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusServiceUnavailable {
			t.Errorf("%s: error %v; want HTTP 503", what, err)
		}
	}

	s.FailNext("s3:GetObject", 2)
	for i := range 2 {
		_, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.ThumbnailBucket, Key: aws.String("k")})
		wantCode(t, fmt.Sprintf("GetObject %d", i+1), err, "SlowDown")
	}
	if out, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.ThumbnailBucket, Key: aws.String("k")}); err != nil {
		t.Errorf("third GetObject: %v; want success", err)
	} else {
		out.Body.Close()
	}

	s.FailNext("s3:PutObject", 2) // absorbed by the SDK's three attempts
	quickRetry := func(o *s3.Options) {
		o.Retryer = retry.AddWithMaxBackoffDelay(retry.NewStandard(), 10*time.Millisecond)
	}
	if _, err := s.S3Client(quickRetry).PutObject(ctx, &s3.PutObjectInput{Bucket: &s.SourceBucket, Key: aws.String("retried"), Body: strings.NewReader("v")}); err != nil {
		t.Errorf("PutObject with two failures and retries: %v; want success", err)
	}
	if e := decodeEvent(t, receiveOne(t, s.SQSClient(), s.QueueURL, 0)); e.Detail.Object.Key != "retried" {
		t.Errorf("event for %q; want retried", e.Detail.Object.Key)
	}

	sqsc := s.SQSClient(func(o *sqs.Options) { o.RetryMaxAttempts = 1 })
	s.FailNext("sqs:SendMessage", 1)
	_, err := sqsc.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &s.QueueURL, MessageBody: aws.String("x")})
	wantCode(t, "SendMessage", err, "ServiceUnavailable")

	snsc := s.SNSClient(func(o *sns.Options) { o.RetryMaxAttempts = 1 })
	s.FailNext("sns:Publish", 1)
	_, err = snsc.Publish(ctx, &sns.PublishInput{TopicArn: &s.TopicARN, Message: aws.String("x")})
	wantCode(t, "Publish", err, "ServiceUnavailable")
	if _, err := snsc.Publish(ctx, &sns.PublishInput{TopicArn: &s.TopicARN, Message: aws.String("x")}); err != nil {
		t.Errorf("second Publish: %v; want success", err)
	}
}

func TestStacksAreIndependent(t *testing.T) {
	t.Parallel()
	a := startStack(t, Options{})
	prefix := strings.TrimSuffix(a.SourceBucket, "-source")
	b := startStack(t, Options{Prefix: prefix + "-b"})
	if a.Endpoint == b.Endpoint {
		t.Errorf("a and b share the endpoint %s; want one each", a.Endpoint)
	}
	if _, err := Start(context.Background(), Options{Prefix: prefix}); err == nil {
		t.Error("Start with an open stack's prefix succeeded; want an error")
	}
	ctx := ctxFor(t)
	if _, err := a.S3Client().PutObject(ctx, &s3.PutObjectInput{Bucket: &a.SourceBucket, Key: aws.String("k"), Body: strings.NewReader("v")}); err != nil {
		t.Fatalf("PutObject to a: %v", err)
	}
	if got := receive(t, b.SQSClient(), b.QueueURL, 10, 0); len(got) != 0 {
		t.Errorf("b's queue got %d messages from a's upload", len(got))
	}
	// Every endpoint serves every stack: a's upload reached through b's endpoint is a's event.
	if _, err := b.S3Client().PutObject(ctx, &s3.PutObjectInput{Bucket: &a.SourceBucket, Key: aws.String("k2"), Body: strings.NewReader("v")}); err != nil {
		t.Fatalf("PutObject to a through b: %v", err)
	}
	if got := receive(t, a.SQSClient(), a.QueueURL, 10, 0); len(got) != 2 {
		t.Errorf("a's queue has %d messages; want 2", len(got))
	}
	if err := b.Close(); err != nil {
		t.Fatalf("Close b: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close of b: %v", err)
	}
	if _, err := a.SQSClient().GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &b.QueueURL}); err == nil {
		t.Error("b's queue is still there after b.Close")
	}
	if _, err := a.S3Client().PutObject(ctx, &s3.PutObjectInput{Bucket: &a.SourceBucket, Key: aws.String("k3"), Body: strings.NewReader("v")}); err != nil {
		t.Errorf("PutObject to a after b closed: %v", err)
	}
}

// TestEnvPointsTheDefaultSDKConfigAtTheStack loads the SDK configuration the way the worker does,
// from the environment alone. Not parallel: it sets the process environment.
func TestEnvPointsTheDefaultSDKConfigAtTheStack(t *testing.T) {
	s := startStack(t, Options{})
	env := s.Env()
	for k, v := range env {
		t.Setenv(k, v)
	}
	for _, k := range []string{config.EnvSourceBucket, config.EnvThumbnailBucket, config.EnvQueueURL, config.EnvDeadLetterURL, config.EnvTopicARN} {
		if env[k] == "" {
			t.Errorf("Env()[%s] is empty", k)
		}
	}
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_PROFILE", "")
	cfg, err := awsconfig.LoadDefaultConfig(ctxFor(t))
	if err != nil {
		t.Fatalf("LoadDefaultConfig: %v", err)
	}
	c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := c.PutObject(ctxFor(t), &s3.PutObjectInput{Bucket: aws.String(env[config.EnvSourceBucket]), Key: aws.String("env.jpg"), Body: strings.NewReader("v")}); err != nil {
		t.Fatalf("PutObject through the default config: %v", err)
	}
	e := decodeEvent(t, receiveOne(t, sqs.NewFromConfig(cfg), env[config.EnvQueueURL], 0))
	if e.Detail.Object.Key != "env.jpg" {
		t.Errorf("event for %q; want env.jpg", e.Detail.Object.Key)
	}
}

// TestStartAgainAfterLastClose runs alone (not parallel): its stack is the process's only one, so
// goaws's global logger goes to its Logger.
func TestStartAgainAfterLastClose(t *testing.T) {
	for i := range 2 {
		var logs syncBuffer
		s, err := Start(context.Background(), Options{VisibilityTimeout: time.Second,
			Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
		if err != nil {
			t.Fatalf("Start %d: %v", i+1, err)
		}
		if _, err := s.SQSClient().SendMessage(ctxFor(t), &sqs.SendMessageInput{QueueUrl: &s.QueueURL, MessageBody: aws.String("x")}); err != nil {
			t.Errorf("SendMessage on stack %d: %v", i+1, err)
		}
		if out := logrus.StandardLogger().Out; out != io.Discard {
			t.Errorf("goaws's logrus writes to %v; want io.Discard", out)
		}
		if got := logs.String(); !strings.Contains(got, "component=goaws") || !strings.Contains(got, "level=DEBUG") {
			t.Errorf("stack %d logger got no goaws lines at debug level:\n%s", i+1, got)
		}
		if got := receive(t, s.SQSClient(), s.QueueURL, 10, 0); len(got) != 1 {
			t.Errorf("stack %d: received %d messages; want only the one sent to it", i+1, len(got))
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close %d: %v", i+1, err)
		}
		shared.mu.Lock()
		stopped := shared.stacks == nil
		shared.mu.Unlock()
		if !stopped {
			t.Errorf("after the last Close the shared servers still run")
		}
		if _, err := http.Get(s.Endpoint); err == nil {
			t.Errorf("stack %d: endpoint %s still answers after Close", i+1, s.Endpoint)
		}
	}
}

func TestCreateQueueURLPointsAtTheEndpoint(t *testing.T) {
	t.Parallel()
	s := startStack(t, Options{})
	c := s.SQSClient()
	name := strings.TrimSuffix(s.SourceBucket, "-source") + "-extra"
	out, err := c.CreateQueue(ctxFor(t), &sqs.CreateQueueInput{QueueName: &name})
	if err != nil {
		t.Fatalf("CreateQueue: %v", err)
	}
	if want := s.Endpoint + "/" + AccountID + "/" + name; aws.ToString(out.QueueUrl) != want {
		t.Errorf("CreateQueue URL = %s; want %s", aws.ToString(out.QueueUrl), want)
	}
	got, err := c.GetQueueUrl(ctxFor(t), &sqs.GetQueueUrlInput{QueueName: &name})
	if err != nil || aws.ToString(got.QueueUrl) != aws.ToString(out.QueueUrl) {
		t.Errorf("GetQueueUrl = %v, %v; want %s", aws.ToString(got.QueueUrl), err, aws.ToString(out.QueueUrl))
	}
	again, err := c.CreateQueue(ctxFor(t), &sqs.CreateQueueInput{QueueName: aws.String(queueName(s.QueueURL))})
	if err != nil || aws.ToString(again.QueueUrl) != s.QueueURL {
		t.Errorf("CreateQueue of the work queue = %v, %v; want its URL %s", aws.ToString(again.QueueUrl), err, s.QueueURL)
	}
	if _, err := c.DeleteQueue(ctxFor(t), &sqs.DeleteQueueInput{QueueUrl: out.QueueUrl}); err != nil {
		t.Errorf("DeleteQueue: %v", err)
	}
}
