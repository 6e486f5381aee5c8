package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/thumbq/thumbq/worker/budget"
	"github.com/thumbq/thumbq/worker/config"
	"github.com/thumbq/thumbq/worker/emulate"
)

// workRow uploads n of the files (the cases in turn) to an emulated stack consumed by one
// `thumbq work` process set up as the dev task runs it (one image at a time, GOMEMLIMIT and the
// memory budget of a 1 GiB task), waits for every notification, and reports the process's peak
// resident memory (VmHWM, sampled from /proc) and how many uploads became thumbnails.
func workRow(bin string, files []string, n int) error {
	ctx := context.Background()
	stack, err := emulate.Start(ctx, emulate.Options{Prefix: "worst-row", VisibilityTimeout: 5 * time.Minute})
	if err != nil {
		return err
	}
	defer stack.Close()
	const taskMemory = 1 << 30 // the dev task
	total, err := budget.Derive(taskMemory, true, 1, config.DefaultMaxBytes)
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, "work")
	cmd.Env = append(os.Environ(), config.EnvConcurrency+"=1", config.EnvMemoryBudget+"="+strconv.FormatInt(total, 10),
		"GOMEMLIMIT="+strconv.FormatInt(budget.GoMemLimit(taskMemory), 10))
	for k, v := range stack.Env() {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	var peak atomic.Int64
	stop := make(chan struct{})
	defer close(stop)
	go samplePeak(cmd.Process.Pid, &peak, stop)

	t0 := time.Now()
	if err := uploadRow(ctx, stack, files, n); err != nil {
		return err
	}
	statuses, err := awaitOutcomes(ctx, stack, n, t0, &logs)
	if err != nil {
		return err
	}
	fmt.Printf("\n%s work, dev task settings (concurrency 1, budget %d MiB, GOMEMLIMIT %d MiB): %d worst cases in a row: peak RSS %.0f MB, %.1f s; outcomes %v\n",
		bin, total>>20, budget.GoMemLimit(taskMemory)>>20, n, float64(peak.Load())/1e6, time.Since(t0).Seconds(), statuses)
	return nil
}

// uploadRow uploads n of the files, the cases in turn, to the stack's source bucket.
func uploadRow(ctx context.Context, stack *emulate.Stack, files []string, n int) error {
	s3c := stack.S3Client()
	for i := range n {
		f := files[i%len(files)]
		body, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		key := fmt.Sprintf("row/%02d-%s", i, filepath.Base(f))
		if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: &stack.SourceBucket, Key: &key, Body: bytes.NewReader(body)}); err != nil {
			return fmt.Errorf("upload %s: %w", key, err)
		}
	}
	return nil
}

// awaitOutcomes waits, up to 20 minutes after t0, for n notifications, and counts them by status
// and reason. Past the 20 minutes the error carries the worker's logs.
func awaitOutcomes(ctx context.Context, stack *emulate.Stack, n int, t0 time.Time, logs *bytes.Buffer) (map[string]int, error) {
	sqsc := stack.SQSClient()
	statuses := map[string]int{}
	for got := 0; got < n; {
		if time.Since(t0) > 20*time.Minute {
			return nil, fmt.Errorf("%d of %d notifications in 20 minutes\n%s", got, n, logs.String())
		}
		out, err := sqsc.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &stack.NotificationQueueURL, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			return nil, err
		}
		for _, m := range out.Messages {
			var env struct {
				MessageAttributes map[string]struct{ Value string }
			}
			json.Unmarshal([]byte(aws.ToString(m.Body)), &env)
			statuses[env.MessageAttributes["status"].Value+" "+env.MessageAttributes["reason"].Value]++
			got++
		}
	}
	return statuses, nil
}

// samplePeak keeps peak at the process's VmHWM until stop.
func samplePeak(pid int, peak *atomic.Int64, stop chan struct{}) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
					kb, _ := strconv.ParseInt(f[1], 10, 64)
					peak.Store(max(peak.Load(), kb*1024))
				}
			}
		}
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}
