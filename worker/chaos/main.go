// Command chaos is thumbq's fault harness: it runs uploads through the emulated stack while
// separate `thumbq work` processes consume the queue behind a proxy that injects faults (5xx
// answers, connection resets, lost responses, delays) on a seeded schedule, and while their
// processes are SIGKILLed and SIGTERMed and restarted, as ECS would. At the end it counts what
// must never happen: uploads lost, messages stuck invisible, dead letters without a reason,
// successes dead-lettered, duplicate notifications; and it reports duplicate thumbnails and each
// worker's peak memory. `make chaos` runs it; a short run is part of `make test`. It is a
// development tool, not part of the thumbq binary.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	o := defaultOptions()
	fs.IntVar(&o.uploads, "uploads", o.uploads, "uploads to run through the stack (every tenth is not an image)")
	fs.IntVar(&o.workers, "workers", o.workers, "thumbq work processes kept running")
	fs.Float64Var(&o.faults, "faults", o.faults, "share of the workers' requests that fail (0-1)")
	fs.IntVar(&o.kills, "kills", o.kills, "SIGKILLs sent to random workers (each is restarted)")
	fs.IntVar(&o.terms, "terms", o.terms, "SIGTERMs sent to random workers (each is restarted)")
	fs.Int64Var(&o.seed, "seed", o.seed, "seed of the fault and signal schedule")
	fs.DurationVar(&o.maxDelay, "max-delay", o.maxDelay, "longest injected delay")
	fs.DurationVar(&o.timeout, "timeout", o.timeout, "how long to wait for every upload's outcome")
	fs.StringVar(&o.binary, "binary", "", "thumbq binary to run (default: go build ./worker into a temporary folder)")
	fs.StringVar(&o.dir, "dir", "", "folder for the workers' logs (default: a temporary folder)")
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		os.Exit(2)
	}
	r, err := run(ctx, o, os.Stdout)
	if err == nil {
		err = r.verdict()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(1)
	}
}

type options struct {
	uploads, workers int
	faults           float64
	kills, terms     int
	seed             int64
	maxDelay         time.Duration
	timeout          time.Duration
	visibility       time.Duration
	binary, dir      string
}

func defaultOptions() options {
	return options{uploads: 200, workers: 3, faults: 0.2, kills: 40, terms: 10, seed: 1,
		maxDelay: 3 * time.Second, timeout: 10 * time.Minute, visibility: 6 * time.Second}
}
