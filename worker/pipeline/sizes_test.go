package pipeline_test

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/thumbq/thumbq/worker/pipeline"
)

// TestEverySizeIsUploadedAndNotifiedOnce runs one upload through the emulated S3, SQS and SNS
// with three sizes: each is written under its own prefix at its own size, and one notification
// lists the three links.
func TestEverySizeIsUploadedAndNotifiedOnce(t *testing.T) {
	ctx := context.Background()
	stack, wc := emulatedStack(t, "sizes", "64x64,256x256:cover,32x32:pad")
	s3c := stack.S3Client()
	img := image.NewNRGBA(image.Rect(0, 0, 400, 300))
	for i := range img.Pix {
		img.Pix[i] = uint8(i) | 3
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	_, event := uploadEvent(t, stack, "sizes/photo.png", b.Bytes())
	h := &pipeline.Handler{Processor: pipeline.New(wc, s3c, stack.SNSClient(), nil)}
	if err := h.Handle(ctx, event, slog.New(slog.DiscardHandler)); err != nil {
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
	for _, n := range notificationsDelivered(t, stack) {
		notes = append(notes, n.Message)
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
