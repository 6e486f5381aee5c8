package emulate

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// awsCLI finds a working AWS CLI, or skips the test.
func awsCLI(t *testing.T) string {
	t.Helper()
	for _, candidate := range []string{"aws", "/root/.pyenv/shims/aws", "/usr/bin/aws"} {
		path, err := exec.LookPath(candidate)
		if err != nil {
			continue
		}
		if err := exec.Command(path, "--version").Run(); err != nil {
			continue
		}
		// A pyenv shim costs half a second a call: run what it runs.
		if strings.Contains(path, "/shims/") {
			if real, err := exec.Command("pyenv", "which", "aws").Output(); err == nil {
				path = strings.TrimSpace(string(real))
			}
		}
		return path
	}
	t.Skip("no working AWS CLI found (looked for aws on PATH, /root/.pyenv/shims/aws, /usr/bin/aws): install awscli (pip or Debian's awscli) to run this test")
	return ""
}

// TestAWSCLI uploads and downloads awkward keys with the real AWS CLI, single-part and multipart
// (it switches at 8 MB), and reads the events and the queue through it.
func TestAWSCLI(t *testing.T) {
	t.Parallel()
	cli := awsCLI(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config")
	// One request at a time: the CLI then reuses one connection, which is how an answer the CLI
	// misreads (a zero-length PUT's 200 without "100 Continue") spoils the next request.
	if err := os.WriteFile(cfg, []byte("[default]\ns3 =\n    addressing_style = path\n    max_concurrent_requests = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") { // no profile, credentials or endpoint of the user's
			env = append(env, kv)
		}
	}
	env = append(env, "AWS_CONFIG_FILE="+cfg, "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "none"), "AWS_PAGER=")
	// Each subtest has a stack of its own and runs in parallel: the CLI takes a second or two to
	// start.
	run := func(t *testing.T, s *Stack, args ...string) []byte {
		t.Helper()
		cmd := exec.Command(cli, args...)
		cmd.Env = slices.Clip(env) // appended to by parallel subtests
		for k, v := range s.Env() {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		return out
	}

	small := []byte("a small image")
	big := bytes.Repeat([]byte("0123456789abcdef"), 9<<20/16) // 9 MiB: multipart
	for _, tc := range []struct {
		name, key string
		body      []byte
		reason    string
	}{
		{"single part", "albums/été/φωτο (1)+x.jpg", small, "PutObject"},
		{"multipart", "IMG 0001 (copy)+final.jpg", big, "CompleteMultipartUpload"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startStack(t, Options{})
			file := filepath.Join(t.TempDir(), "upload")
			if err := os.WriteFile(file, tc.body, 0o600); err != nil {
				t.Fatal(err)
			}
			run(t, s, "s3", "cp", "--only-show-errors", file, "s3://"+s.SourceBucket+"/"+tc.key)

			m := receiveOne(t, s.SQSClient(), s.QueueURL, 0)
			if _, err := s.SQSClient().DeleteMessage(t.Context(), &sqs.DeleteMessageInput{QueueUrl: &s.QueueURL, ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatalf("DeleteMessage: %v", err)
			}
			e := decodeEvent(t, m)
			if e.Detail.Object.Key != tc.key || e.Detail.Object.Size != int64(len(tc.body)) || e.Detail.Reason != tc.reason {
				t.Errorf("event for key %q size %d reason %q; want %q %d %q", e.Detail.Object.Key, e.Detail.Object.Size, e.Detail.Reason, tc.key, len(tc.body), tc.reason)
			}
			if got := run(t, s, "s3", "cp", "--only-show-errors", "s3://"+s.SourceBucket+"/"+tc.key, "-"); !bytes.Equal(got, tc.body) {
				t.Errorf("aws s3 cp %q - returned %d bytes; want the %d uploaded", tc.key, len(got), len(tc.body))
			}
			if tc.reason != "PutObject" {
				return
			}
			var listed struct{ Contents []struct{ Key string } }
			if err := json.Unmarshal(run(t, s, "s3api", "list-objects-v2", "--bucket", s.SourceBucket, "--prefix", tc.key), &listed); err != nil {
				t.Fatalf("list-objects-v2: %v", err)
			}
			if len(listed.Contents) != 1 || listed.Contents[0].Key != tc.key {
				t.Errorf("list-objects-v2 --prefix %q = %+v; want the one key", tc.key, listed.Contents)
			}
		})
	}

	// aws s3 sync sends every PUT with "Expect: 100-continue", an empty file's too, and waits for
	// the interim "100 Continue" S3 sends before its answer. An emulator that answered the empty
	// PUT with a bare 200 left that 200 to be read as the answer to the next request on the
	// connection: the CLI timed out (60 s by default; --cli-read-timeout 10 here) and uploaded the
	// file again, so it was processed twice. Each file must be put once: one event each.
	t.Run("sync a folder with an empty file", func(t *testing.T) {
		t.Parallel()
		s := startStack(t, Options{})
		dir := t.TempDir()
		files := map[string][]byte{"a-empty.txt": nil, "b.jpg": []byte("not really a photo"), "c/d.png": []byte("nor this")}
		for name, body := range files {
			path := filepath.Join(dir, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, body, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		run(t, s, "s3", "sync", "--only-show-errors", "--cli-read-timeout", "10", dir, "s3://"+s.SourceBucket+"/")

		events := map[string]int{}
		for {
			msgs := receive(t, s.SQSClient(), s.QueueURL, 10, 0)
			if len(msgs) == 0 {
				break
			}
			for _, m := range msgs {
				events[decodeEvent(t, m).Detail.Object.Key]++
				if _, err := s.SQSClient().DeleteMessage(t.Context(), &sqs.DeleteMessageInput{QueueUrl: &s.QueueURL, ReceiptHandle: m.ReceiptHandle}); err != nil {
					t.Fatalf("DeleteMessage: %v", err)
				}
			}
		}
		for name := range files {
			if events[name] != 1 {
				t.Errorf("aws s3 sync put %q %d times (events on the work queue); want once", name, events[name])
			}
		}
		if len(events) != len(files) {
			t.Errorf("events for %v; want one for each of the %d files", events, len(files))
		}
	})

	// S3 sends user metadata as lower-case x-amz-meta-* headers, and the CLI shows the names as
	// sent: "source-bucket", as the README documents, not "Source-Bucket".
	t.Run("metadata names keep their case", func(t *testing.T) {
		t.Parallel()
		s := startStack(t, Options{})
		file := filepath.Join(t.TempDir(), "thumb.png")
		if err := os.WriteFile(file, []byte("png"), 0o600); err != nil {
			t.Fatal(err)
		}
		run(t, s, "s3", "cp", "--only-show-errors", "--metadata", "source-bucket=src,source-key=a%20b.jpg", file, "s3://"+s.ThumbnailBucket+"/64x64/a b.jpg.png")
		var head struct{ Metadata map[string]string }
		if err := json.Unmarshal(run(t, s, "s3api", "head-object", "--bucket", s.ThumbnailBucket, "--key", "64x64/a b.jpg.png"), &head); err != nil {
			t.Fatalf("head-object: %v", err)
		}
		if head.Metadata["source-bucket"] != "src" || head.Metadata["source-key"] != "a%20b.jpg" {
			t.Errorf("head-object Metadata = %v; want source-bucket=src, source-key=a%%20b.jpg", head.Metadata)
		}
	})

	// The AWS CLI v1 ignores AWS_ENDPOINT_URL for SQS (it pins SQS to queue.amazonaws.com and
	// the like unless --endpoint-url is given); v2 honours it.
	t.Run("sqs and sns", func(t *testing.T) {
		t.Parallel()
		s := startStack(t, Options{})
		run(t, s, "sns", "publish", "--topic-arn", s.TopicARN, "--subject", "hi", "--message", "from the CLI")
		var got struct{ Messages []struct{ Body string } }
		if err := json.Unmarshal(run(t, s, "sqs", "receive-message", "--endpoint-url", s.Endpoint, "--queue-url", s.NotificationQueueURL, "--wait-time-seconds", "1"), &got); err != nil {
			t.Fatalf("receive-message: %v", err)
		}
		if len(got.Messages) != 1 || !strings.Contains(got.Messages[0].Body, `"Message":"from the CLI"`) {
			t.Errorf("receive-message = %+v; want the notification", got.Messages)
		}
	})
}
