package main

import (
	"bufio"
	"bytes"
	"context"
	endian "encoding/binary"
	"errors"
	"fmt"
	"image"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/thumbq/thumbq/worker/budget"
	"github.com/thumbq/thumbq/worker/failure"
	"github.com/thumbq/thumbq/worker/thumb"
)

// decode-heif is hidden (no summary): it is the child process that decodes the whole image of a
// HEIF file (HEIC, AVIF) without a usable thumbnail item, for the image engine of the parent
// (thumbq work, local, thumbnail), which sets thumb.HEIFFullDecoder to childDecoder.
func init() {
	commands["decode-heif"] = command{"", runDecodeHEIF}
	thumb.HEIFFullDecoder = childDecoder("")
}

const decodeHEIFHelp = `
Decodes the HEIF file (HEIC or AVIF) read on standard input, whole, in this process, and writes
it reduced by -shrink to standard output as "THQ1", width and height (big-endian uint32) and
premultiplied RGBA rows. Before reading, it limits its own memory to -memory bytes
(RLIMIT_DATA: private writable mappings). A fault of the file is written on standard error as "failure <code> <detail>". The
image engine runs it as a child process; it is not meant to be run by hand.
`

// prepareHEIF compiles the HEIF decoders' WebAssembly in this long-lived process (thumbq work), in
// the background of its start, within the memory budget b (nil: none), so that no image pays for
// it (thumb.PrepareHEIF). When ctx ends first, or b is too small to hold it, it leaves the first
// image of each codec to compile its decoder, as a single run of thumbq thumbnail does.
func prepareHEIF(ctx context.Context, b *budget.Budget, log *slog.Logger) {
	if b != nil {
		release, _, err := b.Acquire(ctx, thumb.HEIFPrepareMemory)
		if err != nil {
			log.Info("HEIF decoders left to compile on first use", "reason", err.Error())
			return
		}
		defer release()
	}
	start := time.Now()
	if err := thumb.PrepareHEIF(); err != nil {
		log.Warn("HEIF decoders", "error", err.Error())
		return
	}
	log.Info("HEIF decoders compiled", "seconds", time.Since(start).Seconds())
}

// childMagic starts the child's output.
const childMagic = "THQ1"

// failurePrefix starts the line on which the child reports a fault of the file, after run's
// "thumbq decode-heif: ".
const failurePrefix = "failure "

// maxHEIFInput bounds what the child reads: more than any limit the worker's THUMBQ_MAX_BYTES
// allows (see package config).
const maxHEIFInput = 1 << 30

func runDecodeHEIF(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("decode-heif", "-shrink N -memory BYTES < FILE", decodeHEIFHelp, stderr)
	shrink := fs.Int("shrink", 1, "reduce each side by this integer factor")
	memory := fs.Int64("memory", 0, "memory limit in bytes, RLIMIT_DATA (required)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if *shrink < 1 || *memory <= 0 {
		fmt.Fprintln(stderr, "thumbq decode-heif: -shrink must be at least 1 and -memory set")
		return errUsage
	}
	if err := limitMemory(*memory); err != nil {
		return fmt.Errorf("limit the memory to %d bytes: %w", *memory, err)
	}
	// Have the collector free the decoders' outgrown linear memories before the hard limit.
	debug.SetMemoryLimit(*memory * 3 / 4)
	data, err := io.ReadAll(io.LimitReader(os.Stdin, maxHEIFInput))
	if err != nil {
		return fmt.Errorf("read the file: %w", err)
	}
	// The decoders' WebAssembly writes its diagnostics to os.Stdout, which is ours to answer on.
	os.Stdout = os.Stderr
	img, err := thumb.DecodeHEIFWhole(data, *shrink)
	if err != nil {
		if f := failure.As(err); f != nil {
			return fmt.Errorf("%s%s %s", failurePrefix, f.Code, f.Detail())
		}
		return err
	}
	w := bufio.NewWriterSize(stdout, 1<<16)
	head := endian.BigEndian.AppendUint32(endian.BigEndian.AppendUint32([]byte(childMagic), uint32(img.Rect.Dx())), uint32(img.Rect.Dy()))
	w.Write(head)
	for y := img.Rect.Min.Y; y < img.Rect.Max.Y; y++ {
		w.Write(img.Pix[img.PixOffset(img.Rect.Min.X, y):][:4*img.Rect.Dx()])
	}
	return w.Flush()
}

// childDecoder returns thumb.HEIFFullDecoder: it runs exe's decode-heif (this binary's when exe is
// "") with the file on standard input, the memory limit and the shrink, and reads the reduced
// image back. The child is
// killed when ctx ends (the image's deadline, THUMBQ_IMAGE_TIMEOUT, or the worker's stop) and
// when this process dies (Pdeathsig, Linux). Exceeding the memory limit is failure.TooMuchMemory;
// a fault the child reports keeps its code; a child that dies otherwise (a crash in the decoder
// on a hostile file) is failure.Corrupt; a child that cannot be started is a transient error.
func childDecoder(exe string) thumb.FullDecoder {
	return func(ctx context.Context, data []byte, shrink int, limit int64) (image.Image, error) {
		return decodeInChild(ctx, exe, data, shrink, limit)
	}
}

func decodeInChild(ctx context.Context, exe string, data []byte, shrink int, limit int64) (image.Image, error) {
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("find thumbq's binary for the HEIF decoder process: %w", err)
		}
	}
	cmd := exec.CommandContext(ctx, exe, "decode-heif", "-shrink", strconv.Itoa(shrink), "-memory", strconv.FormatInt(limit, 10))
	cmd.Stdin = bytes.NewReader(data)
	out := &cappedBuffer{max: int(min(limit, 1<<31))}
	errs := &cappedBuffer{max: 64 << 10, keepTail: true}
	cmd.Stdout, cmd.Stderr = out, errs
	cmd.SysProcAttr = childProcAttr()
	cmd.WaitDelay = 2 * time.Second
	start := time.Now()
	err := cmd.Run()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("HEIF decoder process killed after %s: %w", time.Since(start).Round(time.Millisecond), ctx.Err())
	}
	if err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			return nil, fmt.Errorf("run the HEIF decoder process: %w", err)
		}
		return nil, childFailure(errs.String(), limit, childPeak(cmd), err)
	}
	return readChildImage(out.Bytes())
}

// childFailure classifies the end of a child that failed, from its standard error.
func childFailure(stderr string, limit, peak int64, err error) error {
	// The Go runtime's "out of memory", or the decoder's mapping refused (wazero panics, caught
	// as the decoder's failure, or faults on the mapping it did not get: a SIGSEGV after the child
	// had used more than half its limit): the limit, whichever way it shows.
	last := lastLine(stderr)
	faulted := strings.Contains(stderr, "SIGSEGV") || strings.Contains(stderr, "unexpected fault address")
	if strings.Contains(stderr, "out of memory") || strings.Contains(stderr, "cannot allocate memory") || (faulted && peak > limit/2) {
		return failure.New(failure.TooMuchMemory, "", "decoding the whole image went over its process's memory limit of %d MB (%s)", limit>>20, last)
	}
	for line := range strings.Lines(stderr) {
		_, rest, ok := strings.Cut(strings.TrimSpace(line), "thumbq decode-heif: "+failurePrefix)
		if !ok {
			continue
		}
		code, detail, _ := strings.Cut(rest, " ")
		return &failure.Error{Code: failure.Code(code), Err: errors.New(detail)}
	}
	return failure.New(failure.Corrupt, "", "the HEIF decoder process failed (%v): %s", err, last)
}

// childPeak is the child's peak resident memory in bytes, 0 when unknown.
func childPeak(cmd *exec.Cmd) int64 {
	if cmd.ProcessState == nil {
		return 0
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss * 1024
	}
	return 0
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" && !strings.HasPrefix(l, "goroutine ") {
			return l
		}
	}
	return "no message"
}

// readChildImage reads the child's answer (see decodeHEIFHelp).
func readChildImage(b []byte) (*image.RGBA, error) {
	if len(b) < 12 || string(b[:4]) != childMagic {
		return nil, fmt.Errorf("the HEIF decoder process answered %d bytes without its header", len(b))
	}
	w, h := int64(endian.BigEndian.Uint32(b[4:])), int64(endian.BigEndian.Uint32(b[8:]))
	if w < 1 || h < 1 || int64(len(b)-12) != 4*w*h {
		return nil, fmt.Errorf("the HEIF decoder process answered %dx%d in %d bytes", w, h, len(b)-12)
	}
	return &image.RGBA{Pix: b[12:], Stride: 4 * int(w), Rect: image.Rect(0, 0, int(w), int(h))}, nil
}

// cappedBuffer keeps at most max bytes written to it: the first ones, or with keepTail the last.
type cappedBuffer struct {
	buf      bytes.Buffer
	max      int
	keepTail bool
	over     bool
	head     bytes.Buffer // with keepTail, the first headSize bytes too: a crash's reason ("out of memory") comes first, its goroutine dump after
}

const headSize = 8 << 10

func (c *cappedBuffer) Write(p []byte) (int, error) {
	if c.keepTail {
		if n := headSize - c.head.Len(); n > 0 {
			c.head.Write(p[:min(n, len(p))])
		}
		c.buf.Write(p)
		if extra := c.buf.Len() - c.max; extra > 0 {
			c.buf.Next(extra)
			c.over = true
		}
		return len(p), nil
	}
	if c.buf.Len()+len(p) > c.max {
		c.over = true
		return 0, errors.New("the HEIF decoder process wrote more than its memory limit")
	}
	return c.buf.Write(p)
}

func (c *cappedBuffer) Bytes() []byte { return c.buf.Bytes() }

// String is what was written; with keepTail, when more was written than kept, its head and tail.
func (c *cappedBuffer) String() string {
	if c.keepTail && c.over {
		return c.head.String() + "\n...\n" + c.buf.String()
	}
	return c.buf.String()
}
