//go:build !nolocal

// The local command embeds the emulated AWS services; the production image is built with the tag
// nolocal and carries none of them.

package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/thumbq/thumbq/worker/config"
	"github.com/thumbq/thumbq/worker/fit"
	"github.com/thumbq/thumbq/worker/local"
)

func init() {
	commands["local"] = command{"run the whole pipeline on this machine against embedded emulated S3/SQS/SNS", runLocal}
}

const localHelp = `
Runs the whole pipeline on this machine with no AWS account: embedded emulators stand in for S3,
SQS and SNS (and for the EventBridge rule, by sending the rule's event for every object written to
the source bucket); the real worker consumes the queue through the real AWS SDK clients.

Default: uploads every file under -images (subfolders become key prefixes), waits until each has
ended as a thumbnail, a reported failure or a skip, and writes under -out the thumbnails (as in
the thumbnail bucket), the notifications (notifications/<key>.<status>.json: the emulator sends no
email) and report.json. Exits 0 when every upload has an outcome, 1 otherwise.

-out starts empty each time: what an earlier thumbq local wrote there (thumbnail folders such as
64x64/, notifications/, report.json, worker.log) is removed first, and the command says so. A
folder holding other files is refused, never cleared.

With -serve: keeps the emulated endpoint up and prints its address (with -addr 127.0.0.1:0, the
port the system chose) and the bucket names, so any S3 client can upload
(aws --endpoint-url http://127.0.0.1:PORT s3 cp photo.jpg s3://BUCKET/); each outcome is printed,
and mirrored under -out when given. -workers 0 starts no worker: it prints the environment with
which thumbq work, run from another terminal (or several, or in a debugger), consumes the
emulated queue, and a line per notification those workers publish (notifications are mirrored
under -out; thumbnails stay in the bucket). Ctrl-C stops.
The worker's JSON log goes to <out>/worker.log (with -serve and no -out: standard error).
`

func runLocal(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("local", "[flags]", localHelp, stderr)
	images := fs.String("images", "worker/samples", "folder of files to upload")
	out := fs.String("out", "", "folder for thumbnails, notifications and report.json (default \"out\" without -serve)")
	serve := fs.Bool("serve", false, "keep the emulated endpoint up for uploads from any S3 client")
	addr := fs.String("addr", "127.0.0.1:4566", "listen address of the emulated endpoint (with -serve; port 0 picks a free one)")
	workers := fs.Int("workers", 1, "workers in this process (with -serve; 0: none, attach thumbq work yourself)")
	width := fs.Int("width", config.DefaultThumbWidth, "width of the box thumbnails fit in")
	height := fs.Int("height", config.DefaultThumbHeight, "height of the box")
	sizes := fs.String("sizes", "", "thumbnails to make, as THUMBQ_SIZES: e.g. 64x64,256x256:cover (instead of -width/-height)")
	timeout := fs.Duration("timeout", 2*time.Minute, "how long to wait for the last outcome")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "thumbq local: unexpected arguments %v\n", fs.Args())
		return errUsage
	}
	if *workers < 0 || *workers > config.MaxConcurrency || (*workers == 0 && !*serve) {
		fmt.Fprintf(stderr, "thumbq local: -workers %d: want 1 to %d, or 0 with -serve\n", *workers, config.MaxConcurrency)
		return errUsage
	}
	opts := local.Options{
		Images:  *images,
		Out:     *out,
		Width:   *width,
		Height:  *height,
		Timeout: *timeout,
		Stdout:  stdout,
		Workers: *workers,
		Command: invokedAs(),
	}
	if *workers == 0 {
		opts.Workers = local.NoWorkers
	}
	if *sizes != "" {
		boxes, err := fit.Parse(*sizes)
		if err != nil {
			fmt.Fprintf(stderr, "thumbq local: -sizes: %v\n", err)
			return errUsage
		}
		opts.Sizes = boxes
	}
	if !*serve && opts.Out == "" {
		opts.Out = "out"
	}
	closeLog, err := localLogger(&opts, stdout, stderr)
	if err != nil {
		return err
	}
	defer closeLog()
	if *serve {
		opts.Addr = *addr
		return local.Serve(ctx, opts)
	}
	_, err = local.Run(ctx, opts)
	return err
}

// localLogger prepares the output folder (clearing what an earlier run wrote there, and saying
// so) and points the worker's log at <out>/worker.log, or at standard error without a folder.
func localLogger(opts *local.Options, stdout, stderr io.Writer) (func(), error) {
	if opts.Out == "" {
		opts.Logger = slog.New(slog.NewJSONHandler(stderr, nil))
		return func() {}, nil
	}
	removed, err := local.PrepareOut(opts.Out)
	if err != nil {
		return nil, err
	}
	if len(removed) > 0 {
		fmt.Fprintf(stdout, "thumbq local: cleared %s of the previous run's %s\n", opts.Out, strings.Join(removed, ", "))
	}
	f, err := os.Create(filepath.Join(opts.Out, "worker.log"))
	if err != nil {
		return nil, err
	}
	opts.Logger = slog.New(slog.NewJSONHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return func() { f.Close() }, nil
}

// invokedAs is how the user ran this binary, for the commands it suggests: the path as typed
// (bin/thumbq), or "go run ./worker" for go run's temporary build.
func invokedAs() string {
	if strings.Contains(filepath.ToSlash(os.Args[0]), "/go-build") {
		return "go run ./worker"
	}
	return os.Args[0]
}
