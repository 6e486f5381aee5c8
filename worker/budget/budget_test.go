package budget

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestTwoLargeImagesAreAdmittedOneAfterTheOther(t *testing.T) {
	b := New(100)
	var inside, most atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			release, _, err := b.Acquire(context.Background(), 60)
			if err != nil {
				t.Error(err)
				return
			}
			n := inside.Add(60)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			time.Sleep(20 * time.Millisecond)
			inside.Add(-60)
			release()
		}()
	}
	wg.Wait()
	if most.Load() > 100 {
		t.Errorf("%d bytes were admitted at once; want at most the budget of 100", most.Load())
	}
	if b.Waits() < 3 {
		t.Errorf("%d admissions waited; want 3 of the 4 (each needs 60 of 100)", b.Waits())
	}
}

func TestAnEstimateOverTheWholeBudgetIsRefusedAtOnce(t *testing.T) {
	_, _, err := New(100).Acquire(context.Background(), 101)
	var over *ErrOverBudget
	if !errors.As(err, &over) || over.Need != 101 || over.Total != 100 {
		t.Errorf("Acquire(101 of 100) = %v; want *ErrOverBudget at once", err)
	}
}

func TestAWaitEndsWithTheContext(t *testing.T) {
	b := New(100)
	release, _, _ := b.Acquire(context.Background(), 100)
	defer release()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, _, err := b.Acquire(ctx, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Acquire on a full budget with an ending context = %v; want the context's error", err)
	}
}

func TestDeriveKeepsTheDownloadsOutOfTheBudget(t *testing.T) {
	got, err := Derive(1<<30, true, 1, 64<<20)
	if want := int64(1<<30 - BaseReserve - 64<<20); err != nil || got != want {
		t.Errorf("Derive(1 GiB, 1 image of 64 MiB) = %d, %v; want %d", got, err, want)
	}
	if _, err := Derive(256<<20, true, 4, 64<<20); err == nil {
		t.Error("Derive(256 MiB, 4 images of 64 MiB) = ok; want an error: the downloads alone fill it")
	}
	if got, _ := Derive(0, false, 1, 64<<20); got != DefaultWithoutLimit-BaseReserve-64<<20 {
		t.Errorf("Derive(no limit) = %d; want the dev task's 1 GiB less the reserve", got)
	}
}
