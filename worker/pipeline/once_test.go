package pipeline_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/thumbq/thumbq/worker/failure"
	"github.com/thumbq/thumbq/worker/pipeline"
)

// TestOneUploadVersionGivesOneNotification delivers the same upload event five times, three of them
// to handlers running at once (duplicate workers), through the emulated S3 and SNS with the real
// SDK clients: one notification reaches the topic's subscriber, and the later deliveries are
// acknowledged without downloading the image again.
func TestOneUploadVersionGivesOneNotification(t *testing.T) {
	ctx := context.Background()
	stack, wc := emulatedStack(t, "once", "")
	s3c := stack.S3Client()
	img := image.NewNRGBA(image.Rect(0, 0, 300, 200))
	for i := range img.Pix {
		img.Pix[i] = uint8(i)
	}
	img.Set(0, 0, color.NRGBA{1, 2, 3, 255})
	var b bytes.Buffer
	png.Encode(&b, img)
	key := "once/photo (1).png"
	etag, body := uploadEvent(t, stack, key, b.Bytes())

	var logs bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewJSONHandler(&lockedWriter{w: &logs, mu: &mu}, nil))
	h := &pipeline.Handler{Processor: pipeline.New(wc, s3c, stack.SNSClient(), nil)}
	var wg sync.WaitGroup
	errs := make(chan error, 5)
	for range 3 {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- h.Handle(ctx, body, log) }()
	}
	wg.Wait()
	for range 2 {
		errs <- h.Handle(ctx, body, log)
	}
	close(errs)
	var failed []error
	for err := range errs {
		if err != nil {
			failed = append(failed, err)
		}
	}
	// A delivery that found another's fresh claim is told to come back later (transient): allowed,
	// and then its retry must find the notification sent.
	for range failed {
		if err := h.Handle(ctx, body, log); err != nil {
			t.Fatalf("a retried delivery failed: %v", err)
		}
	}

	var notes []string
	for _, n := range notificationsDelivered(t, stack) {
		notes = append(notes, n.Subject)
	}
	if len(notes) != 1 {
		t.Errorf("%d notifications for one upload delivered 5 times: %q; want exactly 1", len(notes), notes)
	}
	mu.Lock()
	defer mu.Unlock()
	if n := bytes.Count(logs.Bytes(), []byte("acknowledged without making the thumbnail again")); n < 2 {
		t.Errorf("%d deliveries were acknowledged as finished; want at least the 2 that came after the first was done\n%s", n, logs.String())
	}
	marker := pipeline.MarkerPrefix + etag + "/" + key
	if _, err := s3c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &stack.ThumbnailBucket, Key: &marker}); err != nil {
		t.Errorf("no marker at %s: %v", marker, err)
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestARedriveAfterAFailureNotificationMakesTheThumbnail: an upload whose retries ran out was
// notified as failed; once the cause is mended, its redriven message must be worked on (not
// acknowledged as finished) and the thumbnail notified. A second failure is not notified again.
func TestARedriveAfterAFailureNotificationMakesTheThumbnail(t *testing.T) {
	ctx := context.Background()
	stack, wc := emulatedStack(t, "redrive-once", "")
	s3c := stack.S3Client()
	var b bytes.Buffer
	png.Encode(&b, image.NewGray(image.Rect(0, 0, 200, 100)))
	key := "redrive/photo.png"
	_, body := uploadEvent(t, stack, key, b.Bytes())
	h := &pipeline.Handler{Processor: pipeline.New(wc, s3c, stack.SNSClient(), nil)}
	log := slog.New(slog.DiscardHandler)
	exhausted := failure.New(failure.RetriesExhausted, "", "still failing on receive 3 of 3: s3: SlowDown")
	h.DeadLettered(ctx, body, exhausted, log)        // what the queue does on the last receive
	h.DeadLettered(ctx, body, exhausted, log)        // dead-lettered twice: notified once
	if err := h.Handle(ctx, body, log); err != nil { // the redrive
		t.Fatalf("Handle of the redriven message: %v", err)
	}
	thumbKey := "64x64/" + key + ".png"
	if _, err := s3c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &stack.ThumbnailBucket, Key: &thumbKey}); err != nil {
		t.Errorf("no thumbnail at %s after the redrive: %v", thumbKey, err)
	}
	var statuses []string
	for _, n := range notificationsDelivered(t, stack) {
		statuses = append(statuses, n.MessageAttributes["status"].Value)
	}
	if strings.Join(statuses, ",") != "failed,ok" {
		t.Errorf("notifications %q; want one failure, then the thumbnail after the redrive", statuses)
	}
	if err := h.Handle(ctx, body, log); err != nil { // a redelivery of the finished upload
		t.Fatalf("Handle of a redelivery: %v", err)
	}
}
