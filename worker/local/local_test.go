package local

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/thumbq/thumbq/worker/emulate"
	"github.com/thumbq/thumbq/worker/queue"
)

func gradient(w, h int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), 128, 255})
		}
	}
	return img
}

func jpegOf(w, h int) []byte {
	var b bytes.Buffer
	jpeg.Encode(&b, gradient(w, h), nil)
	return b.Bytes()
}

func pngOf(w, h int) []byte {
	var b bytes.Buffer
	png.Encode(&b, gradient(w, h))
	return b.Bytes()
}

func writeFiles(t *testing.T, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestRunEndToEnd uploads a small corpus through the emulated stack and checks every entry of the
// report, the thumbnails on disk, the notifications and the dead-letter queue.
func TestRunEndToEnd(t *testing.T) {
	photo := jpegOf(800, 600)
	files := map[string][]byte{
		"IMG 0001 (copy)+final.jpg": photo,
		"albums/été/φωτο.png":       pngOf(300, 600),
		"notes.txt":                 []byte("not an image\n"),
		"truncated.jpg":             photo[:len(photo)/2],
		"empty.jpg":                 nil,
	}
	images := writeFiles(t, files)
	out := t.TempDir()
	var progress bytes.Buffer
	rep, err := Run(context.Background(), Options{
		Images: images, Out: out, Stdout: &progress, Timeout: time.Minute,
		VisibilityTimeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, progress.String())
	}
	if want := "metrics (as the deployed worker writes them): failed corrupt 1, failed not-an-image 1, ok 2, skipped 1;"; !strings.Contains(progress.String(), want) {
		t.Errorf("the summary lacks the worker's metrics %q:\n%s", want, progress.String())
	}
	want := map[string]struct {
		status Status
		w, h   int
		reason string
	}{
		"IMG 0001 (copy)+final.jpg": {OK, 64, 48, ""},
		"albums/été/φωτο.png":       {OK, 32, 64, ""},
		"notes.txt":                 {Failed, 0, 0, "not-an-image"},
		"truncated.jpg":             {Failed, 0, 0, "corrupt"},
		"empty.jpg":                 {Skipped, 0, 0, "empty object"},
	}
	if len(rep.Results) != len(want) {
		t.Errorf("report has %d entries; want %d:\n%s", len(rep.Results), len(want), progress.String())
	}
	for _, r := range rep.Results {
		w, ok := want[r.Key]
		if !ok {
			t.Errorf("report names unexpected key %q", r.Key)
			continue
		}
		if r.Status != w.status || r.Width != w.w || r.Height != w.h || r.Reason != w.reason || (r.Status == Failed && r.Error == "") {
			t.Errorf("%s: %s %dx%d reason %q (%q); want %s %dx%d reason %q and, for a failure, a detail", r.Key, r.Status, r.Width, r.Height, r.Reason, r.Error, w.status, w.w, w.h, w.reason)
		}
		if r.Status != "ok" {
			continue
		}
		if r.Thumbnail != "64x64/"+r.Key+".png" {
			t.Errorf("%s: thumbnail %q; want 64x64/%s.png", r.Key, r.Thumbnail, r.Key)
		}
		f, err := os.Open(filepath.Join(out, filepath.FromSlash(r.Thumbnail)))
		if err != nil {
			t.Errorf("%s: %v", r.Key, err)
			continue
		}
		cfg, format, err := image.DecodeConfig(f)
		f.Close()
		if err != nil || format != "png" || cfg.Width != w.w || cfg.Height != w.h {
			t.Errorf("%s: file on disk is %s %dx%d (%v); want png %dx%d", r.Key, format, cfg.Width, cfg.Height, err, w.w, w.h)
		}
		// The link has the shape of the deployed stack's (worker/link): the run's own endpoint
		// checks it and redirects to the emulated S3 (while it runs: Run has ended here); 24 h.
		if u, err := url.Parse(r.URL); err != nil || !strings.HasPrefix(u.Path, "/t/64x64/") || !strings.Contains(u.RawQuery, "sig=") {
			t.Errorf("%s: url %q is not a thumbq link", r.Key, r.URL)
		} else if exp, _ := strconv.ParseInt(u.Query().Get("exp"), 10, 64); time.Until(time.Unix(exp, 0)) < 23*time.Hour {
			t.Errorf("%s: link %q expires at %d; want 24 h from now", r.Key, r.URL, exp)
		}
		var n struct {
			Subject    string            `json:"subject"`
			Message    string            `json:"message"`
			Attributes map[string]string `json:"attributes"`
		}
		b, err := os.ReadFile(filepath.Join(out, "notifications", filepath.FromSlash(r.Key)+".ok.json"))
		if err != nil {
			t.Errorf("%s: no notification: %v", r.Key, err)
			continue
		}
		if err := json.Unmarshal(b, &n); err != nil {
			t.Fatal(err)
		}
		if n.Attributes["key"] != r.Key || n.Attributes["status"] != "ok" || !strings.Contains(n.Message, r.URL) {
			t.Errorf("%s: notification %+v does not name its key, status and link", r.Key, n)
		}
	}
	for _, key := range []string{"notes.txt", "truncated.jpg"} {
		if _, err := os.Stat(filepath.Join(out, "notifications", key+".failed.json")); err != nil {
			t.Errorf("%s: no failure notification: %v", key, err)
		}
	}
	b, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var onDisk Report
	if err := json.Unmarshal(b, &onDisk); err != nil || len(onDisk.Results) != len(want) {
		t.Errorf("report.json: %v, %d entries; want %d", err, len(onDisk.Results), len(want))
	}
}

// TestPermanentFailureGoesToTheDeadLetterQueueWithItsReason checks the dead-letter queue itself.
func TestPermanentFailureGoesToTheDeadLetterQueueWithItsReason(t *testing.T) {
	images := writeFiles(t, map[string][]byte{"corrupt.png": append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 64)...)})
	var reasons []string
	ctx := context.Background()
	e, err := start(ctx, Options{Images: images, Out: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer e.close()
	stack := e.stack
	if err := e.upload(ctx, file{path: filepath.Join(images, "corrupt.png"), key: "corrupt.png"}); err != nil {
		t.Fatal(err)
	}
	select {
	case o := <-e.outcomes:
		if o.Status != "failed" {
			t.Fatalf("outcome %s %v; want failed", o.Status, o.Err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no outcome in 30 s")
	}
	q := stack.SQSClient()
	msgs, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &stack.DeadLetterURL, MessageAttributeNames: []string{"All"}, WaitTimeSeconds: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs.Messages {
		if a, ok := m.MessageAttributes[queue.AttrReason]; ok {
			reasons = append(reasons, *a.StringValue)
		}
		if !strings.Contains(*m.Body, `"corrupt.png"`) {
			t.Errorf("dead letter body %s does not carry the original event", *m.Body)
		}
	}
	if len(reasons) != 1 || reasons[0] != "corrupt" {
		t.Errorf("dead letters' reasons = %q; want one, the bare code corrupt", reasons)
	}
	// The dead letter is sent before the original is deleted: on a loaded machine the delete may
	// still be on its way when the dead letter is read. Wait for it, well within the visibility
	// timeout (10 s), after which a message not deleted would be received again.
	var attrs map[string]string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		out, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &stack.QueueURL, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll}})
		if err != nil {
			t.Fatal(err)
		}
		attrs = out.Attributes
		if attrs["ApproximateNumberOfMessages"] == "0" && attrs["ApproximateNumberOfMessagesNotVisible"] == "0" || time.Now().After(deadline) {
			break
		}
	}
	if attrs["ApproximateNumberOfMessages"] != "0" || attrs["ApproximateNumberOfMessagesNotVisible"] != "0" {
		t.Errorf("work queue 5 s after a permanent failure: %v; want it empty (removed at once, not retried)", attrs)
	}
}

// TestTransientS3FailureIsRetriedAndSucceeds makes the first download fail as S3 does under load
// (503 SlowDown): the message is left to SQS, received again, and the thumbnail is made.
func TestTransientS3FailureIsRetriedAndSucceeds(t *testing.T) {
	images := writeFiles(t, map[string][]byte{"photo.jpg": jpegOf(640, 480)})
	var logs, progress bytes.Buffer
	rep, err := Run(context.Background(), Options{
		Images: images, Out: t.TempDir(), Stdout: &progress, Timeout: time.Minute,
		Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
		// The SDK itself tries a 503 three times; fail all three so the worker sees it.
		BeforeUpload: func(s *emulate.Stack) { s.FailNext("s3:GetObject", 3) },
	})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, progress.String())
	}
	if len(rep.Results) != 1 || rep.Results[0].Status != "ok" || rep.Results[0].Width != 64 || rep.Results[0].Height != 48 {
		t.Fatalf("report = %+v; want photo.jpg ok 64x48", rep.Results)
	}
	var transient, doneOnSecond bool
	for _, line := range strings.Split(logs.String(), "\n") {
		var l struct {
			Msg          string `json:"msg"`
			ReceiveCount int    `json:"receive_count"`
			Outcome      string `json:"outcome"`
		}
		if json.Unmarshal([]byte(line), &l) != nil {
			continue
		}
		transient = transient || (strings.HasPrefix(l.Msg, "transient failure") && l.ReceiveCount == 1)
		doneOnSecond = doneOnSecond || (l.Msg == "done" && l.Outcome == "ok" && l.ReceiveCount == 2)
	}
	if !transient || !doneOnSecond {
		t.Errorf("log shows transient failure on receive 1: %v, done on receive 2: %v; want both\n%s", transient, doneOnSecond, logs.String())
	}
}
