package local

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/thumbq/thumbq/worker/emulate"
	"github.com/thumbq/thumbq/worker/queue"
)

// TestServeReportsARedeliveryAsSuchNotAsAThumbnail: redrive --all sends a failed upload back; the
// worker tries it again (a notified failure is not a finished upload: the cause may be mended) and
// it fails again. Serve once printed such a redelivery as "ok notes.txt ->
// s3://.../64x64/notes.txt.png 0x0", a thumbnail that does not exist.
func TestServeReportsARedeliveryAsSuchNotAsAThumbnail(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan *emulate.Stack, 1)
	var progress syncBuffer
	served := make(chan error, 1)
	go func() {
		served <- Serve(ctx, Options{Stdout: &progress, Ready: func(s *emulate.Stack) { ready <- s }})
	}()
	var stack *emulate.Stack
	select {
	case stack = <-ready:
	case err := <-served:
		t.Fatalf("Serve: %v", err)
	}
	defer func() { cancel(); <-served }()
	if _, err := stack.S3Client().PutObject(ctx, &s3.PutObjectInput{Bucket: &stack.SourceBucket, Key: aws.String("notes.txt"),
		Body: bytes.NewReader([]byte("notes, not a photograph"))}); err != nil {
		t.Fatal(err)
	}
	waitFor := func(want string) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); !strings.Contains(progress.String(), want); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("serve never printed %q:\n%s", want, progress.String())
			}
		}
	}
	waitFor("failed   notes.txt: not-an-image")
	if _, err := queue.Redrive(ctx, stack.SQSClient(), stack.DeadLetterURL, stack.QueueURL, queue.RedriveOptions{All: true}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); strings.Count(progress.String(), "failed   notes.txt: not-an-image") < 2; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("serve never printed the redriven upload's second failure:\n%s", progress.String())
		}
	}
	if strings.Contains(progress.String(), "ok       notes.txt") {
		t.Errorf("serve reported the redelivered failure as a thumbnail:\n%s", progress.String())
	}
}
