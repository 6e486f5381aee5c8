package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"golang.org/x/image/tiff"

	"github.com/thumbq/thumbq/worker/config"
	"github.com/thumbq/thumbq/worker/emulate"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "thumbq-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "thumbq")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build thumbq: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func TestHelp(t *testing.T) {
	out, err := exec.Command(binary, "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("thumbq --help: %v\n%s", err, out)
	}
	for _, cmd := range []string{"work", "local", "thumbnail", "status", "redrive"} {
		if !strings.Contains(string(out), "\n  "+cmd) {
			t.Errorf("thumbq --help does not list %s:\n%s", cmd, out)
		}
		sub, err := exec.Command(binary, cmd, "--help").CombinedOutput()
		if err != nil || !strings.Contains(string(sub), "Usage: thumbq "+cmd) {
			t.Errorf("thumbq %s --help: %v\n%s", cmd, err, sub)
		}
	}
	work, _ := exec.Command(binary, "work", "--help").CombinedOutput()
	for _, v := range config.Variables() {
		if !strings.Contains(string(work), v.Name) {
			t.Errorf("thumbq work --help does not document %s", v.Name)
		}
	}
}

func TestWorkNamesTheMissingVariable(t *testing.T) {
	cmd := exec.Command(binary, "work")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), config.EnvSourceBucket + "=src"}
	out, err := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); err == nil || code != 1 {
		t.Fatalf("thumbq work without configuration exited %d; want 1\n%s", code, out)
	}
	if !strings.Contains(string(out), config.EnvThumbnailBucket) || strings.Contains(string(out), config.EnvSourceBucket+":") {
		t.Errorf("error does not name just the missing variables:\n%s", out)
	}
}

func TestUnknownCommandIsAUsageError(t *testing.T) {
	cmd := exec.Command(binary, "frobnicate")
	out, _ := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != 2 || !strings.Contains(string(out), `unknown command "frobnicate"`) {
		t.Errorf("thumbq frobnicate exited %d:\n%s", code, out)
	}
}

func TestProductionBuildCarriesNoEmulator(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-tags", "nolocal", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range []string{"github.com/Admiral-Piett/goaws", "github.com/johannesboyne/gofakes3", "github.com/thumbq/thumbq/worker/emulate"} {
		if strings.Contains(string(out), pkg) {
			t.Errorf("the nolocal build depends on %s", pkg)
		}
	}
	if !strings.Contains(string(out), "github.com/thumbq/thumbq/worker/queue") {
		t.Errorf("go list output looks wrong (no worker/queue):\n%s", out)
	}
}

func TestThumbnailCommand(t *testing.T) {
	dir := t.TempDir()
	var b bytes.Buffer
	jpeg.Encode(&b, gradient(400, 300), nil)
	os.WriteFile(filepath.Join(dir, "photo.jpg"), b.Bytes(), 0o644)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("hello"), 0o644)
	out := filepath.Join(dir, "out")
	cmd := exec.Command(binary, "thumbnail", "-out", out, filepath.Join(dir, "photo.jpg"), filepath.Join(dir, "notes.txt"))
	stdout, _ := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Errorf("exit %d with one bad file; want 1\n%s", code, stdout)
	}
	if !strings.Contains(string(stdout), "FAIL "+filepath.Join(dir, "notes.txt")) || !strings.Contains(string(stdout), "2 files: 1 ok, 1 failed") {
		t.Errorf("output does not report each file:\n%s", stdout)
	}
	f, err := os.Open(filepath.Join(out, "photo.jpg.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, format, err := image.DecodeConfig(f)
	if err != nil || format != "png" || cfg.Width != 64 || cfg.Height != 48 {
		t.Errorf("thumbnail is %s %dx%d (%v); want png 64x48", format, cfg.Width, cfg.Height, err)
	}
}

func gradient(w, h int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), uint8((x + y) % 256), 255})
		}
	}
	return img
}

// TestSIGTERMMidBatchLosesNothing runs the real binary against the emulator, sends it SIGTERM
// while it works through a batch, and checks that every upload is either done (thumbnail written,
// message deleted) or back on the queue, visible at once: none lost, none stuck invisible.
func TestSIGTERMMidBatchLosesNothing(t *testing.T) {
	for _, tt := range []struct {
		name  string
		grace string
	}{
		{"in-flight work finishes within the grace period", "20s"},
		{"in-flight work is handed back when the grace period is over", "0s"},
	} {
		t.Run(tt.name, func(t *testing.T) { sigtermMidBatch(t, tt.grace) })
	}
}

func sigtermMidBatch(t *testing.T, grace string) {
	ctx := context.Background()
	// A long visibility timeout: a message the worker failed to hand back would stay invisible
	// for the rest of the test.
	stack, err := emulate.Start(ctx, emulate.Options{Prefix: "sigterm-" + strings.TrimSuffix(grace, "s"), VisibilityTimeout: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer stack.Close()
	// One small JPEG first, then slow TIFFs (decoded at full size): the SIGTERM sent when the JPEG is
	// done finds a TIFF in flight, whatever the machine's speed.
	const n = 16
	var small, slow bytes.Buffer
	jpeg.Encode(&small, gradient(240, 180), nil)
	tiff.Encode(&slow, gradient(3000, 2000), &tiff.Options{Compression: tiff.Deflate})
	s3c := stack.S3Client()
	for i := range n {
		key, body := fmt.Sprintf("batch/photo-%02d.tiff", i), slow.Bytes()
		if i == 0 {
			key, body = "batch/photo-00.jpg", small.Bytes()
		}
		if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: &stack.SourceBucket, Key: &key, Body: bytes.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}

	cmd := exec.Command(binary, "work")
	cmd.Env = append(os.Environ(), config.EnvConcurrency+"=2", config.EnvGracePeriod+"="+grace)
	for k, v := range stack.Env() {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var (
		mu      sync.Mutex
		done    = map[string]bool{}
		logs    strings.Builder
		firstOK = make(chan struct{})
		once    sync.Once
		readAll = make(chan struct{})
	)
	go func() {
		defer close(readAll)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var l struct {
				Msg, Key, Outcome string
			}
			json.Unmarshal(sc.Bytes(), &l)
			mu.Lock()
			logs.WriteString(sc.Text() + "\n")
			if l.Msg == "done" && l.Outcome == "ok" {
				done[l.Key] = true
				once.Do(func() { close(firstOK) })
			}
			mu.Unlock()
		}
	}()
	select {
	case <-firstOK:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("no thumbnail within 60 s\n%s\n%s", logs.String(), stderr.String())
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { <-readAll; exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("thumbq work exited with %v after SIGTERM; want 0\n%s", err, stderr.String())
		}
	case <-time.After(40 * time.Second):
		cmd.Process.Kill()
		t.Fatal("thumbq work still running 40 s after SIGTERM")
	}

	mu.Lock()
	defer mu.Unlock()
	if len(done) == n {
		t.Skipf("all %d images were done before SIGTERM took effect; nothing was mid-batch", n)
	}
	listed, err := s3c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &stack.ThumbnailBucket})
	if err != nil {
		t.Fatal(err)
	}
	thumbs := map[string]bool{}
	for _, o := range listed.Contents {
		thumbs[*o.Key] = true
	}
	// A message handed back after its thumbnail was written is made again, overwriting it: more
	// thumbnails than done messages is fine; a done message without its thumbnail is not.
	for key := range done {
		if !thumbs["64x64/"+key+".png"] {
			t.Errorf("%s is logged done but has no thumbnail", key)
		}
	}
	attrs, err := stack.SQSClient().GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: &stack.QueueURL, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll},
	})
	if err != nil {
		t.Fatal(err)
	}
	visible, inFlight := attrs.Attributes["ApproximateNumberOfMessages"], attrs.Attributes["ApproximateNumberOfMessagesNotVisible"]
	if inFlight != "0" {
		t.Errorf("%s messages stuck invisible after the stop; want 0\n%s", inFlight, logs.String())
	}
	if want := fmt.Sprint(n - len(done)); visible != want {
		t.Errorf("%s messages back on the queue, %d done; want %s + %d = %d\n%s", visible, len(done), want, len(done), n, logs.String())
	}
	if !strings.Contains(logs.String(), "stopping: no more receives") {
		t.Errorf("the log does not show the stop:\n%s", logs.String())
	}
	if grace == "0s" && !strings.Contains(logs.String(), "released unfinished message") {
		t.Errorf("with no grace period nothing was released; want the in-flight messages handed back\n%s", logs.String())
	}
}
