// Package budget is the worker's memory budget: how much memory image decoding may use at once,
// derived from the container's limit, and a weighted semaphore that admits an image only when its
// estimated peak fits in what is free. Concurrency then never multiplies the worst case: two
// images that each need most of the budget are decoded one after the other.
package budget

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"
)

// cgroup files that hold the container's memory limit: v2 (Fargate, current Docker), then v1.
var limitFiles = []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}

// ContainerLimit returns the memory limit of the cgroup this process runs in, in bytes, and false
// when there is none (a laptop, or v1's "unlimited" value, which is near 2^63).
func ContainerLimit() (int64, bool) {
	for _, f := range limitFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		s := strings.TrimSpace(string(b))
		if s == "max" {
			return 0, false
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 || n >= 1<<60 {
			return 0, false
		}
		return n, true
	}
	return 0, false
}

// Budget admits images by their estimated peak memory. Build it with New; it is safe for
// concurrent use.
type Budget struct {
	total   int64
	sem     *semaphore.Weighted
	waiting atomic.Int64 // admissions that had to wait, for metrics and tests
}

// New returns a budget of total bytes.
func New(total int64) *Budget {
	return &Budget{total: total, sem: semaphore.NewWeighted(total)}
}

// Total is the budget's size in bytes.
func (b *Budget) Total() int64 { return b.total }

// Waits is how many admissions had to wait for memory to be freed.
func (b *Budget) Waits() int64 { return b.waiting.Load() }

// ErrOverBudget is returned by Acquire for an estimate larger than the whole budget: it can never
// be admitted.
type ErrOverBudget struct{ Need, Total int64 }

func (e *ErrOverBudget) Error() string {
	return fmt.Sprintf("decoding needs an estimated %d MB, over the worker's whole memory budget of %d MB", mb(e.Need), mb(e.Total))
}

func mb(n int64) int64 { return (n + 1<<20 - 1) >> 20 }

// Acquire waits until n bytes of the budget are free and takes them; release gives them back and
// must be called once. It returns *ErrOverBudget at once when n exceeds the whole budget, and the
// context's error if ctx ends first. waited says how long it waited.
func (b *Budget) Acquire(ctx context.Context, n int64) (release func(), waited time.Duration, err error) {
	if n > b.total {
		return nil, 0, &ErrOverBudget{Need: n, Total: b.total}
	}
	n = max(n, 1)
	if b.sem.TryAcquire(n) {
		return func() { b.sem.Release(n) }, 0, nil
	}
	b.waiting.Add(1)
	start := time.Now()
	if err := b.sem.Acquire(ctx, n); err != nil {
		return nil, time.Since(start), err
	}
	return func() { b.sem.Release(n) }, time.Since(start), nil
}

// Reserve is the memory kept out of the budget: the worker's own idle footprint and buffers
// (BaseReserve), and each image's downloaded file, which is held while it is decoded.
const BaseReserve = 96 << 20

// DefaultWithoutLimit is the budget when the process has no container memory limit (a laptop):
// the dev task's whole memory, so what passes here passes in dev.
const DefaultWithoutLimit = 1 << 30

// MinBudget is the smallest budget the worker accepts: below it even a reduced 12 MP photo waits.
const MinBudget = 64 << 20

// Derive returns the decoding budget for a container of limit bytes (ok false: no limit) in which
// concurrency images, each a file of up to maxBytes, are worked on at once.
func Derive(limit int64, ok bool, concurrency int, maxBytes int64) (int64, error) {
	if !ok {
		limit = DefaultWithoutLimit
	}
	reserve := BaseReserve + int64(concurrency)*maxBytes
	total := limit - reserve
	if total < MinBudget {
		return 0, fmt.Errorf("a memory limit of %d MB leaves %d MB for decoding after %d MB reserved (%d MB + %d images x %d MB of download); want at least %d MB: raise the task's memory or lower THUMBQ_CONCURRENCY or THUMBQ_MAX_BYTES",
			mb(limit), mb(max(total, 0)), mb(reserve), mb(BaseReserve), concurrency, mb(maxBytes), mb(MinBudget))
	}
	return total, nil
}

// GoMemLimit is the Go runtime's soft memory limit for a container of limit bytes: 95%, so the
// collector works harder before the kernel's OOM killer would act.
func GoMemLimit(limit int64) int64 { return limit / 20 * 19 }
