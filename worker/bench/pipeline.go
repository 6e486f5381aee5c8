package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/thumbq/thumbq/worker/config"
	"github.com/thumbq/thumbq/worker/emulate"
	"github.com/thumbq/thumbq/worker/pipeline"
	"github.com/thumbq/thumbq/worker/queue"
)

// pipelineRun is one run of uploads through the emulated stack.
type pipelineRun struct {
	Workers   int
	Images    int
	Burst     bool          // all uploaded at once; else one at a time, each after the last one's notification
	Elapsed   time.Duration // from the first upload's start to the last notification
	P50, P99  time.Duration // end of PutObject -> notification received
	PerSecond float64
	latencies []time.Duration
}

type pipelineResult struct {
	Photo string // what was uploaded
	Runs  []pipelineRun
}

// measurePipeline uploads the photo -images times with 1 worker and with -workers, all at once,
// then -latency times one at a time with -workers.
func measurePipeline(ctx context.Context, o options, log io.Writer) (pipelineResult, error) {
	path, err := ensureInput(ctx, o.in, photo, log)
	if err != nil {
		return pipelineResult{}, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return pipelineResult{}, err
	}
	res := pipelineResult{Photo: fmt.Sprintf("%s (%s, %.1f MB)", photo.Name, photo.About, float64(len(data))/1e6)}
	plan := []struct {
		workers, images int
		burst           bool
	}{{1, o.images, true}, {o.workers, o.images, true}, {o.workers, o.latency, false}}
	for i, p := range plan {
		if i == 1 && o.workers == 1 {
			continue
		}
		fmt.Fprintf(log, "bench: pipeline: %d uploads, %d workers, %s\n", p.images, p.workers, map[bool]string{true: "all at once", false: "one at a time"}[p.burst])
		r, err := runPipeline(ctx, fmt.Sprintf("bench%d", i), data, p.workers, p.images, p.burst)
		if err != nil {
			return res, fmt.Errorf("pipeline with %d workers: %w", p.workers, err)
		}
		fmt.Fprintf(log, "bench:   %.1f images/s, latency p50 %.0f ms, p99 %.0f ms\n", r.PerSecond, ms(r.P50), ms(r.P99))
		res.Runs = append(res.Runs, r)
	}
	return res, nil
}

// runPipeline starts an emulated stack and the real consumer (package queue and pipeline, wired as
// `thumbq work` and `thumbq local` wire them, through the real SDK clients), uploads data n times
// under distinct keys and waits for every notification on the stack's notification queue.
func runPipeline(ctx context.Context, prefix string, data []byte, workers, n int, burst bool) (pipelineRun, error) {
	wc := benchConfig(workers)
	stack, err := emulate.Start(ctx, emulate.Options{Prefix: prefix, VisibilityTimeout: wc.VisibilityTimeout})
	if err != nil {
		return pipelineRun{}, err
	}
	defer stack.Close()
	stack.Configure(&wc)
	if err := wc.Validate(); err != nil {
		return pipelineRun{}, err
	}
	s3c, sqsc := stack.S3Client(), stack.SQSClient()
	c := queue.NewConsumer(wc, sqsc, &pipeline.Handler{Processor: pipeline.New(wc, s3c, stack.SNSClient(), nil)}, slog.New(slog.DiscardHandler))
	defer startConsumer(ctx, c)()
	notes, stopReading := startReaders(ctx, sqsc, stack.NotificationQueueURL, n)
	defer stopReading()

	r := pipelineRun{Workers: workers, Images: n, Burst: burst}
	a := newArrivals(notes, n)
	defer a.timeout.Stop()
	start := time.Now()
	err = uploadAll(ctx, s3c, stack.SourceBucket, data, n, burst, a)
	r.latencies = a.latencies
	if err != nil {
		return r, err
	}
	r.Elapsed = time.Since(start)
	r.PerSecond = float64(n) / r.Elapsed.Seconds()
	r.P50, r.P99 = percentile(r.latencies, 50), percentile(r.latencies, 99)
	return r, nil
}

// benchConfig is the worker's configuration for the bench's runs, with workers at once.
func benchConfig(workers int) config.Config {
	wc := config.Defaults()
	wc.Concurrency = workers
	wc.VisibilityTimeout, wc.GracePeriod = 30*time.Second, 10*time.Second
	wc.WaitTime = time.Second // as thumbq local: a stop at the end need not wait out a 20 s poll
	return wc
}

// startConsumer runs c until the returned stop is called, which waits for it to return.
func startConsumer(ctx context.Context, c *queue.Consumer) (stop func()) {
	workCtx, stopWork := context.WithCancel(ctx)
	workDone := make(chan struct{})
	go func() { defer close(workDone); c.Run(workCtx) }()
	return func() { stopWork(); <-workDone }
}

// startReaders reads the notifications of the queue at url into the returned channel, which holds
// n, until the returned stop is called, which waits for the readers to return.
func startReaders(ctx context.Context, sqsc *sqs.Client, url string, n int) (<-chan notification, func()) {
	readCtx, stopReading := context.WithCancel(ctx)
	notes := make(chan notification, n)
	const readers = 2
	var readersWG sync.WaitGroup
	for range readers {
		readersWG.Add(1)
		go func() { defer readersWG.Done(); readNotifications(readCtx, sqsc, url, notes) }()
	}
	return notes, func() { stopReading(); readersWG.Wait(); stopReading() }
}

// uploadAll puts data n times under distinct keys: all at once when burst, else each after the
// last one's notification; then it waits for every notification.
func uploadAll(ctx context.Context, s3c *s3.Client, bucket string, data []byte, n int, burst bool, a *arrivals) error {
	for i := range n {
		key := fmt.Sprintf("bench/%04d.jpg", i)
		_, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: &key,
			Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data)))})
		if err != nil {
			return fmt.Errorf("put %s: %w", key, err)
		}
		a.uploaded[key] = time.Now()
		if !burst {
			if err := a.wait(ctx, i+1); err != nil {
				return err
			}
		}
	}
	return a.wait(ctx, n)
}

// arrivals matches the notifications to the uploads and keeps each upload's latency.
type arrivals struct {
	notes     <-chan notification
	n         int                  // uploads in all
	uploaded  map[string]time.Time // key -> end of its PutObject
	seen      map[string]bool      // keys notified
	timeout   *time.Timer          // for all n
	latencies []time.Duration
}

func newArrivals(notes <-chan notification, n int) *arrivals {
	return &arrivals{notes: notes, n: n, uploaded: make(map[string]time.Time, n), seen: make(map[string]bool, n),
		timeout: time.NewTimer(time.Duration(n)*2*time.Second + 30*time.Second)}
}

// wait returns when want uploads have been notified, or with why not: a cancelled ctx, the
// timeout, or a notification that is not ok.
func (a *arrivals) wait(ctx context.Context, want int) error {
	for len(a.seen) < want {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-a.timeout.C:
			return fmt.Errorf("%d of %d notifications arrived in time", len(a.seen), a.n)
		case note := <-a.notes:
			t0, ok := a.uploaded[note.Key]
			if !ok || a.seen[note.Key] {
				continue // not ours, or a second delivery
			}
			if note.Status != string(pipeline.OK) {
				return fmt.Errorf("%s: %s (%s)", note.Key, note.Status, note.Reason)
			}
			a.seen[note.Key] = true
			a.latencies = append(a.latencies, note.At.Sub(t0))
		}
	}
	return nil
}

// notification is what the bench needs of one SNS notification delivered to a queue.
type notification struct {
	Key, Status, Reason string
	At                  time.Time // when it was received
}

func readNotifications(ctx context.Context, q *sqs.Client, url string, out chan<- notification) {
	for ctx.Err() == nil {
		res, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			if ctx.Err() == nil {
				time.Sleep(100 * time.Millisecond)
			}
			continue
		}
		at := time.Now()
		for _, m := range res.Messages {
			q.DeleteMessage(context.WithoutCancel(ctx), &sqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: m.ReceiptHandle})
			note, err := parseNotification([]byte(*m.Body))
			if err != nil {
				continue
			}
			note.At = at
			select {
			case out <- note:
			case <-ctx.Done():
				return
			}
		}
	}
}

// parseNotification reads the key, status and reason attributes of the JSON envelope SNS delivers
// to a queue subscription.
func parseNotification(body []byte) (notification, error) {
	var env struct {
		MessageAttributes map[string]struct{ Value string } `json:"MessageAttributes"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return notification{}, fmt.Errorf("not an SNS notification: %w", err)
	}
	n := notification{Key: env.MessageAttributes["key"].Value, Status: env.MessageAttributes["status"].Value,
		Reason: env.MessageAttributes["reason"].Value}
	if n.Key == "" || n.Status == "" {
		return notification{}, errors.New("SNS notification without key or status attribute")
	}
	return n, nil
}

// percentile is the nearest-rank p-th percentile: the smallest value at least p% of xs are at or
// below.
func percentile(xs []time.Duration, p float64) time.Duration {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[min(max(rank, 1), len(s))-1]
}
