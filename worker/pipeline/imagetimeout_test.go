package pipeline

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/thumbq/thumbq/worker/failure"
)

// TestImageTimeoutIsTooSlowButAStopIsTransient: an image that runs out of ImageTimeout fails
// permanently as too-slow; the same image cut short by its caller's context (a stop) gets a
// transient error, so the message is handed back rather than failed.
func TestImageTimeoutIsTooSlowButAStopIsTransient(t *testing.T) {
	data, err := os.ReadFile("../thumb/testdata/photos/photo-420.jpg")
	if err != nil {
		t.Fatal(err)
	}
	p := &Processor{ImageTimeout: time.Nanosecond}
	_, err = p.makeWithin(context.Background(), data, "jpeg")
	if f := failure.As(err); f == nil || f.Code != failure.TooSlow {
		t.Errorf("makeWithin past the image timeout = %v; want too-slow", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p.ImageTimeout = time.Minute
	_, err = p.makeWithin(ctx, data, "jpeg")
	if failure.IsPermanent(err) || !errors.Is(err, context.Canceled) {
		t.Errorf("makeWithin stopped by its caller = %v; want a transient error wrapping context.Canceled", err)
	}

	if _, err := p.makeWithin(context.Background(), data, "jpeg"); err != nil {
		t.Errorf("makeWithin in time = %v; want the thumbnail", err)
	}
}
