// Package emulate runs the AWS services the pipeline uses in-process, so that the worker can run on
// a laptop and in tests without an AWS account: S3 (gofakes3, in memory), SQS and SNS (goaws),
// all behind one plain-HTTP endpoint, with the resources the CDK stack creates and a stand-in for
// its EventBridge rule.
//
// # What a stack is
//
// Start creates one stack: a listener (the Endpoint), the source and thumbnail buckets, the work
// queue with its dead-letter queue (a message moves there after MaxReceiveCount receives), the
// topic and a notification queue subscribed to it. Every name starts with Options.Prefix.
//
// goaws keeps its queues and topics in package globals, so all stacks of a process share one goaws
// and one S3 backend: the first Start starts them, every Start adds a listener and its own set of
// resources, and the Close of the last open stack stops them (a later Start begins afresh). Each
// stack's endpoint serves every stack's resources; two open stacks may not use the same Prefix.
//
// # The EventBridge rule
//
// Every successful write to a stack's source bucket (PutObject, CopyObject,
// CompleteMultipartUpload, browser POST upload) puts on the work queue the "Object Created" event
// the rule would deliver, with size and ETag read from the stored object. The message is on the
// queue before the S3 response reaches the client. Writes to other buckets send nothing.
//
// # Differences from AWS
//
// goaws and gofakes3 are emulators; this package corrects what the pipeline depends on and leaves
// the rest. Corrected here, for the SQS JSON protocol that the SDK and the AWS CLI speak:
//   - visibility timeouts expire: goaws's periodic task runs every TickInterval;
//   - ReceiveMessage long-polls without holding up stack creation, reports ApproximateReceiveCount
//     and SentTimestamp (goaws reports 1 and the receive time), and returns only the attributes
//     and message attributes asked for (goaws returns all);
//   - GetQueueAttributes counts only visible messages in ApproximateNumberOfMessages (goaws counts
//     in-flight ones too), adds ApproximateNumberOfMessagesDelayed, writes RedrivePolicy as SQS
//     does ({"deadLetterTargetArn":...,"maxReceiveCount":3}), returns only the names asked for,
//     and answers InvalidAttributeName and NonExistentQueue where SQS does;
//   - ChangeMessageVisibilityBatch exists (goaws has none); other actions goaws lacks answer
//     UnsupportedOperation;
//   - CreateQueue gives new queues URLs on the endpoint (goaws's host is "<region>.<host>");
//   - S3 answers "Expect: 100-continue" with the interim 100 Continue for an empty body too (Go's
//     server sends one only when the body is read; without it the AWS CLI misread the next response
//     on the connection, and aws s3 sync of a folder holding an empty file stalled for 60 s and
//     uploaded the next file twice), and writes user metadata header names in lower case, as S3
//     does (gofakes3 writes them canonicalized: head-object showed Source-Bucket);
//   - SNS Publish delivers the standard envelope (goaws writes MessageAttributes as
//     {"DataType","StringValue"} instead of {"Type","Value"}) and checks Subject as SNS does.
//
// Not emulated: signatures and IAM (any credentials pass); S3 lifecycle rules, bucket
// notifications, checksums, and multipart ETags (gofakes3's is the MD5 of the whole object, not
// "<md5 of part md5s>-<parts>"); SQS StartMessageMoveTask, ListDeadLetterSourceQueues, tags,
// policies, message retention and ApproximateFirstReceiveTimestamp (goaws gives the latest
// receive); the queue attributes ApproximateAgeOfOldestMessage (a CloudWatch metric on AWS, which
// SQS rejects as an attribute name, as the emulator does), RedriveAllowPolicy, Policy and
// SqsManagedSseEnabled, and real CreatedTimestamp/LastModifiedTimestamp (0); SNS email and HTTP
// delivery, PublishBatch's envelope (goaws's), filter policies beyond goaws's exact string match,
// signatures that verify. The SQS query protocol (old SDKs) goes to goaws without the corrections.
//
// The AWS CLI v1 ignores AWS_ENDPOINT_URL for SQS (it pins SQS to queue.amazonaws.com and the
// like): give it --endpoint-url. The CLI v2 and the Go SDK honour the variable.
package emulate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/Admiral-Piett/goaws/app/gosqs"
	"github.com/Admiral-Piett/goaws/app/models"
	"github.com/Admiral-Piett/goaws/app/router"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/sirupsen/logrus"

	"github.com/thumbq/thumbq/worker/config"
)

const (
	// AccountID is the account of every ARN, queue URL and event.
	AccountID = "000000000000"
	// DefaultRegion is the region when Options.Region is empty.
	DefaultRegion = "us-east-1"
	// DefaultPrefix is the resource name prefix when Options.Prefix is empty.
	DefaultPrefix = "thumbq"
	// MaxReceiveCount is the work queue's redrive policy, config.QueueMaxReceiveCount as in the CDK
	// stack: a message received this many times without being deleted moves to the dead-letter
	// queue when its visibility timeout expires (AWS moves it on the next receive; the receive
	// counts are the same).
	MaxReceiveCount = config.QueueMaxReceiveCount
	// TickInterval is how often expired visibility timeouts are noticed.
	TickInterval = 100 * time.Millisecond
	// AccessKeyID and SecretAccessKey are the dummy credentials Env and AWSConfig hand out; the
	// emulator accepts any.
	AccessKeyID     = "emulate"
	SecretAccessKey = "emulate"
)

// Options configures Start.
type Options struct {
	// Addr is the listen address; "" means "127.0.0.1:0" (a free port).
	Addr string
	// Prefix starts every resource name: lower-case letters, digits and hyphens, at most 40
	// characters; "" means DefaultPrefix. Open stacks need distinct prefixes.
	Prefix string
	// Region is used in ARNs, events and Env; "" means DefaultRegion.
	Region string
	// VisibilityTimeout is the work queue's visibility timeout, rounded up to whole seconds;
	// 0 means config.DefaultVisibilityTimeout. Tests want short ones (2s).
	VisibilityTimeout time.Duration
	// Logger receives the emulator's own logs and, at debug level, goaws's and gofakes3's; nil
	// discards them. goaws's logger is global: the first stack's Logger gets its lines.
	Logger *slog.Logger
}

// Stack is one set of emulated resources and the endpoint that serves them.
type Stack struct {
	Endpoint             string // http://HOST:PORT serving S3 (path-style), SQS and SNS
	Region               string
	SourceBucket         string
	ThumbnailBucket      string
	QueueURL             string // work queue; after MaxReceiveCount receives to DeadLetterURL
	DeadLetterURL        string
	TopicARN             string
	NotificationQueueURL string // subscribed to TopicARN (not raw): stands in for email

	logger    *slog.Logger
	listener  net.Listener
	server    *http.Server
	served    chan struct{}
	queues    []string // goaws queue names, work queue first
	topic     string   // goaws topic name
	workQueue string

	// The shared servers as they were when the stack started, so that a request still running
	// after the last Close does not meet them gone.
	backend *s3mem.Backend
	s3      http.Handler
	goaws   http.Handler

	closing  chan struct{} // closed when Close begins: long polls return
	inflight sync.WaitGroup

	faultsMu sync.Mutex
	faults   map[string]int

	closeOnce sync.Once
	closeErr  error
}

// shared is what all stacks of the process share. mu orders Start and Close.
var shared struct {
	mu         sync.Mutex
	stacks     map[*Stack]bool
	backend    *s3mem.Backend
	s3         http.Handler
	goaws      http.Handler
	quit       chan bool
	tickerDone chan struct{}
}

// structure guards goaws's maps of queues and topics: its handlers read them without its own
// lock, so every call into goaws holds structure for reading, and adding or removing a queue or a
// topic holds it for writing.
var structure sync.RWMutex

// sources maps the source bucket of each open stack to the stack, for the EventBridge stand-in.
var sources = struct {
	sync.RWMutex
	stacks map[string]*Stack
}{stacks: map[string]*Stack{}}

var prefixPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,39}$`)

// Start creates a stack and starts serving it; see the package documentation for several stacks
// in one process. ctx bounds start-up only: the stack runs until Close.
func Start(ctx context.Context, opts Options) (*Stack, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("emulate: start: %w", err)
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	visibility := int((opts.VisibilityTimeout + time.Second - 1) / time.Second)
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("emulate: listen on %s: %w", opts.Addr, err)
	}
	s := newStack(ln, opts)

	shared.mu.Lock()
	defer shared.mu.Unlock()
	if len(shared.stacks) == 0 {
		startShared(opts.Logger, endpointHost(ln.Addr().(*net.TCPAddr)), opts.Region)
	}
	if err := s.create(visibility); err != nil {
		if len(shared.stacks) == 0 {
			stopShared()
		}
		ln.Close()
		return nil, err
	}
	shared.stacks[s] = true
	s.backend, s.s3, s.goaws = shared.backend, shared.s3, shared.goaws
	sources.Lock()
	sources.stacks[s.SourceBucket] = s
	sources.Unlock()
	s.serve(ln)
	return s, nil
}

// withDefaults fills in the options left empty and checks the rest.
func (opts Options) withDefaults() (Options, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if !prefixPattern.MatchString(opts.Prefix) {
		return opts, fmt.Errorf("emulate: prefix %q: want 1-40 lower-case letters, digits and hyphens, starting with a letter or digit", opts.Prefix)
	}
	if opts.Region == "" {
		opts.Region = DefaultRegion
	}
	if opts.VisibilityTimeout == 0 {
		opts.VisibilityTimeout = config.DefaultVisibilityTimeout
	}
	if opts.VisibilityTimeout < 0 || opts.VisibilityTimeout > 12*time.Hour {
		return opts, fmt.Errorf("emulate: visibility timeout %v: want 0 to 12h", opts.VisibilityTimeout)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return opts, nil
}

// newStack names the stack's buckets, queues and topic after opts.Prefix, with URLs and ARNs on
// the endpoint ln listens at; nothing is created yet.
func newStack(ln net.Listener, opts Options) *Stack {
	p := opts.Prefix
	s := &Stack{
		Endpoint:        "http://" + endpointHost(ln.Addr().(*net.TCPAddr)),
		Region:          opts.Region,
		SourceBucket:    p + "-source",
		ThumbnailBucket: p + "-thumbnails",
		logger:          opts.Logger,
		listener:        ln,
		served:          make(chan struct{}),
		closing:         make(chan struct{}),
		faults:          map[string]int{},
	}
	work, dlq, notify := p+"-work", p+"-work-dlq", p+"-notifications"
	s.queues = []string{work, dlq, notify}
	s.workQueue = work
	s.topic = p + "-events"
	s.QueueURL = s.queueURL(work)
	s.DeadLetterURL = s.queueURL(dlq)
	s.NotificationQueueURL = s.queueURL(notify)
	s.TopicARN = s.arn("sns", s.topic)
	return s
}

// serve serves the stack's endpoint on ln until Close; served is closed when it stops.
func (s *Stack) serve(ln net.Listener) {
	s.server = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(s.served)
		if err := s.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("emulate: serve", "endpoint", s.Endpoint, "err", err)
		}
	}()
	s.logger.Info("emulated AWS started", "endpoint", s.Endpoint, "source_bucket", s.SourceBucket,
		"thumbnail_bucket", s.ThumbnailBucket, "queue_url", s.QueueURL, "topic_arn", s.TopicARN)
}

// endpointHost is the host:port clients reach a listener at: an unspecified address (":4566",
// "0.0.0.0:4566") is reached on loopback.
func endpointHost(a *net.TCPAddr) string {
	ip := a.IP
	if ip == nil || ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1)
	}
	return net.JoinHostPort(ip.String(), fmt.Sprint(a.Port))
}

func (s *Stack) queueURL(name string) string { return s.Endpoint + "/" + AccountID + "/" + name }

func (s *Stack) arn(service, name string) string {
	return "arn:aws:" + service + ":" + s.Region + ":" + AccountID + ":" + name
}

// startShared starts the S3 backend, goaws and its periodic task. shared.mu is held.
func startShared(logger *slog.Logger, host, region string) {
	shared.stacks = map[*Stack]bool{}
	shared.backend = s3mem.New()
	shared.s3 = gofakes3.New(shared.backend,
		gofakes3.WithLogger(s3Log{logger}),
		gofakes3.WithAutoBucket(false),
	).Server()
	routeLogrus(logger)

	h, port, _ := net.SplitHostPort(host)
	structure.Lock()
	models.CurrentEnvironment = models.Environment{
		Host:      h,
		Port:      port,
		Region:    region,
		AccountID: AccountID,
		QueueAttributeDefaults: models.EnvQueueAttributes{
			VisibilityTimeout:  int(config.DefaultVisibilityTimeout / time.Second),
			MaximumMessageSize: 262144,
		},
	}
	structure.Unlock()
	shared.goaws = router.New()
	shared.quit = make(chan bool)
	shared.tickerDone = make(chan struct{})
	go func(quit chan bool, done chan struct{}) {
		defer close(done)
		gosqs.PeriodicTasks(TickInterval, quit)
	}(shared.quit, shared.tickerDone)
}

// stopShared stops the periodic task and forgets the S3 backend. shared.mu is held.
func stopShared() {
	close(shared.quit)
	<-shared.tickerDone
	shared.backend, shared.s3, shared.goaws = nil, nil, nil
	shared.stacks = nil
}

// create makes the stack's buckets, queues, topic and subscription. shared.mu is held.
func (s *Stack) create(visibility int) error {
	for _, b := range []string{s.SourceBucket, s.ThumbnailBucket} {
		if ok, _ := shared.backend.BucketExists(b); ok {
			return fmt.Errorf("emulate: bucket %s exists: prefix in use by another stack", b)
		}
	}
	structure.Lock()
	defer structure.Unlock()
	models.SyncQueues.Lock()
	defer models.SyncQueues.Unlock()
	models.SyncTopics.Lock()
	defer models.SyncTopics.Unlock()
	for _, q := range s.queues {
		if _, ok := models.SyncQueues.Queues[q]; ok {
			return fmt.Errorf("emulate: queue %s exists: prefix in use by another stack", q)
		}
	}
	if _, ok := models.SyncTopics.Topics[s.topic]; ok {
		return fmt.Errorf("emulate: topic %s exists: prefix in use by another stack", s.topic)
	}
	for _, b := range []string{s.SourceBucket, s.ThumbnailBucket} {
		if err := shared.backend.CreateBucket(b); err != nil {
			return fmt.Errorf("emulate: create bucket %s: %w", b, err)
		}
	}
	newQueue := func(name, url string, visibility int) *models.Queue {
		q := &models.Queue{
			Name:                   name,
			URL:                    url,
			Arn:                    s.arn("sqs", name),
			VisibilityTimeout:      visibility,
			MaximumMessageSize:     262144,
			MessageRetentionPeriod: 345600,
			Duplicates:             map[string]time.Time{},
		}
		models.SyncQueues.Queues[name] = q
		return q
	}
	defaultVisibility := int(config.DefaultVisibilityTimeout / time.Second)
	dlq := newQueue(s.queues[1], s.DeadLetterURL, defaultVisibility)
	work := newQueue(s.queues[0], s.QueueURL, visibility)
	work.DeadLetterQueue, work.MaxReceiveCount = dlq, MaxReceiveCount
	notify := newQueue(s.queues[2], s.NotificationQueueURL, defaultVisibility)
	models.SyncTopics.Topics[s.topic] = &models.Topic{
		Name: s.topic,
		Arn:  s.TopicARN,
		Subscriptions: []*models.Subscription{{
			TopicArn:        s.TopicARN,
			Protocol:        "sqs",
			SubscriptionArn: s.TopicARN + ":" + newID(),
			EndPoint:        notify.Arn,
		}},
	}
	return nil
}

// Close stops the stack's listener and deletes its resources; the last open stack's Close also
// stops the shared servers. Requests in flight on this stack's endpoint are cut off. Close may be
// called more than once.
func (s *Stack) Close() error {
	s.closeOnce.Do(func() {
		close(s.closing)
		s.closeErr = s.server.Close()
		<-s.served
		s.inflight.Wait()
		sources.Lock()
		delete(sources.stacks, s.SourceBucket)
		sources.Unlock()

		shared.mu.Lock()
		defer shared.mu.Unlock()
		delete(shared.stacks, s)
		structure.Lock()
		models.SyncQueues.Lock()
		for _, q := range s.queues {
			delete(models.SyncQueues.Queues, q)
		}
		models.SyncQueues.Unlock()
		models.SyncTopics.Lock()
		delete(models.SyncTopics.Topics, s.topic)
		models.SyncTopics.Unlock()
		structure.Unlock()
		for _, b := range []string{s.SourceBucket, s.ThumbnailBucket} {
			if err := s.backend.ForceDeleteBucket(b); err != nil && s.closeErr == nil {
				s.closeErr = fmt.Errorf("emulate: delete bucket %s: %w", b, err)
			}
		}
		if len(shared.stacks) == 0 {
			stopShared()
		}
		s.logger.Info("emulated AWS stopped", "endpoint", s.Endpoint)
	})
	return s.closeErr
}

// Configure points a worker configuration at the stack's buckets, queues and topic.
func (s *Stack) Configure(c *config.Config) {
	c.SourceBucket, c.ThumbnailBucket = s.SourceBucket, s.ThumbnailBucket
	c.QueueURL, c.DeadLetterURL, c.TopicARN = s.QueueURL, s.DeadLetterURL, s.TopicARN
}

// Env returns the environment variables that point an AWS SDK or the AWS CLI, and the worker, at
// the stack.
func (s *Stack) Env() map[string]string {
	return map[string]string{
		"AWS_ENDPOINT_URL":        s.Endpoint,
		"AWS_REGION":              s.Region,
		"AWS_DEFAULT_REGION":      s.Region, // the AWS CLI v1 reads only this one
		"AWS_ACCESS_KEY_ID":       AccessKeyID,
		"AWS_SECRET_ACCESS_KEY":   SecretAccessKey,
		config.EnvSourceBucket:    s.SourceBucket,
		config.EnvThumbnailBucket: s.ThumbnailBucket,
		config.EnvQueueURL:        s.QueueURL,
		config.EnvDeadLetterURL:   s.DeadLetterURL,
		config.EnvTopicARN:        s.TopicARN,
	}
}

// AWSConfig returns an SDK configuration for the stack: static dummy credentials, the region and
// BaseEndpoint. S3 clients made from it need UsePathStyle (S3Client sets it).
func (s *Stack) AWSConfig() aws.Config {
	return aws.Config{
		Region:       s.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, ""),
		BaseEndpoint: aws.String(s.Endpoint),
	}
}

// S3Client returns a path-style S3 client for the stack.
func (s *Stack) S3Client(optFns ...func(*s3.Options)) *s3.Client {
	return s3.NewFromConfig(s.AWSConfig(), append([]func(*s3.Options){func(o *s3.Options) { o.UsePathStyle = true }}, optFns...)...)
}

// SQSClient returns an SQS client for the stack.
func (s *Stack) SQSClient(optFns ...func(*sqs.Options)) *sqs.Client {
	return sqs.NewFromConfig(s.AWSConfig(), optFns...)
}

// SNSClient returns an SNS client for the stack.
func (s *Stack) SNSClient(optFns ...func(*sns.Options)) *sns.Client {
	return sns.NewFromConfig(s.AWSConfig(), optFns...)
}

// FailNext makes the next n requests to this stack's endpoint for op fail as AWS fails when it is
// overloaded: S3 with 503 SlowDown, SQS and SNS with 503 ServiceUnavailable. op is the service and
// the API action, as in IAM: "s3:GetObject", "s3:PutObject", "sqs:DeleteMessage", "sns:Publish".
// The SDK retries these (three attempts by default), so n below 3 is absorbed by its retries.
func (s *Stack) FailNext(op string, n int) {
	s.faultsMu.Lock()
	defer s.faultsMu.Unlock()
	if n <= 0 {
		delete(s.faults, op)
		return
	}
	s.faults[op] = n
}

// takeFault reports whether this request for op is to fail, counting it.
func (s *Stack) takeFault(op string) bool {
	s.faultsMu.Lock()
	defer s.faultsMu.Unlock()
	n := s.faults[op]
	if n == 0 {
		return false
	}
	if n == 1 {
		delete(s.faults, op)
	} else {
		s.faults[op] = n - 1
	}
	return true
}

// s3Log sends gofakes3's log lines to a slog logger at debug level.
type s3Log struct{ logger *slog.Logger }

func (l s3Log) Print(level gofakes3.LogLevel, v ...any) {
	l.logger.Debug(strings.TrimSpace(fmt.Sprintln(v...)), "component", "gofakes3", "level", string(level))
}

// routeLogrus silences goaws's logrus output (JSON lines on stdout by default) and sends the lines
// to logger at debug level instead.
func routeLogrus(logger *slog.Logger) {
	logrus.SetOutput(io.Discard)
	logrus.SetLevel(logrus.InfoLevel)
	logrus.StandardLogger().ReplaceHooks(logrus.LevelHooks{})
	logrus.AddHook(logrusHook{logger})
}

type logrusHook struct{ logger *slog.Logger }

func (logrusHook) Levels() []logrus.Level { return logrus.AllLevels }

func (h logrusHook) Fire(e *logrus.Entry) error {
	attrs := []any{"component", "goaws", "level", e.Level.String()}
	for k, v := range e.Data {
		attrs = append(attrs, k, v)
	}
	h.logger.Debug(e.Message, attrs...)
	return nil
}
