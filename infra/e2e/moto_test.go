package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
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
	"github.com/thumbq/thumbq/worker/digest"
	"github.com/thumbq/thumbq/worker/failure"
	"github.com/thumbq/thumbq/worker/link"
	"github.com/thumbq/thumbq/worker/metrics"
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
//     their Lambda functions, and nothing in the tested path uses the default security group;
//   - AWS::Lambda::Url: moto does not model function URLs. The test runs the function's command
//     (`thumbq link`, with the function's environment) itself and puts its address where the
//     template refers to the URL (the worker's THUMBQ_LINK_URL, the output);
//   - AWS::SecretsManager::Secret: moto creates it but its Ref is null, so every policy naming it
//     is refused. The test creates the secret by the API with the template's generation settings
//     and puts its ARN where the template refers to it.
var dropped = map[string]string{
	"AWS::Lambda::Url":             "moto does not model function URLs: the test serves the function's command itself",
	"AWS::SecretsManager::Secret":  "moto's Ref of a secret is null: the test creates it by the API",
	"AWS::EC2::FlowLog":            "moto crashes on it",
	"AWS::S3::BucketPolicy":        "moto does not support it",
	"Custom::VpcRestrictDefaultSG": "a custom resource: moto hangs on its Lambda",
}

// motoTemplate is the prod template as moto can deploy it: without the resources of dropped (and
// the custom-resource provider behind Custom::VpcRestrictDefaultSG), and without CDK's check of
// the bootstrap version (an SSM parameter of a bootstrapped account).
func motoTemplate(t *testing.T, linkURL string, createSecret func(generate map[string]any) (arn string)) []byte {
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
		// The digest's schedule: moto runs no schedules, and hands every S3 event to a rule without
		// a pattern, whose Lambda target it cannot run (the upload events never reach the queue).
		if props, _ := r.(map[string]any)["Properties"].(map[string]any); typ == "AWS::Events::Rule" && props["ScheduleExpression"] != nil {
			gone[id] = true
		}
	}
	// ... and the permission it would invoke the function with.
	for id, r := range resources {
		r := r.(map[string]any)
		if r["Type"] != "AWS::Lambda::Permission" {
			continue
		}
		src, _ := r["Properties"].(map[string]any)["SourceArn"].(map[string]any)
		if ga, ok := src["Fn::GetAtt"].([]any); ok && gone[fmt.Sprint(ga[0])] {
			gone[id] = true
		}
	}
	if len(gone) < 4 {
		t.Fatalf("dropped %d resources; want the flow log, the bucket policies and the custom resource at least", len(gone))
	}
	literal := map[string]string{} // "<id> FunctionUrl" or "<id> Ref" -> its value
	for id := range gone {
		r := resources[id].(map[string]any)
		switch r["Type"] {
		case "AWS::Lambda::Url":
			literal[id+" FunctionUrl"] = linkURL
		case "AWS::SecretsManager::Secret":
			gen, _ := r["Properties"].(map[string]any)["GenerateSecretString"].(map[string]any)
			literal[id+" Ref"] = createSecret(gen)
		}
		delete(resources, id)
	}
	if len(literal) != 2 {
		t.Fatalf("replaced %v; want the link endpoint's URL and secret", literal)
	}
	tpl["Resources"] = replaceRefs(resources, literal)
	tpl["Outputs"] = replaceRefs(tpl["Outputs"], literal)
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

// replaceRefs puts the literal values in place of the Refs and GetAtts they stand for.
func replaceRefs(v any, literal map[string]string) any {
	switch v := v.(type) {
	case map[string]any:
		if ga, ok := v["Fn::GetAtt"].([]any); ok && len(ga) == 2 {
			if s, ok := literal[fmt.Sprint(ga[0])+" "+fmt.Sprint(ga[1])]; ok {
				return s
			}
		}
		if r, ok := v["Ref"].(string); ok {
			if s, ok := literal[r+" Ref"]; ok {
				return s
			}
		}
		for k, x := range v {
			v[k] = replaceRefs(x, literal)
		}
	case []any:
		for i, x := range v {
			v[i] = replaceRefs(x, literal)
		}
	}
	return v
}

// freePort is a TCP port nothing listens on now.
func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
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
	port := freePort(t)
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
	linkAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	out := moto.deploy(motoTemplate(t, "http://"+linkAddr+"/", func(gen map[string]any) string {
		length, _ := gen["PasswordLength"].(float64)
		args := []string{"secretsmanager", "get-random-password", "--password-length", fmt.Sprint(int(length))}
		if gen["ExcludePunctuation"] == true {
			args = append(args, "--exclude-punctuation")
		}
		var pw struct{ RandomPassword string }
		moto.aws(&pw, args...)
		var sec struct{ ARN string }
		moto.aws(&sec, "secretsmanager", "create-secret", "--name", "thumbq-link", "--secret-string", pw.RandomPassword)
		return sec.ARN
	}))
	for _, name := range []string{stack.OutputSourceBucket, stack.OutputThumbnailBucket, stack.OutputWorkQueueURL,
		stack.OutputDeadLetterQueueURL, stack.OutputTopicARN, stack.OutputLogGroup, stack.OutputDashboard,
		stack.OutputLinkEndpoint, stack.OutputLinkSecretARN} {
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

	bin := buildWorker(t)
	// The link endpoint: the function's command with the function's environment (the secret read
	// from the deployed Secrets Manager secret by its ARN, as in Lambda).
	startProcess(t, moto, bin, []string{"link", "-addr", linkAddr},
		config.EnvThumbnailBucket+"="+out[stack.OutputThumbnailBucket], link.EnvSecretARN+"="+out[stack.OutputLinkSecretARN])
	// The worker, with the container's environment: the names from the outputs, the link
	// secret as ECS injects it from the same secret.
	var sv struct{ SecretString string }
	moto.aws(&sv, "secretsmanager", "get-secret-value", "--secret-id", out[stack.OutputLinkSecretARN])
	worker := startProcess(t, moto, bin, []string{"work"},
		config.EnvSourceBucket+"="+out[stack.OutputSourceBucket],
		config.EnvThumbnailBucket+"="+out[stack.OutputThumbnailBucket],
		config.EnvQueueURL+"="+out[stack.OutputWorkQueueURL],
		config.EnvDeadLetterURL+"="+out[stack.OutputDeadLetterQueueURL],
		config.EnvTopicARN+"="+out[stack.OutputTopicARN],
		link.EnvBaseURL+"="+out[stack.OutputLinkEndpoint],
		link.EnvSecret+"="+sv.SecretString,
		metrics.EnvStack+"="+stackName,
		digest.EnvQueueURL+"="+out[stack.OutputDigestQueueURL],
	)

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
		case status == "ok":
			followLink(t, n, out[stack.OutputLinkEndpoint])
		case status == "failed" && (n.attr("key") != "uploads/notes.txt" || n.attr("reason") != string(failure.NotImage)):
			t.Errorf("failure notification: key %q reason %q; want uploads/notes.txt, %s", n.attr("key"), n.attr("reason"), failure.NotImage)
		}
	}
	if statuses["ok"] != len(images) || statuses["failed"] != 1 || len(notes) != len(images)+1 {
		t.Errorf("notifications by status: %v (%d in all); want %d ok and 1 failed", statuses, len(notes), len(images))
	}

	// The email digest: the digest function's command, run once as its schedule would, publishes
	// one message listing every upload to the deployed digest topic.
	var dq struct{ QueueUrl string }
	moto.aws(&dq, "sqs", "create-queue", "--queue-name", "digest-subscriber")
	moto.aws(&attrs, "sqs", "get-queue-attributes", "--queue-url", dq.QueueUrl, "--attribute-names", "QueueArn")
	moto.aws(nil, "sns", "subscribe", "--topic-arn", out[stack.OutputDigestTopicARN], "--protocol", "sqs",
		"--notification-endpoint", attrs.Attributes["QueueArn"], "--attributes", `{"RawMessageDelivery":"true"}`)
	run := exec.Command(bin, "digest")
	run.Env = append(slices.Clone(moto.env), digest.EnvQueueURL+"="+out[stack.OutputDigestQueueURL], digest.EnvTopicARN+"="+out[stack.OutputDigestTopicARN])
	if b, err := run.CombinedOutput(); err != nil {
		t.Fatalf("thumbq digest: %v\n%s", err, b)
	}
	var digests []message
	waitFor(t, worker, "the digest", func() bool {
		digests = append(digests, receive(moto, dq.QueueUrl)...)
		return len(digests) >= 1
	})
	for _, name := range append(slices.Clone(images), "notes.txt") {
		if len(digests) != 1 || !strings.Contains(digests[0].Body, "uploads/"+name) {
			t.Errorf("digests %v; want one listing uploads/%s", digests, name)
		}
	}

	// The worker's own metrics, as EMF lines on its log (CloudWatch Logs extracts them in AWS).
	emf := map[string]int{}
	for _, line := range strings.Split(worker.log.String(), "\n") {
		var l struct {
			AWS           *struct{ CloudWatchMetrics []struct{ Namespace string } } `json:"_aws"`
			Stack, Reason string
			Processed     int
			Failed        int
		}
		if json.Unmarshal([]byte(line), &l) != nil || l.AWS == nil || l.AWS.CloudWatchMetrics[0].Namespace != metrics.Namespace || l.Stack != stackName {
			continue
		}
		emf["processed"] += l.Processed
		if l.Failed > 0 {
			emf["failed "+l.Reason] += l.Failed
		}
	}
	if emf["processed"] != len(images) || emf["failed "+string(failure.NotImage)] != 1 {
		t.Errorf("EMF metrics on the worker's log: %v; want %d processed, 1 failed not-an-image", emf, len(images))
	}
}

func buildWorker(t *testing.T) string {
	bin := filepath.Join(t.TempDir(), "thumbq")
	build := exec.Command("go", "build", "-o", bin, "./worker")
	build.Dir = repoRoot
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./worker: %v\n%s", err, b)
	}
	return bin
}

// startProcess runs a thumbq command against moto and stops it (SIGTERM) when the test ends.
func startProcess(t *testing.T, moto *peer, bin string, args []string, env ...string) *workerProcess {
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 40 * time.Second
	cmd.Env = append(slices.Clone(moto.env), env...)
	w := &workerProcess{}
	cmd.Stdout, cmd.Stderr = &w.log, &w.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		if t.Failed() {
			t.Logf("thumbq %s's log:\n%s", args[0], w.log.String())
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

// followLink opens the link of a notification as a mail reader would: it points at the link
// endpoint, which redirects to the thumbnail, a PNG.
func followLink(t *testing.T, n message, endpoint string) {
	t.Helper()
	_, rest, ok := strings.Cut(n.Body, "Link:")
	u := strings.TrimSpace(strings.SplitN(rest, "\n", 2)[0])
	if !ok || !strings.HasPrefix(u, endpoint+"t/") {
		t.Errorf("notification of %s: link %q; want one of the link endpoint %s", n.attr("key"), u, endpoint)
		return
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Errorf("link %s: %v", u, err)
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !bytes.HasPrefix(b, []byte("\x89PNG")) {
		t.Errorf("link %s: %d, %d bytes; want 200 and a PNG", u, resp.StatusCode, len(b))
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
