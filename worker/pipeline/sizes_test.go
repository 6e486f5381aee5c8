package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/png"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/thumbq/thumbq/worker/config"
	"github.com/thumbq/thumbq/worker/emulate"
	"github.com/thumbq/thumbq/worker/fit"
	"github.com/thumbq/thumbq/worker/pipeline"
)

// TestEverySizeIsUploadedAndNotifiedOnce runs one upload through the emulated S3, SQS and SNS
// with three sizes: each is written under its own prefix at its own size, and one notification
// lists the three links.
func TestEverySizeIsUploadedAndNotifiedOnce(t *testing.T) {
	ctx := context.Background()
	stack, err := emulate.Start(ctx, emulate.Options{Prefix: "sizes", VisibilityTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer stack.Close()
	wc := config.Defaults()
	stack.Configure(&wc)
	wc.Sizes = fit.MustParse("64x64,256x256:cover,32x32:pad")
	if err := wc.Validate(); err != nil {
		t.Fatal(err)
	}
	s3c := stack.S3Client()
	img := image.NewNRGBA(image.Rect(0, 0, 400, 300))
	for i := range img.Pix {
		img.Pix[i] = uint8(i) | 3
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	key := "sizes/photo.png"
	if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: &stack.SourceBucket, Key: &key, Body: bytes.NewReader(b.Bytes())}); err != nil {
		t.Fatal(err)
	}
	sqsc := stack.SQSClient()
	got, err := sqsc.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &stack.QueueURL, WaitTimeSeconds: 5})
	if err != nil || len(got.Messages) != 1 {
		t.Fatalf("receive the upload's event: %v, %d messages", err, len(got.Messages))
	}
	h := &pipeline.Handler{Processor: pipeline.New(wc, s3c, stack.SNSClient(), nil)}
	if err := h.Handle(ctx, []byte(aws.ToString(got.Messages[0].Body)), slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}

	want := []struct {
		key  string
		w, h int
	}{{"64x64/sizes/photo.png.png", 64, 48}, {"256x256-cover/sizes/photo.png.png", 256, 256}, {"32x32-pad/sizes/photo.png.png", 32, 32}}
	for _, w := range want {
		o, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: &stack.ThumbnailBucket, Key: &w.key})
		if err != nil {
			t.Errorf("get %s: %v", w.key, err)
			continue
		}
		cfg, err := png.DecodeConfig(o.Body)
		o.Body.Close()
		if err != nil || cfg.Width != w.w || cfg.Height != w.h {
			t.Errorf("%s is %dx%d (%v); want a %dx%d PNG", w.key, cfg.Width, cfg.Height, err, w.w, w.h)
		}
	}

	var notes []string
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); {
		out, err := sqsc.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &stack.NotificationQueueURL, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			var n struct{ Message string }
			json.Unmarshal([]byte(aws.ToString(m.Body)), &n)
			notes = append(notes, n.Message)
		}
	}
	if len(notes) != 1 {
		t.Fatalf("%d notifications for one upload with three sizes; want 1", len(notes))
	}
	for _, w := range want {
		if !strings.Contains(notes[0], w.key) {
			t.Errorf("the notification does not name %s:\n%s", w.key, notes[0])
		}
	}
	if n := strings.Count(notes[0], "Link:"); n != 3 {
		t.Errorf("the notification has %d links; want 3:\n%s", n, notes[0])
	}
}
