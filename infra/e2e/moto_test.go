package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/thumbq/thumbq/infra/stack"
	"github.com/thumbq/thumbq/worker/config"
	"github.com/thumbq/thumbq/worker/failure"
	"github.com/thumbq/thumbq/worker/queue"
)

const (
	repoRoot  = "../.."
	stackName = "thumbq-prod"
	region    = "us-east-1"
)

// What moto cannot deploy, and why it can be left out of the tested path:
//   - AWS::EC2::FlowLog: moto crashes on it (the flow log only records rejected traffic);
//   - AWS::S3::BucketPolicy: not supported by moto (the policies deny non-TLS requests);
//   - CDK's custom-resource providers (the default security group's restriction): moto hangs on
//     their Lambda functions, and nothing in the tested path uses the default security group.
var dropped = map[string]string{
	"AWS::EC2::FlowLog":            "moto crashes on it",
	"AWS::S3::BucketPolicy":        "moto does not support it",
	"Custom::VpcRestrictDefaultSG": "a custom resource: moto hangs on its Lambda",
}

// motoTemplate is the prod template as moto can deploy it: without the resources of dropped (and
// the custom-resource provider behind Custom::VpcRestrictDefaultSG), and without CDK's check of
// the bootstrap version (an SSM parameter of a bootstrapped account).
func motoTemplate(t *testing.T) []byte {
	b, err := os.ReadFile(filepath.Join("..", "stack", "testdata", stackName+".template.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tpl map[string]any
	if err := json.Unmarshal(b, &tpl); err != nil {
		t.Fatal(err)
	}
	resources := tpl["Resources"].(map[string]any)
	gone := map[string]bool{}
	for id, r := range resources {
		typ := r.(map[string]any)["Type"].(string)
		if _, ok := dropped[typ]; ok || strings.HasPrefix(id, "CustomVpcRestrictDefaultSGCustomResourceProvider") {
			gone[id] = true
		}
	}
	if len(gone) < 4 {
		t.Fatalf("dropped %d resources; want the flow log, the bucket policies and the custom resource at least", len(gone))
	}
	for id := range gone {
		delete(resources, id)
	}
	for _, r := range resources {
		r := r.(map[string]any)
		deps, ok := r["DependsOn"].([]any)
		if !ok {
			continue
		}
		deps = slices.DeleteFunc(deps, func(d any) bool { return gone[d.(string)] })
		if len(deps) == 0 {
			delete(r, "DependsOn")
		} else {
			r["DependsOn"] = deps
		}
	}
	delete(tpl, "Rules")
	if p, ok := tpl["Parameters"].(map[string]any); ok {
		delete(p, "BootstrapVersion")
	}
	out, err := json.Marshal(tpl)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// peer is a moto_server started for the test, with the AWS CLI pointed at it.
type peer struct {
	t        *testing.T
	endpoint string
	env      []string
}

func startMoto(t *testing.T) *peer {
	server, err := exec.LookPath("moto_server")
	if err != nil {
		skipWithoutPeer(t, "moto_server is not installed (pip install 'moto[server]==5.2.1'): the prod template was not deployed anywhere")
	}
	if _, err := exec.LookPath("aws"); err != nil {
		skipWithoutPeer(t, "the AWS CLI is not installed (apt-get install awscli): the template cannot be deployed into moto")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(server, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	logFile, _ := os.Create(filepath.Join(t.TempDir(), "moto.log"))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		cmd.Wait()
	})
	p := &peer{t: t, endpoint: fmt.Sprintf("http://127.0.0.1:%d", port)}
	p.env = append(os.Environ(),
		"AWS_ACCESS_KEY_ID=moto", "AWS_SECRET_ACCESS_KEY=moto", "AWS_SESSION_TOKEN=", "AWS_REGION="+region,
		"AWS_DEFAULT_REGION="+region, "AWS_ENDPOINT_URL="+p.endpoint, "AWS_CONFIG_FILE="+os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE="+os.DevNull, "AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER=")
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := http.Get(p.endpoint + "/moto-api/"); err == nil {
			resp.Body.Close()
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("moto_server did not answer on %s within 30 s", p.endpoint)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// aws runs the AWS CLI against moto and decodes its JSON output into out (when not nil).
func (p *peer) aws(out any, args ...string) {
	p.t.Helper()
	cmd := exec.Command("aws", append([]string{"--endpoint-url", p.endpoint, "--output", "json"}, args...)...)
	cmd.Env = p.env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		p.t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	if out != nil && len(bytes.TrimSpace(b)) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			p.t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, b)
		}
	}
}

// deploy creates the stack from the template and returns its outputs by name.
func (p *peer) deploy(template []byte) map[string]string {
	path := filepath.Join(p.t.TempDir(), "template.json")
	if err := os.WriteFile(path, template, 0o644); err != nil {
		p.t.Fatal(err)
	}
	p.aws(nil, "cloudformation", "create-stack", "--stack-name", stackName, "--template-body", "file://"+path,
		"--capabilities", "CAPABILITY_IAM", "CAPABILITY_NAMED_IAM")
	deadline := time.Now().Add(3 * time.Minute)
	for {
		var d struct {
			Stacks []struct {
				StackStatus       string
				StackStatusReason string
				Outputs           []struct{ OutputKey, OutputValue string }
			}
		}
		p.aws(&d, "cloudformation", "describe-stacks", "--stack-name", stackName)
		s := d.Stacks[0]
		switch {
		case s.StackStatus == "CREATE_COMPLETE":
			out := map[string]string{}
			for _, o := range s.Outputs {
				out[o.OutputKey] = o.OutputValue
			}
			return out
		case strings.HasSuffix(s.StackStatus, "FAILED") || strings.Contains(s.StackStatus, "ROLLBACK"):
			p.t.Fatalf("create-stack: %s: %s", s.StackStatus, s.StackStatusReason)
		case time.Now().After(deadline):
			p.t.Fatalf("create-stack: still %s after 3 minutes", s.StackStatus)
		}
		time.Sleep(time.Second)
	}
}

func TestProdTemplateOnMoto(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the moto end-to-end test takes about a minute")
	}
	moto := startMoto(t)
	out := moto.deploy(motoTemplate(t))
	for _, name := range []string{stack.OutputSourceBucket, stack.OutputThumbnailBucket, stack.OutputWorkQueueURL,
		stack.OutputDeadLetterQueueURL, stack.OutputTopicARN, stack.OutputLogGroup, stack.OutputDashboard} {
		if out[name] == "" {
			t.Fatalf("the deployed stack has no output %s: %v", name, out)
		}
	}
	source, thumbnails := out[stack.OutputSourceBucket], out[stack.OutputThumbnailBucket]

	// moto ignores the bucket's NotificationConfiguration property: turn EventBridge on by the API,
	// as the property does in AWS. The deployed rule and queue policy do the rest.
	moto.aws(nil, "s3api", "put-bucket-notification-configuration", "--bucket", source,
		"--notification-configuration", `{"EventBridgeConfiguration":{}}`)

	// A machine subscriber: a queue subscribed to the deployed topic.
	var q struct{ QueueUrl string }
	moto.aws(&q, "sqs", "create-queue", "--queue-name", "subscriber")
	var attrs struct{ Attributes map[string]string }
	moto.aws(&attrs, "sqs", "get-queue-attributes", "--queue-url", q.QueueUrl, "--attribute-names", "QueueArn")
	moto.aws(nil, "sns", "subscribe", "--topic-arn", out[stack.OutputTopicARN], "--protocol", "sqs",
		"--notification-endpoint", attrs.Attributes["QueueArn"], "--attributes", `{"RawMessageDelivery":"true"}`)

	worker := startWorker(t, moto, out)

	images := []string{"mountain-panorama.jpg", "landscape.gif", "landscape-16bit.png"}
	for _, name := range append(slices.Clone(images), "notes.txt") {
		moto.aws(nil, "s3api", "put-object", "--bucket", source, "--key", "uploads/"+name,
			"--body", filepath.Join(repoRoot, "worker", "samples", name))
	}

	// The thumbnails, under the worker's deterministic keys.
	var want []string
	for _, name := range images {
		want = append(want, fmt.Sprintf("%dx%d/uploads/%s.png", config.DefaultThumbWidth, config.DefaultThumbHeight, name))
	}
	var got []string
	waitFor(t, worker, "thumbnails", func() bool {
		var l struct{ Contents []struct{ Key string } }
		moto.aws(&l, "s3api", "list-objects-v2", "--bucket", thumbnails, "--prefix",
			fmt.Sprintf("%dx%d/", config.DefaultThumbWidth, config.DefaultThumbHeight)) // not the worker's _thumbq/ markers
		got = got[:0]
		for _, c := range l.Contents {
			got = append(got, c.Key)
		}
		slices.Sort(got)
		return len(got) >= len(want)
	})
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("thumbnail bucket holds %v; want %v", got, want)
	}

	// The non-image, in the deployed dead-letter queue with its reason.
	var dead []message
	waitFor(t, worker, "the dead letter", func() bool {
		dead = append(dead, receive(moto, out[stack.OutputDeadLetterQueueURL])...)
		return len(dead) >= 1
	})
	if len(dead) != 1 || dead[0].attr(queue.AttrReason) != string(failure.NotImage) || !strings.Contains(dead[0].Body, "uploads/notes.txt") {
		t.Errorf("dead letters: %+v; want one, for uploads/notes.txt, with %s=%s", dead, queue.AttrReason, failure.NotImage)
	}

	// One notification per upload on the subscribed queue: three thumbnails, one failure.
	var notes []message
	waitFor(t, worker, "notifications", func() bool {
		notes = append(notes, receive(moto, q.QueueUrl)...)
		return len(notes) >= len(images)+1
	})
	statuses := map[string]int{}
	for _, n := range notes {
		status := n.attr("status")
		statuses[status]++
		switch {
		case status == "ok" && !strings.Contains(n.Body, "Link:"):
			t.Errorf("notification of %s has no link: %q", n.attr("key"), n.Body)
		case status == "failed" && (n.attr("key") != "uploads/notes.txt" || n.attr("reason") != string(failure.NotImage)):
			t.Errorf("failure notification: key %q reason %q; want uploads/notes.txt, %s", n.attr("key"), n.attr("reason"), failure.NotImage)
		}
	}
	if statuses["ok"] != len(images) || statuses["failed"] != 1 || len(notes) != len(images)+1 {
		t.Errorf("notifications by status: %v (%d in all); want %d ok and 1 failed", statuses, len(notes), len(images))
	}
}

// startWorker runs `thumbq work` configured from the stack's outputs, as the task definition
// configures it from the same resources, and stops it (SIGTERM) when the test ends.
func startWorker(t *testing.T, moto *peer, out map[string]string) *workerProcess {
	bin := filepath.Join(t.TempDir(), "thumbq")
	build := exec.Command("go", "build", "-o", bin, "./worker")
	build.Dir = repoRoot
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./worker: %v\n%s", err, b)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "work")
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 40 * time.Second
	cmd.Env = append(slices.Clone(moto.env),
		config.EnvSourceBucket+"="+out[stack.OutputSourceBucket],
		config.EnvThumbnailBucket+"="+out[stack.OutputThumbnailBucket],
		config.EnvQueueURL+"="+out[stack.OutputWorkQueueURL],
		config.EnvDeadLetterURL+"="+out[stack.OutputDeadLetterQueueURL],
		config.EnvTopicARN+"="+out[stack.OutputTopicARN],
	)
	w := &workerProcess{}
	cmd.Stdout, cmd.Stderr = &w.log, &w.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		if t.Failed() {
			t.Logf("thumbq work's log:\n%s", w.log.String())
		}
	})
	return w
}

type workerProcess struct{ log syncBuffer }

func waitFor(t *testing.T, w *workerProcess, what string, done func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !done() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not there after 90 s; the worker's log:\n%s", what, w.log.String())
		}
		time.Sleep(500 * time.Millisecond)
	}
}

type message struct {
	Body              string
	MessageAttributes map[string]struct{ StringValue string }
}

func (m message) attr(name string) string { return m.MessageAttributes[name].StringValue }

func receive(p *peer, url string) []message {
	var r struct{ Messages []message }
	p.aws(&r, "sqs", "receive-message", "--queue-url", url, "--max-number-of-messages", "10",
		"--message-attribute-names", "All", "--wait-time-seconds", "1")
	return r.Messages
}
