package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"math/rand"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/thumbq/thumbq/worker/config"
	"github.com/thumbq/thumbq/worker/emulate"
	"github.com/thumbq/thumbq/worker/event"
	"github.com/thumbq/thumbq/worker/queue"
)

// report is what a run found.
type report struct {
	Uploads, Bad           int
	Requests               int64
	Faults                 map[string]int64
	Kills, Terms, Restarts int
	Lost                   []string // uploads with no outcome anywhere
	StuckInvisible         int
	DeadLetters            int // distinct uploads in the dead-letter queue
	DeadLetterCopies       int // dead letters beyond one per upload (dead-lettered, then killed before the delete)
	PublishesLost          int64
	DeadLettersNoReason    int
	SuccessesDeadLettered  []string
	DuplicateNotifications int // notifications beyond one per upload, told apart by notification-id and status
	RepeatedDeliveries     int // the same notification (same notification-id) delivered again
	DuplicateThumbnails    int
	Notified               int
	PeakRSSMiB             []int // per worker slot, the largest VmHWM of any of its processes
	Took                   time.Duration
}

// verdict is the run's pass or fail: what must never happen.
func (r report) verdict() error {
	var bad []string
	if len(r.Lost) > 0 {
		bad = append(bad, fmt.Sprintf("%d lost %q", len(r.Lost), r.Lost))
	}
	if r.StuckInvisible > 0 {
		bad = append(bad, fmt.Sprintf("%d stuck invisible", r.StuckInvisible))
	}
	if r.DeadLettersNoReason > 0 {
		bad = append(bad, fmt.Sprintf("%d dead letters without a reason", r.DeadLettersNoReason))
	}
	if len(r.SuccessesDeadLettered) > 0 {
		bad = append(bad, fmt.Sprintf("%d successes dead-lettered %q", len(r.SuccessesDeadLettered), r.SuccessesDeadLettered))
	}
	if r.DuplicateNotifications > 0 {
		bad = append(bad, fmt.Sprintf("%d duplicate notifications", r.DuplicateNotifications))
	}

	if len(bad) > 0 {
		return fmt.Errorf("%s", strings.Join(bad, "; "))
	}
	return nil
}

func (r report) print(w io.Writer) {
	kinds := make([]string, 0, len(r.Faults))
	var total int64
	for k, n := range r.Faults {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
		total += n
	}
	sort.Strings(kinds)
	fmt.Fprintf(w, "\nchaos: %d uploads (%d not images) in %s\n", r.Uploads, r.Bad, r.Took.Round(time.Second))
	fmt.Fprintf(w, "  worker requests            %d, faults injected %d (%s)\n", r.Requests, total, strings.Join(kinds, ", "))
	fmt.Fprintf(w, "  SIGKILLs / SIGTERMs        %d / %d (%d worker starts after the first)\n", r.Kills, r.Terms, r.Restarts)
	fmt.Fprintf(w, "  lost                       %d\n", len(r.Lost))
	fmt.Fprintf(w, "  stuck invisible            %d\n", r.StuckInvisible)
	fmt.Fprintf(w, "  dead letters               %d uploads, %d extra copies (without a reason: %d; successes among them: %d)\n", r.DeadLetters, r.DeadLetterCopies, r.DeadLettersNoReason, len(r.SuccessesDeadLettered))
	fmt.Fprintf(w, "  notified uploads           %d, duplicate notifications %d\n", r.Notified, r.DuplicateNotifications)
	fmt.Fprintf(w, "  repeated deliveries        %d of the same notification-id (SNS Publish answers lost: %d)\n", r.RepeatedDeliveries, r.PublishesLost)
	fmt.Fprintf(w, "  duplicate thumbnail writes %d (idempotent: the same key and bytes)\n", r.DuplicateThumbnails)
	fmt.Fprintf(w, "  peak RSS per worker (MiB)  %v\n", r.PeakRSSMiB)
}

// run does one chaos run and returns its report; the error is about the harness, not the findings.
// A temporary log folder is removed after a run whose verdict is clean, and kept (and named) after
// one that found something or failed, so that its workers' logs can be read.
func run(ctx context.Context, o options, out io.Writer) (r report, err error) {
	began := time.Now()
	if o.dir == "" {
		d, err := os.MkdirTemp("", "thumbq-chaos")
		if err != nil {
			return report{}, err
		}
		defer func() {
			if err == nil && r.verdict() == nil {
				os.RemoveAll(d)
				return
			}
			fmt.Fprintf(out, "chaos: the workers' logs are kept in %s\n", d)
		}()
		o.dir = d
	} else if err := os.MkdirAll(o.dir, 0o755); err != nil {
		return report{}, err
	}
	if o.binary == "" {
		o.binary = filepath.Join(o.dir, "thumbq")
		if b, err := exec.Command("go", "build", "-o", o.binary, "github.com/thumbq/thumbq/worker").CombinedOutput(); err != nil {
			return report{}, fmt.Errorf("build thumbq: %v\n%s", err, b)
		}
	}
	stack, err := emulate.Start(ctx, emulate.Options{Prefix: fmt.Sprintf("chaos%d", o.seed%1000), VisibilityTimeout: o.visibility})
	if err != nil {
		return report{}, err
	}
	defer stack.Close()
	px, addr, stopProxy, err := serveProxy(stack, o)
	if err != nil {
		return report{}, err
	}
	defer stopProxy()
	sup := newSupervisor(o, workerEnv(stack, addr, o))
	sup.start(ctx)
	keys, bad, err := upload(ctx, stack, o.uploads)
	if err != nil {
		sup.stop()
		return report{}, err
	}
	fmt.Fprintf(out, "chaos: %d uploads, %d workers behind %.0f%% faults, %d SIGKILLs and %d SIGTERMs to come (seed %d); logs in %s\n",
		len(keys), o.workers, o.faults*100, o.kills, o.terms, o.seed, o.dir)
	notes := watch(ctx, stack, sup, o, keys)

	r = report{Uploads: len(keys), Bad: bad, Requests: px.requests.Load(), Faults: map[string]int64{},
		Kills: sup.kills, Terms: sup.terms, Restarts: sup.restarts, PeakRSSMiB: sup.peaks(),
		DuplicateThumbnails: px.duplicateThumbnails(), PublishesLost: px.publishesLost.Load()}
	for f := fault(1); f < faultKinds; f++ {
		r.Faults[faultNames[f]] = px.injected[f].Load()
	}
	if err := r.account(ctx, stack, keys, notes); err != nil {
		return r, err
	}
	r.Took = time.Since(began)
	r.print(out)
	return r, nil
}

// serveProxy starts the fault proxy in front of the stack; the workers talk to addr.
func serveProxy(stack *emulate.Stack, o options) (*proxy, string, func(), error) {
	px, err := newProxy(stack.Endpoint, o.faults, o.maxDelay, o.seed, stack.ThumbnailBucket)
	if err != nil {
		return nil, "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", nil, err
	}
	srv := &http.Server{Handler: px}
	go srv.Serve(ln)
	return px, ln.Addr().String(), func() { srv.Close() }, nil
}

// workerEnv is a worker's environment: the stack's names, with its AWS endpoint behind the proxy.
func workerEnv(stack *emulate.Stack, proxyAddr string, o options) []string {
	env := os.Environ()
	for k, v := range stack.Env() {
		env = append(env, k+"="+v)
	}
	return append(env, "AWS_ENDPOINT_URL=http://"+proxyAddr, config.EnvVisibilityTimeout+"="+o.visibility.String(),
		config.EnvConcurrency+"=2", config.EnvLogLevel+"=info")
}

// watch sends the signals and waits until every upload has a notification or a dead letter (or
// the timeout), then stops the workers, waits out the visibility timeout of what a killed worker
// held (anything still invisible after it is stuck) and returns every notification delivered.
func watch(ctx context.Context, stack *emulate.Stack, sup *supervisor, o options, keys []string) *notifications {
	notes := newNotifications()
	readCtx, stopReading := context.WithCancel(ctx)
	readDone := make(chan struct{})
	go func() { defer close(readDone); notes.read(readCtx, stack.SQSClient(), stack.NotificationQueueURL) }()
	signalsDone := make(chan struct{})
	go func() { defer close(signalsDone); sup.signals(ctx, o) }()
	for deadline := time.Now().Add(o.timeout); !notes.all(keys) && time.Now().Before(deadline) && ctx.Err() == nil; {
		if dl := deadLetterKeys(ctx, stack, false); len(dl)+notes.count() >= len(keys) && notes.allOrDead(keys, dl) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	sup.halt()
	<-signalsDone
	sup.stop()
	time.Sleep(o.visibility + 2*time.Second)
	stopReading()
	<-readDone
	notes.drain(ctx, stack.SQSClient(), stack.NotificationQueueURL)
	return notes
}

// upload puts n objects into the source bucket, directly (no faults on the user's side): JPEGs of a
// few sizes and, every tenth, a text file that must end as a not-an-image failure.
func upload(ctx context.Context, stack *emulate.Stack, n int) (keys []string, bad int, err error) {
	s3c := stack.S3Client()
	photos := make([][]byte, 3)
	for i := range photos {
		img := image.NewRGBA(image.Rect(0, 0, 320+i*400, 240+i*300))
		for p := range img.Pix {
			img.Pix[p] = uint8(p*7 + i)
		}
		img.Set(0, 0, color.RGBA{255, 0, 0, 255})
		var b bytes.Buffer
		jpeg.Encode(&b, img, nil)
		photos[i] = b.Bytes()
	}
	for i := range n {
		key, body := fmt.Sprintf("chaos/%04d.jpg", i), photos[i%len(photos)]
		if i%10 == 9 {
			key, body = fmt.Sprintf("chaos/%04d.txt", i), []byte("not an image "+strconv.Itoa(i)+"\n")
			bad++
		}
		if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: &stack.SourceBucket, Key: &key, Body: bytes.NewReader(body)}); err != nil {
			return nil, 0, fmt.Errorf("upload %s: %w", key, err)
		}
		keys = append(keys, key)
	}
	return keys, bad, nil
}

// account fills the report's findings from the queues and the notifications.
func (r *report) account(ctx context.Context, stack *emulate.Stack, keys []string, notes *notifications) error {
	sqsc := stack.SQSClient()
	attrs, err := sqsc.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &stack.QueueURL,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll}})
	if err != nil {
		return err
	}
	r.StuckInvisible, _ = strconv.Atoi(attrs.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible)])
	waiting, _ := strconv.Atoi(attrs.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)])
	dead := deadLetterKeys(ctx, stack, true)
	seen := map[string]bool{}
	for _, d := range dead {
		if seen[d.key] {
			r.DeadLetterCopies++
			continue
		}
		seen[d.key] = true
		r.DeadLetters++
		if !d.reason {
			r.DeadLettersNoReason++
		}
		if notes.status(d.key)["ok"] > 0 {
			r.SuccessesDeadLettered = append(r.SuccessesDeadLettered, d.key)
		}
	}
	inDLQ := map[string]bool{}
	for _, d := range dead {
		inDLQ[d.key] = true
	}
	for _, k := range keys {
		st := notes.status(k)
		total := 0
		for _, n := range st {
			total += n
		}
		distinct := len(notes.ids(k))
		if total > 0 {
			r.Notified++
			r.DuplicateNotifications += max(distinct, len(st)) - 1
			r.RepeatedDeliveries += total - max(distinct, len(st))
		}
		if total == 0 && !inDLQ[k] && waiting == 0 {
			r.Lost = append(r.Lost, k)
		}
	}
	return nil
}

type deadLetter struct {
	key    string
	reason bool
}

// deadLetterKeys lists the dead-letter queue's messages (they are made visible again at once, so
// the listing can be repeated; final drains them for the report).
func deadLetterKeys(ctx context.Context, stack *emulate.Stack, final bool) []deadLetter {
	sqsc := stack.SQSClient()
	var out []deadLetter
	var handles []*string
	for {
		got, err := sqsc.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &stack.DeadLetterURL,
			MaxNumberOfMessages: 10, VisibilityTimeout: 30, MessageAttributeNames: []string{"All"}})
		if err != nil || len(got.Messages) == 0 {
			break
		}
		for _, m := range got.Messages {
			objs, _ := event.Parse([]byte(aws.ToString(m.Body)))
			_, hasReason := m.MessageAttributes[queue.AttrReason]
			for _, o := range objs {
				out = append(out, deadLetter{key: o.Key, reason: hasReason})
			}
			handles = append(handles, m.ReceiptHandle)
		}
	}
	if !final {
		for _, h := range handles {
			sqsc.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: &stack.DeadLetterURL, ReceiptHandle: h, VisibilityTimeout: 0})
		}
	}
	return out
}

// notifications counts what the topic delivered to the stack's notification queue, per key and
// status.
type notifications struct {
	mu    sync.Mutex
	got   map[string]map[string]int  // key -> status -> deliveries
	idsOf map[string]map[string]bool // key -> notification-ids seen
}

func newNotifications() *notifications {
	return &notifications{got: map[string]map[string]int{}, idsOf: map[string]map[string]bool{}}
}

func (n *notifications) ids(key string) map[string]bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.idsOf[key]
}

func (n *notifications) read(ctx context.Context, sqsc *sqs.Client, url string) {
	for ctx.Err() == nil {
		n.receive(ctx, sqsc, url, 1)
	}
}

func (n *notifications) drain(ctx context.Context, sqsc *sqs.Client, url string) {
	for n.receive(ctx, sqsc, url, 0) > 0 {
	}
}

func (n *notifications) receive(ctx context.Context, sqsc *sqs.Client, url string, wait int32) int {
	got, err := sqsc.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &url, MaxNumberOfMessages: 10, WaitTimeSeconds: wait})
	if err != nil {
		return 0
	}
	for _, m := range got.Messages {
		var env struct {
			MessageAttributes map[string]struct{ Value string } `json:"MessageAttributes"`
		}
		json.Unmarshal([]byte(aws.ToString(m.Body)), &env)
		key, status := env.MessageAttributes["key"].Value, env.MessageAttributes["status"].Value
		n.mu.Lock()
		if n.got[key] == nil {
			n.got[key], n.idsOf[key] = map[string]int{}, map[string]bool{}
		}
		n.got[key][status]++
		n.idsOf[key][env.MessageAttributes["notification-id"].Value] = true
		n.mu.Unlock()
		sqsc.DeleteMessage(context.WithoutCancel(ctx), &sqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: m.ReceiptHandle})
	}
	return len(got.Messages)
}

func (n *notifications) status(key string) map[string]int {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := map[string]int{}
	for k, v := range n.got[key] {
		out[k] = v
	}
	return out
}

func (n *notifications) count() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.got)
}

func (n *notifications) all(keys []string) bool { return n.allOrDead(keys, nil) }

func (n *notifications) allOrDead(keys []string, dead []deadLetter) bool {
	inDLQ := map[string]bool{}
	for _, d := range dead {
		inDLQ[d.key] = true
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, k := range keys {
		if len(n.got[k]) == 0 && !inDLQ[k] {
			return false
		}
	}
	return true
}

// supervisor keeps o.workers `thumbq work` processes running, restarting each that exits (as ECS
// starts a new task), sends the seeded SIGKILLs and SIGTERMs, and samples each one's peak memory.
type supervisor struct {
	o   options
	env []string
	rng *rand.Rand

	mu       sync.Mutex
	procs    []*exec.Cmd
	peak     []int
	halted   bool
	kills    int
	terms    int
	restarts int
	wg       sync.WaitGroup
}

func newSupervisor(o options, env []string) *supervisor {
	return &supervisor{o: o, env: env, rng: rand.New(rand.NewSource(o.seed + 1)), procs: make([]*exec.Cmd, o.workers), peak: make([]int, o.workers)}
}

func (s *supervisor) start(ctx context.Context) {
	for i := range s.o.workers {
		s.wg.Add(1)
		go s.keep(ctx, i)
	}
}

// keep runs worker slot i until halted, restarting it whenever it exits.
func (s *supervisor) keep(ctx context.Context, i int) {
	defer s.wg.Done()
	logf, _ := os.OpenFile(filepath.Join(s.o.dir, fmt.Sprintf("worker-%d.log", i)), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	defer logf.Close()
	for first := true; ; first = false {
		s.mu.Lock()
		if s.halted || ctx.Err() != nil {
			s.mu.Unlock()
			return
		}
		cmd := exec.Command(s.o.binary, "work")
		cmd.Env = s.env
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			s.mu.Unlock()
			return
		}
		s.procs[i] = cmd
		if !first {
			s.restarts++
		}
		s.mu.Unlock()
		done := make(chan struct{})
		go s.sample(i, cmd.Process.Pid, done)
		cmd.Wait()
		close(done)
		time.Sleep(200 * time.Millisecond) // ECS takes longer; enough to let messages be handed over
	}
}

// sample records the process's peak resident set (VmHWM) until done.
func (s *supervisor) sample(i, pid int, done chan struct{}) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
					kb, _ := strconv.Atoi(f[1])
					s.mu.Lock()
					s.peak[i] = max(s.peak[i], kb/1024)
					s.mu.Unlock()
				}
			}
		}
		select {
		case <-done:
			return
		case <-t.C:
		}
	}
}

// signals sends the SIGKILLs and SIGTERMs, one every 150-600 ms, to random live workers.
func (s *supervisor) signals(ctx context.Context, o options) {
	for kills, terms := o.kills, o.terms; kills+terms > 0 && ctx.Err() == nil; {
		time.Sleep(time.Duration(150+s.rng.Intn(450)) * time.Millisecond)
		s.mu.Lock()
		if s.halted {
			s.mu.Unlock()
			return
		}
		p := s.procs[s.rng.Intn(len(s.procs))]
		kill := terms == 0 || (kills > 0 && s.rng.Intn(kills+terms) < kills)
		if p != nil && p.Process != nil && p.ProcessState == nil {
			if kill {
				p.Process.Signal(syscall.SIGKILL)
				kills--
				s.kills++
			} else {
				p.Process.Signal(syscall.SIGTERM)
				terms--
				s.terms++
			}
		}
		s.mu.Unlock()
	}
}

// halt stops the signals and the restarts.
func (s *supervisor) halt() {
	s.mu.Lock()
	s.halted = true
	s.mu.Unlock()
}

// stop SIGTERMs every worker and waits for them.
func (s *supervisor) stop() {
	s.halt()
	s.mu.Lock()
	for _, p := range s.procs {
		if p != nil && p.Process != nil {
			p.Process.Signal(syscall.SIGTERM)
		}
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *supervisor) peaks() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.peak...)
}
