package digest

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"io"
	"log/slog"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/thumbq/thumbq/worker/config"
	"github.com/thumbq/thumbq/worker/emulate"
	"github.com/thumbq/thumbq/worker/pipeline"
	"github.com/thumbq/thumbq/worker/queue"
)

// mailbox stands for the email topic with its subscribers: every Publish is one email to every
// address, so the publish times are each address's email times.
type mailbox struct {
	mu     sync.Mutex
	at     []time.Time
	bodies []string
}

func (m *mailbox) Publish(_ context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.at = append(m.at, time.Now())
	m.bodies = append(m.bodies, aws.ToString(in.Message))
	return &sns.PublishOutput{MessageId: aws.String(fmt.Sprint(len(m.at)))}, nil
}

// The test: 1,000 uploads through the pipeline on the emulated S3, SQS and SNS (the real
// consumer and SDK clients, as thumbq local runs them) give at most one email per second per
// address, and every upload is in an email. The digest runs every 2 s here (each minute in AWS),
// while the uploads are still being made.
func TestThousandUploadsGiveAtMostOneEmailPerSecondAndNoneMissing(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: 1,000 uploads through the emulated stack")
	}
	const uploads = 1000
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	stack, err := emulate.Start(ctx, emulate.Options{Prefix: "digest", VisibilityTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer stack.Close()
	cfg := config.Defaults()
	stack.Configure(&cfg)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	s3c, sqsc := stack.S3Client(), stack.SQSClient()
	q, err := sqsc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("digest-entries")})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	// The worker: the pipeline, each outcome also to the digest queue.
	h := &pipeline.Handler{Processor: pipeline.New(cfg, s3c, stack.SNSClient(), nil)}
	h.OnOutcome = (&Collector{SQS: sqsc, QueueURL: *q.QueueUrl, Log: log}).Observe
	workCtx, stopWork := context.WithCancel(ctx)
	defer stopWork()
	go queue.NewConsumer(cfg, sqsc, h, log).Run(workCtx)

	// The digest, on its schedule.
	box := &mailbox{}
	d := &Drainer{SQS: sqsc, QueueURL: *q.QueueUrl, SNS: box, TopicARN: "arn:aws:sns:eu-west-1:000000000000:emails", Log: log}
	drainCtx, stopDrain := context.WithCancel(ctx)
	var drained sync.WaitGroup
	drained.Add(1)
	go func() {
		defer drained.Done()
		for drainCtx.Err() == nil {
			if _, err := d.Drain(drainCtx); err != nil && drainCtx.Err() == nil {
				t.Errorf("drain: %v", err)
			}
			select {
			case <-time.After(2 * time.Second):
			case <-drainCtx.Done():
			}
		}
	}()

	var img bytes.Buffer
	png.Encode(&img, image.NewGray(image.Rect(0, 0, 8, 8)))
	for i := range uploads {
		key := fmt.Sprintf("album/%04d.png", i)
		if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: &cfg.SourceBucket, Key: &key, Body: bytes.NewReader(img.Bytes())}); err != nil {
			t.Fatal(err)
		}
	}

	// Wait until every upload is in an email.
	keyRE := regexp.MustCompile(`album/\d{4}\.png`)
	seen := map[string]bool{}
	for len(seen) < uploads && ctx.Err() == nil {
		time.Sleep(500 * time.Millisecond)
		box.mu.Lock()
		clear(seen)
		for _, b := range box.bodies {
			for _, k := range keyRE.FindAllString(b, -1) {
				seen[k] = true
			}
		}
		box.mu.Unlock()
	}
	stopDrain()
	drained.Wait()
	if len(seen) != uploads {
		t.Fatalf("%d of %d uploads appear in an email", len(seen), uploads)
	}
	box.mu.Lock()
	defer box.mu.Unlock()
	minGap := time.Hour
	for i := 1; i < len(box.at); i++ {
		minGap = min(minGap, box.at[i].Sub(box.at[i-1]))
	}
	if minGap < time.Second {
		t.Errorf("two emails %s apart; want at least 1 s", minGap)
	}
	t.Logf("%d uploads in %d emails, the closest two %s apart", uploads, len(box.at), minGap.Round(time.Millisecond))
}

func TestRenderListsEveryEntryWithItsLinkOrReason(t *testing.T) {
	at := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	subject, body := Render([]Entry{
		{Key: "b.txt", Status: "failed", Reason: "not-an-image", At: at.Add(time.Second)},
		{Key: "a.jpg", Status: "ok", Link: "https://links.example/t/64x64/a.jpg.png?exp=1&sig=x", At: at},
	})
	if subject != "thumbq: 2 uploads (1 ok, 1 failed)" {
		t.Errorf("subject %q", subject)
	}
	want := "2 uploads since the last digest: 1 thumbnails, 1 failed, 0 skipped.\n\n" +
		"ok      a.jpg\n        https://links.example/t/64x64/a.jpg.png?exp=1&sig=x\n" +
		"failed  b.txt (not-an-image)\n"
	if body != want {
		t.Errorf("body\n%s\nwant\n%s", body, want)
	}
}
