package local

import (
	"context"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/thumbq/thumbq/worker/emulate"
)

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestServeWithTheAWSCLI uploads with the real AWS CLI to the endpoint that `thumbq local -serve`
// prints, and waits for the thumbnail, as a user following the README would.
func TestServeWithTheAWSCLI(t *testing.T) {
	aws, err := exec.LookPath("aws")
	if err != nil {
		t.Skip("no aws CLI on PATH (make test installs Debian's awscli where it can)")
	}
	out := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan *emulate.Stack, 1)
	var progress syncBuffer
	served := make(chan error, 1)
	go func() {
		served <- Serve(ctx, Options{Out: out, Stdout: &progress, Ready: func(s *emulate.Stack) { ready <- s }})
	}()
	var stack *emulate.Stack
	select {
	case stack = <-ready:
	case err := <-served:
		t.Fatalf("Serve: %v", err)
	}
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
		if !strings.Contains(progress.String(), "aws --endpoint-url "+stack.Endpoint+" s3 cp") {
			t.Errorf("Serve did not print how to upload:\n%s", progress.String())
		}
	}()

	src := filepath.Join(t.TempDir(), "photo.jpg")
	if err := os.WriteFile(src, jpegOf(1200, 900), 0o644); err != nil {
		t.Fatal(err)
	}
	key := "from cli/IMG 0001 (copy)+final été.jpg"
	cmd := exec.Command(aws, "--endpoint-url", stack.Endpoint, "s3", "cp", src, "s3://"+stack.SourceBucket+"/"+key)
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_REGION="+stack.Region,
		"AWS_DEFAULT_REGION="+stack.Region, "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("aws s3 cp: %v\n%s", err, b)
	}
	thumb := filepath.Join(out, "64x64", filepath.FromSlash(key)+".png")
	deadline := time.Now().Add(30 * time.Second)
	for {
		f, err := os.Open(thumb)
		if err == nil {
			cfg, _, err := image.DecodeConfig(f)
			f.Close()
			if err == nil {
				if cfg.Width != 64 || cfg.Height != 48 {
					t.Errorf("thumbnail is %dx%d; want 64x48", cfg.Width, cfg.Height)
				}
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no thumbnail at %s after 30 s:\n%s", thumb, progress.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The CLI can read the thumbnail bucket too.
	ls := exec.Command(aws, "--endpoint-url", stack.Endpoint, "s3", "ls", "--recursive", "s3://"+stack.ThumbnailBucket+"/")
	ls.Env = cmd.Env
	b, err := ls.CombinedOutput()
	if err != nil || !strings.Contains(string(b), "64x64/"+key+".png") {
		t.Errorf("aws s3 ls: %v\n%s", err, b)
	}
}
