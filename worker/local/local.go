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

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/thumbq/thumbq/worker/budget"
	"github.com/thumbq/thumbq/worker/config"
	"github.com/thumbq/thumbq/worker/emulate"
	"github.com/thumbq/thumbq/worker/event"
	"github.com/thumbq/thumbq/worker/fit"
	"github.com/thumbq/thumbq/worker/link"
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
	// Sizes, when set, are the thumbnails to make instead (THUMBQ_SIZES, see package fit).
	Sizes []fit.Box
	// VisibilityTimeout of the work queue; 0 means 10 s (a local retry need not wait a minute).
	VisibilityTimeout time.Duration
	Timeout           time.Duration // how long Run waits for the last outcome; 0 means 2 minutes
	Stdout            io.Writer     // progress lines
	Logger            *slog.Logger  // the worker's JSON logs; nil means discard
	// Workers is how many workers (consumers of the work queue, each as thumbq work runs it) run
	// in this process: 0 means 1; NoWorkers means none, for Serve, so that workers started apart
	// (thumbq work from another terminal, in a debugger, several of them) do the work.
	Workers int
	// Command is how the user runs thumbq, for the commands Serve suggests ("bin/thumbq",
	// "go run ./worker"); "" means "thumbq".
	Command string
	// Ready, when set, is called once the stack is up (Serve: tests use it to find the endpoint).
	Ready func(*emulate.Stack)
	// Stack options for tests (fault injection needs the stack before uploads): when set, Run
	// calls it after the stack starts and before anything is uploaded.
	BeforeUpload func(*emulate.Stack)
}

// NoWorkers, as Options.Workers, starts no worker in this process.
const NoWorkers = -1

// Status is what became of an upload, as report.json says it.
type Status string

const (
	OK      Status = Status(pipeline.OK)
	Failed  Status = Status(pipeline.Failed)
	Skipped Status = Status(pipeline.Skipped)
)

// Reasons local mode gives itself, beside the worker's failure codes (package failure): these
// failures never reached the worker's handler, so no notification is sent for them.
const (
	ReasonUploadFailed = "upload-failed"        // the file could not be put into the emulated bucket
	ReasonNoOutcome    = "no-outcome"           // nothing was heard of it before the timeout
	ReasonMovedBySQS   = "dead-lettered-by-sqs" // SQS moved it to the dead-letter queue itself (the worker died on its last receive)
	ReasonMirrorFailed = "mirror-failed"        // made and notified, but not copied to the output folder
)

// Result is one entry of report.json.
type Result struct {
	Key       string `json:"key"`
	Status    Status `json:"status"`
	Reason    string `json:"reason,omitempty"` // a failure code (failure.Code or a Reason* above), or why it was skipped
	Thumbnail string `json:"thumbnail,omitempty"`
	Width     int    `json:"width,omitempty"`
	Height    int    `json:"height,omitempty"`
	URL       string `json:"url,omitempty"`
	Error     string `json:"error,omitempty"` // the failure's detail for people
	// Thumbnails lists every size made (THUMBQ_SIZES); Thumbnail, Width, Height and URL above are
	// the first one's.
	Thumbnails []Size `json:"thumbnails,omitempty"`
}

// Size is one thumbnail of an upload in report.json.
type Size struct {
	Size      string `json:"size"` // as THUMBQ_SIZES writes it: "64x64", "256x256:cover"
	Thumbnail string `json:"thumbnail"`
	Width     int    `json:"width"`
	Height    int    `json:"height"`
	URL       string `json:"url"`
}

// notified reports whether the worker published a notification for this result.
func (r Result) notified() bool {
	switch {
	case r.Status == OK:
		return true
	case r.Status == Failed:
		return r.Reason != ReasonUploadFailed && r.Reason != ReasonNoOutcome && r.Reason != ReasonMovedBySQS
	}
	return false
}

func (r Result) String() string {
	switch {
	case r.Thumbnail != "":
		return fmt.Sprintf("%-8s %s -> %s %dx%d", r.Status, r.Key, r.Thumbnail, r.Width, r.Height)
	case r.Error != "":
		return fmt.Sprintf("%-8s %s: %s: %s", r.Status, r.Key, r.Reason, r.Error)
	}
	return fmt.Sprintf("%-8s %s: %s", r.Status, r.Key, r.Reason)
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
	figures   figures     // what the worker's metrics would say, for the summary
	links     *link.Local // the link endpoint the notifications' links point at, as in AWS
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
	if err := wc.Validate(); err != nil {
		stack.Close()
		return nil, err
	}

	e := &env{opts: opts, stack: stack, s3: stack.S3Client(), sqs: stack.SQSClient(),
		outcomes: make(chan pipeline.Outcome, 1024), workDone: make(chan struct{})}
	if e.links, err = link.StartLocal(link.S3Presign(s3.NewPresignClient(e.s3), wc.ThumbnailBucket)); err != nil {
		stack.Close()
		return nil, err
	}
	workers := opts.Workers
	if workers == 0 {
		workers = 1
	}
	workCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	e.stopWork = stop
	var running sync.WaitGroup
	shared := budget.New(wc.MemoryBudget)
	e.figures.budget = shared
	for i := range max(workers, 0) {
		h := &pipeline.Handler{Processor: pipeline.New(wc, e.s3, stack.SNSClient(), nil), OnOutcome: func(o pipeline.Outcome) { e.outcomes <- o }}
		h.Processor.Budget = shared // one process, one budget, whatever the number of workers
		h.Processor.Presigner = &link.Presigner{Signer: e.links.Signer}
		log := opts.Logger
		if workers > 1 {
			log = log.With("worker", i+1)
		}
		c := queue.NewConsumer(wc, e.sqs, h, log)
		running.Go(func() {
			if err := c.Run(workCtx); err != nil {
				log.Error("worker stopped", "error", err)
			}
		})
	}
	go func() {
		running.Wait()
		close(e.workDone)
	}()
	return e, nil
}

// workers reports whether workers run in this process.
func (e *env) workers() bool { return e.opts.Workers != NoWorkers }

// workerConfig is the worker's configuration for a local run: the defaults, with a shorter
// visibility timeout, grace period, long poll and retry delay (a local retry or stop need not
// wait a minute) and the box size asked for; start adds the stack's names and validates it.
func workerConfig(opts Options) config.Config {
	c := config.Defaults()
	c.VisibilityTimeout, c.GracePeriod = 10*time.Second, 10*time.Second
	c.WaitTime, c.RetryBase = time.Second, time.Second
	if opts.VisibilityTimeout > 0 {
		c.VisibilityTimeout = opts.VisibilityTimeout
	}
	if opts.Width > 0 {
		c.ThumbWidth = opts.Width
	}
	if opts.Height > 0 {
		c.ThumbHeight = opts.Height
	}
	c.Sizes = opts.Sizes
	// The memory budget thumbq work derives on a machine without a container limit (1 GiB less
	// the reserve), so local runs wait for memory as the worker does.
	c.MemoryBudget, _ = budget.Derive(0, false, c.Concurrency, c.MaxBytes)
	return c
}

func (e *env) close() {
	e.stopWork()
	<-e.workDone
	e.links.Close()
	e.readersWG.Wait()
	e.stack.Close()
}

// Run uploads every file under opts.Images, waits until each has an outcome (a thumbnail, a
// reported failure or a skip), writes the thumbnails, notifications and report.json under
// opts.Out and returns the report. The error is non-nil when some upload got no outcome.
func Run(ctx context.Context, opts Options) (Report, error) {
	if opts.Workers == NoWorkers {
		return Report{}, errors.New("a run needs a worker of its own (no workers is for serving)")
	}
	if opts.Stdout == nil {
		opts.Stdout = io.Discard
	}
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
	noun := "files"
	if len(files) == 1 {
		noun = "file"
	}
	fmt.Fprintf(out, "thumbq local: emulated S3/SQS/SNS at %s; %d %s from %s\n", e.stack.Endpoint, len(files), noun, opts.Images)
	if opts.BeforeUpload != nil {
		opts.BeforeUpload(e.stack)
	}
	notifyCtx, stopNotify := context.WithCancel(ctx)
	defer stopNotify()
	e.readNotifications(notifyCtx)

	began := time.Now() // the first upload: the worker is busy from here
	results, pending := e.uploadAll(ctx, files)
	if err := e.await(ctx, results, pending); err != nil {
		return Report{}, err
	}
	elapsed := time.Since(began)
	e.awaitNotifications(results)
	stopNotify()
	e.stopWork()
	<-e.workDone
	e.readersWG.Wait()

	rep := newReport(results)
	if err := writeJSON(filepath.Join(opts.Out, "report.json"), rep); err != nil {
		return rep, err
	}
	err = summarize(out, rep, len(files), elapsed, opts.Out)
	fmt.Fprintln(out, e.figures.String())
	return rep, err
}

// summarize prints the run's last line and returns an error when some upload got no outcome.
func summarize(out io.Writer, rep Report, files int, elapsed time.Duration, dir string) error {
	counts := map[Status]int{}
	missing := 0
	for _, r := range rep.Results {
		counts[r.Status]++
		if r.Reason == ReasonNoOutcome {
			missing++
		}
	}
	fmt.Fprintf(out, "\n%d uploaded: %d ok, %d failed, %d skipped in %s (from the first upload to the last outcome); thumbnails, notifications and report.json in %s\n",
		files, counts[OK], counts[Failed], counts[Skipped], elapsed.Round(time.Millisecond), dir)
	if missing > 0 {
		return fmt.Errorf("%d uploads got no outcome", missing)
	}
	return nil
}

// uploadAll puts every file into the source bucket. It returns the results known already (failed
// uploads) and the keys that now wait for an outcome.
func (e *env) uploadAll(ctx context.Context, files []file) (map[string]Result, map[string]bool) {
	results, pending := map[string]Result{}, map[string]bool{}
	for _, f := range files {
		if err := e.upload(ctx, f); err != nil {
			r := Result{Key: f.key, Status: Failed, Reason: ReasonUploadFailed, Error: err.Error()}
			results[f.key] = r
			fmt.Fprintln(e.opts.Stdout, r)
			continue
		}
		pending[f.key] = true
	}
	return results, pending
}

// await collects an outcome for every pending key into results: from the worker, from what SQS
// moved to the dead-letter queue by itself, or "no outcome" at the timeout.
func (e *env) await(ctx context.Context, results map[string]Result, pending map[string]bool) error {
	timeout := e.opts.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	deadLetters := time.NewTicker(time.Second)
	defer deadLetters.Stop()
	settle := func(r Result) {
		if pending[r.Key] {
			delete(pending, r.Key)
			results[r.Key] = r
			fmt.Fprintln(e.opts.Stdout, r)
		}
	}
	for len(pending) > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			for key := range pending {
				settle(Result{Key: key, Status: Failed, Reason: ReasonNoOutcome, Error: fmt.Sprintf("no outcome within %s (see the worker log)", timeout)})
			}
		case <-deadLetters.C:
			// What SQS moved to the dead-letter queue after its last receive has no outcome from the
			// worker: find it there.
			for _, r := range e.exhausted(ctx) {
				settle(r)
			}
		case o := <-e.outcomes:
			if pending[o.Object.Key] { // else a redelivery of one already reported
				e.figures.add(o, time.Now())
				settle(e.result(ctx, o))
			}
		}
	}
	return nil
}

// awaitNotifications waits (10 s at most) for the notification of every outcome the worker
// published one for.
func (e *env) awaitNotifications(results map[string]Result) {
	var want int64
	for _, r := range results {
		if r.notified() {
			want++
		}
	}
	for wait := time.Now().Add(10 * time.Second); e.notified.Load() < want && time.Now().Before(wait); {
		time.Sleep(50 * time.Millisecond)
	}
	if got := e.notified.Load(); got < want {
		fmt.Fprintf(e.opts.Stdout, "warning: %d of %d notifications arrived\n", got, want)
	}
}

func newReport(results map[string]Result) Report {
	rep := Report{Results: make([]Result, 0, len(results))}
	for _, r := range results {
		rep.Results = append(rep.Results, r)
	}
	sort.Slice(rep.Results, func(i, j int) bool { return rep.Results[i].Key < rep.Results[j].Key })
	return rep
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
		Bucket: &e.stack.SourceBucket, Key: &f.key, Body: fh, ContentLength: aws.Int64(st.Size()),
	})
	return err
}

// result turns an outcome into a report entry, copying an ok thumbnail from the thumbnail bucket
// to the output folder under the same key (with no output folder, the entry names it in the
// bucket).
func (e *env) result(ctx context.Context, o pipeline.Outcome) Result {
	r := Result{Key: o.Object.Key, Status: Status(o.Status), Reason: o.Reason}
	if o.Redelivery {
		// The worker acknowledged a message for an upload it had finished (thumbnails made and
		// notified): nothing was made now, so there is nothing to show.
		r.Status, r.Reason = Skipped, "a redelivery of an upload already finished and notified ("+o.Reason+")"
		return r
	}
	if o.Err != nil {
		r.Reason, r.Error = string(o.Err.Code), o.Err.Detail()
	}
	if o.Status != pipeline.OK {
		return r
	}
	for _, t := range o.Thumbnails {
		path := "s3://" + e.stack.ThumbnailBucket + "/" + t.Key
		if e.opts.Out != "" {
			var err error
			if path, err = e.mirror(ctx, t.Key); err != nil {
				return Result{Key: r.Key, Status: Failed, Reason: ReasonMirrorFailed, Error: err.Error()}
			}
		}
		r.Thumbnails = append(r.Thumbnails, Size{Size: t.Size, Thumbnail: path, Width: t.Width, Height: t.Height, URL: t.URL})
	}
	if len(r.Thumbnails) > 0 {
		first := r.Thumbnails[0]
		r.Thumbnail, r.Width, r.Height, r.URL = first.Thumbnail, first.Width, first.Height, first.URL
	}
	return r
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
					rs = append(rs, Result{Key: k, Status: Failed, Reason: ReasonMovedBySQS,
						Error: fmt.Sprintf("SQS moved it to the dead-letter queue after %d receives without an outcome (see the worker log)", config.QueueMaxReceiveCount)})
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
				if !e.workers() {
					// The workers are elsewhere: their notifications are all Serve hears of them.
					fmt.Fprintln(e.opts.Stdout, notificationLine([]byte(*m.Body)))
				}
				if e.opts.Out != "" {
					if err := e.writeNotification([]byte(*m.Body)); err != nil {
						e.opts.Logger.Warn("writing a notification", "error", err)
					}
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

// notificationLine is the progress line of a notification, as a result's line reads.
func notificationLine(body []byte) string {
	var n snsEnvelope
	if err := json.Unmarshal(body, &n); err != nil {
		return fmt.Sprintf("%-8s a notification that is not SNS's: %v", "?", err)
	}
	a := func(k string) string { return n.MessageAttributes[k].Value }
	switch {
	case a("reason") != "":
		return fmt.Sprintf("%-8s %s: %s: %s", a("status"), a("key"), a("reason"), a("detail"))
	default:
		return fmt.Sprintf("%-8s %s: %s", a("status"), a("key"), n.Subject)
	}
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
