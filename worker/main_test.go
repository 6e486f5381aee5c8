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

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
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
	signalled := time.Now()
	exited := make(chan error, 1)
	go func() { <-readAll; exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("thumbq work exited with %v after SIGTERM; want 0\n%s", err, stderr.String())
		}
		// The figure is the grace period + 1 s; 2 s more leave room for a loaded CI
		// machine while failing on a decode that ignores the stop (15 s for a large TIFF once).
		took := time.Since(signalled)
		g, _ := time.ParseDuration(grace)
		if took > g+3*time.Second {
			t.Errorf("exit %s after SIGTERM with work in flight; want within the grace period %s + 1 s", took.Round(time.Millisecond), g)
		}
		t.Logf("SIGTERM with work in flight, grace %s: exit after %s", g, took.Round(time.Millisecond))
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

func TestThumbnailCommandRoughEdges(t *testing.T) {
	samples, err := filepath.Abs("samples")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("a folder stands for the files under it, its layout kept", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "thumbs")
		res, _ := exec.Command(binary, "thumbnail", "-quiet", "-out", out, samples).CombinedOutput()
		for _, want := range []string{"mountain-panorama.jpg.png", "albums/été/φωτο.jpg.png"} {
			if _, err := os.Stat(filepath.Join(out, filepath.FromSlash(want))); err != nil {
				t.Errorf("thumbq thumbnail %s made no %s: %v\n%s", samples, want, err, res)
			}
		}
		if !strings.Contains(string(res), "12 files: 9 ok, 3 failed") {
			t.Errorf("summary of the samples folder; want 12 files: 9 ok, 3 failed\n%s", res)
		}
	})
	t.Run("no output folder when every file fails, and one file is a file", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "thumbs")
		res, err := exec.Command(binary, "thumbnail", "-out", out, filepath.Join(samples, "notes.txt")).CombinedOutput()
		if err == nil {
			t.Errorf("thumbq thumbnail notes.txt succeeded\n%s", res)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("-out %s exists after every input failed (%v)", out, err)
		}
		if !strings.Contains(string(res), "1 file: 0 ok, 1 failed") {
			t.Errorf("summary; want \"1 file: 0 ok, 1 failed\"\n%s", res)
		}
	})
	for _, args := range [][]string{{"-width", "100000"}, {"-height", "0"}, {"-max-pixels", "0"}} {
		t.Run("refuses "+strings.Join(args, " "), func(t *testing.T) {
			cmd := exec.Command(binary, append(append([]string{"thumbnail"}, args...), filepath.Join(samples, "landscape.gif"))...)
			res, _ := cmd.CombinedOutput()
			if code := cmd.ProcessState.ExitCode(); code != 2 || !strings.Contains(string(res), args[0]) {
				t.Errorf("thumbq thumbnail %s exited %d; want 2 (usage) naming the flag\n%s", strings.Join(args, " "), code, res)
			}
		})
	}
}

// TestVersion: every command answers -version, and a build in the git checkout names its commit.
func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"version"}, {"work", "-version"}, {"local", "--version"}, {"thumbnail", "-version"}, {"status", "-version"}, {"redrive", "-version"}} {
		out, err := exec.Command(binary, args...).CombinedOutput()
		if err != nil || !strings.HasPrefix(string(out), "thumbq ") || !strings.Contains(string(out), "commit") {
			t.Errorf("thumbq %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("no git checkout to compare the commit with: %v", err)
	}
	if st, err := os.Stat(filepath.Join("..", ".git")); err != nil || !st.IsDir() {
		t.Skip("a git worktree (.git is a file): the go command records VCS information only under a .git folder")
	}
	bin := filepath.Join(t.TempDir(), "thumbq")
	if out, err := exec.Command("go", "build", "-buildvcs=true", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build -buildvcs=true: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "commit "+strings.TrimSpace(string(head))) {
		t.Errorf("thumbq --version = %q (%v); want commit %s", out, err, head)
	}
}

// TestContainerBuildNamesTheStacksCommit: built as the Dockerfile builds the image (no VCS
// information, the commit passed as THUMBQ_COMMIT into -X main.linkedCommit), thumbq --version
// names the commit the stack passed.
func TestContainerBuildNamesTheStacksCommit(t *testing.T) {
	df, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(df), "-X main.linkedCommit=${THUMBQ_COMMIT}") || !strings.Contains(string(df), "ARG THUMBQ_COMMIT") {
		t.Fatal("the Dockerfile does not link THUMBQ_COMMIT into main.linkedCommit")
	}
	bin := filepath.Join(t.TempDir(), "thumbq")
	const commit = "0123456789abcdef0123456789abcdef01234567"
	if out, err := exec.Command("go", "build", "-buildvcs=false", "-ldflags", "-X main.linkedCommit="+commit, "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "commit "+commit) {
		t.Errorf("thumbq --version = %q (%v); want commit %s", out, err, commit)
	}
}

// TestQueueCommandsWithoutCredentials: status and redrive say in one sentence that no credentials
// were found, not the SDK's chain of attempts (IMDS, ...).
func TestQueueCommandsWithoutCredentials(t *testing.T) {
	home := t.TempDir()
	for _, name := range []string{"status", "redrive"} {
		cmd := exec.Command(binary, name, "-queue-url", "https://sqs.us-east-1.amazonaws.com/123456789012/work",
			"-dead-letter-url", "https://sqs.us-east-1.amazonaws.com/123456789012/dlq")
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "AWS_REGION=us-east-1",
			"AWS_CONFIG_FILE=" + filepath.Join(home, "none"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "none"),
			"AWS_EC2_METADATA_DISABLED=true"} // no instance here to ask, and no 1 s timeouts to wait for
		out, _ := cmd.CombinedOutput()
		if code := cmd.ProcessState.ExitCode(); code != 1 {
			t.Errorf("thumbq %s without credentials exited %d; want 1\n%s", name, code, out)
		}
		if !strings.Contains(string(out), "no AWS credentials found (set AWS_PROFILE") || strings.Contains(string(out), "IMDS") {
			t.Errorf("thumbq %s without credentials said:\n%s\nwant one sentence: no AWS credentials found (set AWS_PROFILE ...)", name, out)
		}
	}
}

// TestLocalClearsItsOutput: a second run on other images leaves only its own thumbnails in the
// output folder, matching its report.json, and says it cleared the first run's.
func TestLocalClearsItsOutput(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	if res, err := exec.Command(binary, "local", "-images", "samples", "-out", out).CombinedOutput(); err != nil {
		t.Fatalf("thumbq local -images samples: %v\n%s", err, res)
	}
	// Every notification names the real thumbnail bucket, none "s3://.../".
	notes, _ := filepath.Glob(filepath.Join(out, "notifications", "*.json"))
	if len(notes) == 0 {
		t.Errorf("no notifications in %s", out)
	}
	for _, p := range notes {
		b, _ := os.ReadFile(p)
		if strings.Contains(string(b), "s3://.../") || (strings.HasSuffix(p, ".ok.json") && !strings.Contains(string(b), "s3://thumbq-thumbnails/64x64/")) {
			t.Errorf("%s does not name the thumbnail bucket:\n%s", p, b)
		}
	}
	res, err := exec.Command(binary, "local", "-images", "samples/albums", "-out", out).CombinedOutput()
	if err != nil {
		t.Fatalf("thumbq local -images samples/albums: %v\n%s", err, res)
	}
	if !strings.Contains(string(res), "cleared "+out+" of the previous run's 64x64/, notifications/, report.json, worker.log") {
		t.Errorf("the second run did not say what it cleared:\n%s", res)
	}
	var thumbs []string
	filepath.WalkDir(filepath.Join(out, "64x64"), func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(out, path)
			thumbs = append(thumbs, filepath.ToSlash(rel))
		}
		return nil
	})
	var rep struct {
		Results []struct{ Key, Thumbnail string }
	}
	b, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil || json.Unmarshal(b, &rep) != nil {
		t.Fatalf("report.json: %v\n%s", err, b)
	}
	var reported []string
	for _, r := range rep.Results {
		reported = append(reported, r.Thumbnail)
	}
	if want := []string{"64x64/été/φωτο.jpg.png"}; strings.Join(thumbs, ",") != strings.Join(want, ",") || strings.Join(reported, ",") != strings.Join(want, ",") {
		t.Errorf("after the second run, thumbnails %v and report.json's %v; want only %v", thumbs, reported, want)
	}
}

// TestServeWithWorkersElsewhere: thumbq local -serve -addr 127.0.0.1:0 -workers 0 starts no
// worker and prints the environment a worker needs; a thumbq work started apart with exactly that
// environment processes the samples, and serve prints each outcome from the notifications.
func TestServeWithWorkersElsewhere(t *testing.T) {
	serve := exec.Command(binary, "local", "-serve", "-addr", "127.0.0.1:0", "-workers", "0")
	stdout, err := serve.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var serveLog bytes.Buffer
	serve.Stderr = &serveLog // the emulator's and (here none) the workers' JSON log
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { serve.Process.Signal(syscall.SIGTERM); serve.Wait() }()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	// The banner: the address chosen, then "env \ KEY=VALUE \ ... thumbq work".
	var endpoint string
	var env []string
	for line := range lines {
		if rest, ok := strings.CutPrefix(line, "thumbq local --serve: emulated S3, SQS and SNS at "); ok {
			endpoint, _, _ = strings.Cut(rest, " ")
		}
		if kv := strings.TrimSuffix(strings.TrimSpace(line), " \\"); strings.Contains(kv, "=") && !strings.Contains(kv, " ") {
			env = append(env, kv)
		}
		if strings.HasSuffix(line, " work") {
			break
		}
	}
	if endpoint == "" || strings.HasSuffix(endpoint, ":0") || strings.HasSuffix(endpoint, ":4566") || len(env) < 5 {
		t.Fatalf("serve printed endpoint %q and worker environment %v; want the chosen port and the variables", endpoint, env)
	}

	work := exec.Command(binary, "work")
	work.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	var workLog bytes.Buffer
	work.Stdout, work.Stderr = &workLog, &workLog
	if err := work.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { work.Process.Signal(syscall.SIGTERM); work.Wait() }()

	s3c := s3.New(s3.Options{BaseEndpoint: &endpoint, Region: "us-east-1", UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
	uploaded := map[string]bool{}
	filepath.WalkDir("samples", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		key, _ := filepath.Rel("samples", path)
		key = filepath.ToSlash(key)
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if _, err := s3c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String("thumbq-source"), Key: &key, Body: f}); err != nil {
			t.Fatalf("PutObject %s: %v", key, err)
		}
		uploaded[key] = true
		return nil
	})
	outcomes := map[string]string{}
	hinted := false
	deadline := time.After(60 * time.Second)
	for len(outcomes) < len(uploaded) {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("serve ended; outcomes so far %v\nworker log:\n%s", outcomes, workLog.String())
			}
			if strings.Contains(line, binary+" status --queue-url ") {
				hinted = true // the status hint names the binary as run, not a thumbq that is not on PATH
			}
			status, rest, _ := strings.Cut(line, " ")
			key, _, _ := strings.Cut(strings.TrimSpace(rest), ": ")
			if uploaded[key] {
				outcomes[key] = status
			}
		case <-deadline:
			t.Fatalf("after 60 s, outcomes for %d of %d uploads: %v\nworker log:\n%s", len(outcomes), len(uploaded), outcomes, workLog.String())
		}
	}
	var ok int
	for _, s := range outcomes {
		if s == "ok" {
			ok++
		}
	}
	if ok != 9 || len(outcomes) != 12 {
		t.Errorf("outcomes %v; want 9 ok of the 12 samples (3 are not images)", outcomes)
	}
	if !hinted {
		t.Errorf("serve's hint does not run %s status", binary)
	}
	list, err := s3c.ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: aws.String("thumbq-thumbnails"), Prefix: aws.String("64x64/")})
	if err != nil || len(list.Contents) != 9 {
		t.Errorf("the thumbnail bucket holds %d objects (%v); want 9, made by the worker started apart", len(list.Contents), err)
	}
}

// TestMakeTargets: make serve takes ADDR and WORKERS; make run says it compiles before it does.
func TestMakeTargets(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make")
	}
	serve, err := exec.Command("make", "-s", "-C", "..", "-n", "serve", "ADDR=127.0.0.1:0", "WORKERS=0").CombinedOutput()
	if err != nil || !strings.Contains(string(serve), `--addr "127.0.0.1:0"`) || !strings.Contains(string(serve), `--workers "0"`) {
		t.Errorf("make -n serve ADDR=127.0.0.1:0 WORKERS=0: %v\n%s", err, serve)
	}
	run, err := exec.Command("make", "-s", "-C", "..", "-n", "run").CombinedOutput()
	notice, build := strings.Index(string(run), "Compiling bin/thumbq"), strings.Index(string(run), "go build")
	if err != nil || notice < 0 || build < notice {
		t.Errorf("make -n run does not say it compiles before compiling: %v\n%s", err, run)
	}
}
