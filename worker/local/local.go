// Package local runs the whole thumbq pipeline on one machine, against the embedded emulated AWS
// services of package emulate: uploads go to the emulated source bucket, the emulator emits the
// EventBridge event into the work queue, and the real worker (package queue and pipeline, through
// the real SDK clients) makes the thumbnails and publishes the notifications.
package local

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/thumbq/thumbq/worker/config"
	"github.com/thumbq/thumbq/worker/emulate"
	"github.com/thumbq/thumbq/worker/event"
	"github.com/thumbq/thumbq/worker/pipeline"
	"github.com/thumbq/thumbq/worker/queue"
)

// Options configure a local run.
type Options struct {
	Images string // folder whose files are uploaded (Run); subfolders become key prefixes
	Out    string // folder the thumbnails, notifications and report.json are written to
	Addr   string // emulator listen address; "" means a free port on 127.0.0.1
	// Width and Height of the box thumbnails fit in; 0 means the worker's default (64).
	Width, Height int
	// VisibilityTimeout of the work queue; 0 means 10 s (a local retry need not wait a minute).
	VisibilityTimeout time.Duration
	Timeout           time.Duration // how long Run waits for the last outcome; 0 means 2 minutes
	Stdout            io.Writer     // progress lines
	Logger            *slog.Logger  // the worker's JSON logs; nil means discard
	// Ready, when set, is called once the stack is up (Serve: tests use it to find the endpoint).
	Ready func(*emulate.Stack)
	// Stack options for tests (fault injection needs the stack before uploads): when set, Run
	// calls it after the stack starts and before anything is uploaded.
	BeforeUpload func(*emulate.Stack)
}

// Result is one entry of report.json.
type Result struct {
	Key       string `json:"key"`
	Status    string `json:"status"`
	Thumbnail string `json:"thumbnail,omitempty"`
	Width     int    `json:"width,omitempty"`
	Height    int    `json:"height,omitempty"`
	URL       string `json:"url,omitempty"`
	Error     string `json:"error,omitempty"`
}

// Report is report.json.
type Report struct {
	Results []Result `json:"results"`
}

// env is a running local pipeline: the emulated stack, the worker consuming it, and the readers
// that mirror thumbnails and notifications into the output folder.
type env struct {
	opts      Options
	stack     *emulate.Stack
	s3        *s3.Client
	sqs       *sqs.Client
	outcomes  chan pipeline.Outcome
	stopWork  context.CancelFunc
	workDone  chan struct{}
	readersWG sync.WaitGroup
	notified  atomic.Int64 // notifications written
}

func start(ctx context.Context, opts Options) (*env, error) {
	if opts.Stdout == nil {
		opts.Stdout = io.Discard
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	wc := workerConfig(opts)
	stack, err := emulate.Start(ctx, emulate.Options{Addr: opts.Addr, Prefix: "thumbq", Logger: opts.Logger, VisibilityTimeout: wc.VisibilityTimeout})
	if err != nil {
		return nil, fmt.Errorf("start the emulated AWS services: %w", err)
	}
	stack.Configure(&wc)

	e := &env{opts: opts, stack: stack, s3: stack.S3Client(), sqs: stack.SQSClient(),
		outcomes: make(chan pipeline.Outcome, 1024), workDone: make(chan struct{})}
	proc := pipeline.New(wc, e.s3, stack.SNSClient(), nil)
	c := queue.NewConsumer(wc, e.sqs, proc, opts.Logger)
	c.WaitTime = time.Second // shorter long polls so a local stop is quick
	c.RetryBase = time.Second
	c.OnOutcome = func(o pipeline.Outcome) { e.outcomes <- o }
	workCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	e.stopWork = stop
	go func() {
		defer close(e.workDone)
		if err := c.Run(workCtx); err != nil {
			opts.Logger.Error("worker stopped", "error", err)
		}
	}()
	return e, nil
}

// workerConfig is the worker's configuration for a local run: the defaults, with a shorter
// visibility timeout and grace period and the box size asked for; start adds the stack's names.
func workerConfig(opts Options) config.Config {
	c := config.Defaults()
	c.VisibilityTimeout, c.GracePeriod = 10*time.Second, 10*time.Second
	if opts.VisibilityTimeout > 0 {
		c.VisibilityTimeout = opts.VisibilityTimeout
	}
	if opts.Width > 0 {
		c.ThumbWidth = opts.Width
	}
	if opts.Height > 0 {
		c.ThumbHeight = opts.Height
	}
	return c
}

func (e *env) close() {
	e.stopWork()
	<-e.workDone
	e.readersWG.Wait()
	e.stack.Close()
}

// Run uploads every file under opts.Images, waits until each has an outcome (a thumbnail, a
// reported failure or a skip), writes the thumbnails, notifications and report.json under
// opts.Out and returns the report. The error is non-nil when some upload got no outcome.
func Run(ctx context.Context, opts Options) (Report, error) {
	files, err := listFiles(opts.Images)
	if err != nil {
		return Report{}, err
	}
	if len(files) == 0 {
		return Report{}, fmt.Errorf("no files under %s", opts.Images)
	}
	if err := os.MkdirAll(opts.Out, 0o755); err != nil {
		return Report{}, err
	}
	e, err := start(ctx, opts)
	if err != nil {
		return Report{}, err
	}
	defer e.close()
	out := opts.Stdout
	fmt.Fprintf(out, "thumbq local: emulated S3/SQS/SNS at %s; %d files from %s\n", e.stack.Endpoint, len(files), opts.Images)
	if opts.BeforeUpload != nil {
		opts.BeforeUpload(e.stack)
	}
	notifyCtx, stopNotify := context.WithCancel(ctx)
	defer stopNotify()
	e.readNotifications(notifyCtx)

	pending := map[string]bool{}
	results := map[string]Result{}
	for _, f := range files {
		if err := e.upload(ctx, f); err != nil {
			results[f.key] = Result{Key: f.key, Status: "failed", Error: "upload: " + err.Error()}
			fmt.Fprintf(out, "%-8s %s: upload: %v\n", "failed", f.key, err)
			continue
		}
		pending[f.key] = true
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	deadLetters := time.NewTicker(time.Second)
	defer deadLetters.Stop()
	start := time.Now()
	for len(pending) > 0 {
		select {
		case <-ctx.Done():
			return Report{}, ctx.Err()
		case <-deadline.C:
			for key := range pending {
				results[key] = Result{Key: key, Status: "failed", Error: fmt.Sprintf("no outcome within %s (see the worker log)", timeout)}
				fmt.Fprintf(out, "%-8s %s: no outcome within %s\n", "failed", key, timeout)
			}
			pending = nil
		case <-deadLetters.C:
			// What SQS moved to the dead-letter queue after three failed receives has no outcome
			// from the worker: find it there.
			for _, r := range e.exhausted(ctx) {
				if pending[r.Key] {
					delete(pending, r.Key)
					results[r.Key] = r
					fmt.Fprintf(out, "%-8s %s: %s\n", r.Status, r.Key, r.Error)
				}
			}
		case o := <-e.outcomes:
			key := o.Object.Key
			if !pending[key] {
				continue // a redelivery of one already reported
			}
			delete(pending, key)
			r, err := e.result(ctx, o)
			if err != nil {
				r = Result{Key: key, Status: "failed", Error: err.Error()}
			}
			results[key] = r
			switch r.Status {
			case "ok":
				fmt.Fprintf(out, "%-8s %s -> %s %dx%d\n", r.Status, r.Key, r.Thumbnail, r.Width, r.Height)
			default:
				fmt.Fprintf(out, "%-8s %s: %s\n", r.Status, r.Key, r.Error)
			}
		}
	}
	elapsed := time.Since(start)
	// Every thumbnail and every failure the worker recorded is notified: wait for the last ones.
	var want int64
	for _, r := range results {
		if r.Status == "ok" || (r.Status == "failed" && !strings.HasPrefix(r.Error, "no outcome") && !strings.HasPrefix(r.Error, "upload:") && !strings.HasPrefix(r.Error, "moved to the dead-letter")) {
			want++
		}
	}
	for wait := time.Now().Add(10 * time.Second); e.notified.Load() < want && time.Now().Before(wait); {
		time.Sleep(50 * time.Millisecond)
	}
	if got := e.notified.Load(); got < want {
		fmt.Fprintf(out, "warning: %d of %d notifications arrived\n", got, want)
	}
	stopNotify()
	e.stopWork()
	<-e.workDone
	e.readersWG.Wait()

	rep := Report{Results: make([]Result, 0, len(results))}
	counts := map[string]int{}
	for _, r := range results {
		rep.Results = append(rep.Results, r)
		counts[r.Status]++
	}
	sort.Slice(rep.Results, func(i, j int) bool { return rep.Results[i].Key < rep.Results[j].Key })
	if err := writeJSON(filepath.Join(opts.Out, "report.json"), rep); err != nil {
		return rep, err
	}
	fmt.Fprintf(out, "\n%d uploaded: %d ok, %d failed, %d skipped in %s; thumbnails, notifications and report.json in %s\n",
		len(files), counts["ok"], counts["failed"], counts["skipped"], elapsed.Round(time.Millisecond), opts.Out)
	var missing int
	for _, r := range rep.Results {
		if strings.HasPrefix(r.Error, "no outcome") {
			missing++
		}
	}
	if missing > 0 {
		return rep, fmt.Errorf("%d uploads got no outcome", missing)
	}
	return rep, nil
}

type file struct{ path, key string }

// listFiles returns the regular files under dir with the keys they are uploaded under: the path
// relative to dir, with "/" between folders.
func listFiles(dir string) ([]file, error) {
	var files []file
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		files = append(files, file{path: path, key: filepath.ToSlash(rel)})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	return files, nil
}

func (e *env) upload(ctx context.Context, f file) error {
	fh, err := os.Open(f.path)
	if err != nil {
		return err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return err
	}
	_, err = e.s3.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &e.stack.SourceBucket, Key: &f.key, Body: fh, ContentLength: ptr(st.Size()),
	})
	return err
}

// result turns an outcome into a report entry, copying an ok thumbnail from the thumbnail bucket
// to the output folder under the same key.
func (e *env) result(ctx context.Context, o pipeline.Outcome) (Result, error) {
	r := Result{Key: o.Object.Key, Status: string(o.Status), Error: o.Reason}
	if o.Status != pipeline.OK {
		return r, nil
	}
	path, err := e.mirror(ctx, o.ThumbnailKey)
	if err != nil {
		return r, err
	}
	r.Thumbnail, r.Width, r.Height, r.URL = path, o.Width, o.Height, o.URL
	return r, nil
}

// mirror copies an object of the thumbnail bucket to the output folder and returns its path there
// (slash-separated, relative to the output folder).
func (e *env) mirror(ctx context.Context, key string) (string, error) {
	obj, err := e.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: &e.stack.ThumbnailBucket, Key: &key})
	if err != nil {
		return "", fmt.Errorf("get thumbnail %s: %w", key, err)
	}
	defer obj.Body.Close()
	dst, err := safeJoin(e.opts.Out, key)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", err
	}
	f, err := os.Create(dst)
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(f, obj.Body); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return key, nil
}

// safeJoin joins a bucket key to a folder, refusing keys that would climb out of it.
func safeJoin(dir, key string) (string, error) {
	p := filepath.Join(dir, filepath.FromSlash(key))
	rel, err := filepath.Rel(dir, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("key %q would be written outside %s", key, dir)
	}
	return p, nil
}

// exhausted receives what SQS moved to the dead-letter queue by itself (after three failed
// receives; the worker's own dead letters carry a reason and were reported already) and returns a
// failed result for each object it names. The messages stay in the dead-letter queue.
func (e *env) exhausted(ctx context.Context) []Result {
	out, err := e.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl: &e.stack.DeadLetterURL, MaxNumberOfMessages: 10, VisibilityTimeout: 3600,
		MessageAttributeNames: []string{"All"},
	})
	if err != nil {
		return nil
	}
	var rs []Result
	for _, m := range out.Messages {
		if _, ok := m.MessageAttributes[queue.AttrReason]; ok {
			e.putBack(ctx, m)
			continue
		}
		objs, _ := event.Parse([]byte(*m.Body))
		for _, o := range objs {
			for _, k := range []string{o.Key, o.AltKey} {
				if k != "" {
					rs = append(rs, Result{Key: k, Status: "failed", Error: "moved to the dead-letter queue after 3 failed receives (transient errors; see the worker log)"})
				}
			}
		}
	}
	return rs
}

func (e *env) putBack(ctx context.Context, m sqstypes.Message) {
	e.sqs.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: &e.stack.DeadLetterURL, ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0})
}

// readNotifications writes every notification the topic delivers to the notification queue
// (standing in for email) to <out>/notifications/<source key>.<status>.json.
func (e *env) readNotifications(ctx context.Context) {
	e.readersWG.Add(1)
	go func() {
		defer e.readersWG.Done()
		for ctx.Err() == nil {
			out, err := e.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
				QueueUrl: &e.stack.NotificationQueueURL, MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
			})
			if err != nil {
				if ctx.Err() == nil {
					e.opts.Logger.Warn("reading notifications", "error", err)
					time.Sleep(time.Second)
				}
				continue
			}
			for _, m := range out.Messages {
				if err := e.writeNotification([]byte(*m.Body)); err != nil {
					e.opts.Logger.Warn("writing a notification", "error", err)
				}
				e.notified.Add(1)
				e.sqs.DeleteMessage(context.WithoutCancel(ctx), &sqs.DeleteMessageInput{QueueUrl: &e.stack.NotificationQueueURL, ReceiptHandle: m.ReceiptHandle})
			}
		}
	}()
}

// snsEnvelope is the JSON SNS delivers to a queue subscription.
type snsEnvelope struct {
	Subject           string `json:"Subject"`
	Message           string `json:"Message"`
	Timestamp         string `json:"Timestamp"`
	MessageAttributes map[string]struct {
		Type  string `json:"Type"`
		Value string `json:"Value"`
	} `json:"MessageAttributes"`
}

func (e *env) writeNotification(body []byte) error {
	var n snsEnvelope
	if err := json.Unmarshal(body, &n); err != nil {
		return fmt.Errorf("not an SNS notification: %w", err)
	}
	key := n.MessageAttributes["key"].Value
	status := n.MessageAttributes["status"].Value
	if key == "" || status == "" {
		return errors.New("notification without key or status attribute")
	}
	dst, err := safeJoin(filepath.Join(e.opts.Out, "notifications"), key+"."+status+".json")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	attrs := map[string]string{}
	for k, v := range n.MessageAttributes {
		attrs[k] = v.Value
	}
	return writeJSON(dst, map[string]any{
		"subject": n.Subject, "message": n.Message, "timestamp": n.Timestamp, "attributes": attrs,
	})
}

// writeJSON writes v indented, with URLs left readable ("&", not "\u0026").
func writeJSON(path string, v any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

func ptr[T any](v T) *T { return &v }
