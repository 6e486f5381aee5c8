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
	"time"

	"github.com/thumbq/thumbq/worker/config"
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

With -serve: keeps the emulated endpoint up and prints its address and the bucket names, so any S3
client can upload (aws --endpoint-url http://127.0.0.1:PORT s3 cp photo.jpg s3://BUCKET/); each
outcome is printed, and mirrored under -out when given. Ctrl-C stops.
The worker's JSON log goes to <out>/worker.log (with -serve and no -out: standard error).
`

func runLocal(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("local", "[flags]", localHelp, stderr)
	images := fs.String("images", "worker/samples", "folder of files to upload")
	out := fs.String("out", "", "folder for thumbnails, notifications and report.json (default \"out\" without -serve)")
	serve := fs.Bool("serve", false, "keep the emulated endpoint up for uploads from any S3 client")
	addr := fs.String("addr", "127.0.0.1:4566", "listen address of the emulated endpoint (with -serve; port 0 picks a free one)")
	width := fs.Int("width", config.DefaultThumbWidth, "width of the box thumbnails fit in")
	height := fs.Int("height", config.DefaultThumbHeight, "height of the box")
	timeout := fs.Duration("timeout", 2*time.Minute, "how long to wait for the last outcome")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "thumbq local: unexpected arguments %v\n", fs.Args())
		return errUsage
	}
	opts := local.Options{
		Images:  *images,
		Out:     *out,
		Width:   *width,
		Height:  *height,
		Timeout: *timeout,
		Stdout:  stdout,
	}
	if !*serve && opts.Out == "" {
		opts.Out = "out"
	}
	if opts.Out != "" {
		if err := os.MkdirAll(opts.Out, 0o755); err != nil {
			return err
		}
		f, err := os.Create(filepath.Join(opts.Out, "worker.log"))
		if err != nil {
			return err
		}
		defer f.Close()
		opts.Logger = slog.New(slog.NewJSONHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug}))
	} else {
		opts.Logger = slog.New(slog.NewJSONHandler(stderr, nil))
	}
	if *serve {
		opts.Addr = *addr
		return local.Serve(ctx, opts)
	}
	_, err := local.Run(ctx, opts)
	return err
}
