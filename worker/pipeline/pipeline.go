// Package pipeline turns a work-queue message into thumbnails and notifications: it reads the S3
// event in the message body, and for each object it names resolves the object, checks it against
// the limits, downloads it, makes the thumbnail, uploads it under a deterministic key, presigns a
// URL for it and notifies subscribers.
//
// Its Handler is what package queue calls with each message body. It knows nothing of queues: it
// returns nil when the work is done, a *failure.Error when the input is at fault (retrying cannot
// help), and any other error when S3 or SNS did not answer (a retry may).
package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/thumbq/thumbq/worker/budget"
	"github.com/thumbq/thumbq/worker/config"
	"github.com/thumbq/thumbq/worker/event"
	"github.com/thumbq/thumbq/worker/failure"
	"github.com/thumbq/thumbq/worker/fit"
	"github.com/thumbq/thumbq/worker/thumb"
)

// Status is what became of an object.
type Status string

const (
	OK      Status = "ok"      // the thumbnail is written and presigned
	Failed  Status = "failed"  // permanently: the input is at fault (an Outcome's Err says why)
	Skipped Status = "skipped" // nothing to do: a folder placeholder, an empty object, a deleted one
)

// Result is what Process made of one object: Status OK or Skipped. A failure is Process's error.
type Result struct {
	Object event.Object // Key is the key the object really has
	Status Status
	Reason string // why it was skipped
	// Thumbnails are the thumbnails written, one per size (Processor.Thumb.Boxes()), in that order.
	Thumbnails []Thumbnail
	// ThumbnailKey, Width, Height, URL and URLExpires are the first size's, for the callers that
	// show one thumbnail.
	ThumbnailKey string
	Width        int
	Height       int
	SourceWidth  int
	SourceHeight int
	Format       string
	URL          string
	URLExpires   time.Time
	// MakeTime is how long decoding and making the thumbnails took (not the wait for memory).
	MakeTime time.Duration
	// Redelivery is set when this upload version was finished (made and notified) by an earlier
	// delivery: nothing was done again and nothing is to be notified.
	Redelivery bool
}

// Thumbnail is one size's thumbnail of an object.
type Thumbnail struct {
	Size          string // the box as THUMBQ_SIZES writes it: "64x64", "256x256:cover"
	Key           string
	Width, Height int
	URL           string
	URLExpires    time.Time
}

// Client interfaces: the few calls of the AWS SDK this package makes.
type (
	ObjectStore interface {
		HeadObject(ctx context.Context, in *s3.HeadObjectInput, opts ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
		GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
		PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error)
		DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, opts ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
	}
	Presigner interface {
		PresignGetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.PresignOptions)) (*v4.PresignedHTTPRequest, error)
	}
	Publisher interface {
		Publish(ctx context.Context, in *sns.PublishInput, opts ...func(*sns.Options)) (*sns.PublishOutput, error)
	}
)

// Processor holds what processing needs. Build it with its fields set; it is safe for concurrent use.
type Processor struct {
	Store     ObjectStore
	Presigner Presigner
	Publisher Publisher

	SourceBucket    string // events naming another bucket fail permanently
	ThumbnailBucket string
	TopicARN        string

	Thumb     thumb.Options
	MaxBytes  int64
	URLExpiry time.Duration
	// CredentialsExpire, when set, returns when the signing credentials expire (ok false when they
	// do not). A presigned URL stops working then, so its lifetime is capped there.
	CredentialsExpire func(ctx context.Context) (expires time.Time, ok bool, err error)
	// Budget, when set, admits an image to decoding only when its estimated peak memory is free
	// (see package budget); nil decodes at once.
	Budget *budget.Budget
	// ImageTimeout, when set, is the time making one image's thumbnails may take
	// (THUMBQ_IMAGE_TIMEOUT); an image over it fails permanently as failure.TooSlow.
	ImageTimeout time.Duration
	// ClaimTimeout is how long another delivery's claim to notify an upload is honoured; 0 means
	// DefaultClaimTimeout (see Notify).
	ClaimTimeout time.Duration
	Now          func() time.Time // nil means time.Now
}

// ThumbnailKey is where the thumbnail of a source key in box b goes: under the box's prefix
// ("64x64/" for contain, "256x256-cover/", see fit.Box.Prefix), then the source key and ".png".
// The same source always maps to the same key, so a redelivered message overwrites rather than
// duplicates; the box is part of it, so changing the sizes makes new thumbnails instead of mixing
// sizes under one name.
func ThumbnailKey(sourceKey string, b fit.Box) string {
	return b.Prefix() + "/" + sourceKey + ".png"
}

func (p *Processor) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// Process makes the thumbnail of one object and returns a Result with Status OK or Skipped. An
// error is a *failure.Error when the input is at fault (retrying cannot help; the Result then
// carries what was learnt of the object) and transient otherwise.
func (p *Processor) Process(ctx context.Context, obj event.Object, log *slog.Logger) (Result, error) {
	out := Result{Object: obj}
	if obj.Bucket != p.SourceBucket {
		return out, failure.New(failure.WrongBucket, "", "event for bucket %q, this worker reads %q", obj.Bucket, p.SourceBucket)
	}
	head, key, err := p.resolve(ctx, obj)
	if errors.Is(err, errNotFound) {
		out.Status, out.Reason = Skipped, "object no longer exists"
		return out, nil
	}
	if err != nil {
		return out, err
	}
	out.Object.Key, out.Object.AltKey = key, ""
	out.Object.Size, out.Object.ETag = orMinus1(head.ContentLength), strings.Trim(aws.ToString(head.ETag), `"`)
	if done, err := p.screen(ctx, &out, log); done || err != nil {
		return out, err
	}

	data, err := p.download(ctx, key, out.Object.ETag, out.Object.Size)
	if err != nil {
		return out, err
	}
	res, took, err := p.makeThumbnail(ctx, data, log)
	out.MakeTime = took
	if err != nil {
		if f := failure.As(err); f != nil {
			out.Format = f.Format
			return out, err
		}
		if ctx.Err() != nil {
			return out, err // stopped (the grace period ran out): transient, the message is handed back
		}
		return out, failure.Wrap(failure.Corrupt, err) // thumb's other errors are the image's fault
	}
	out.SourceWidth, out.SourceHeight, out.Format = res.SourceWidth, res.SourceHeight, res.Format
	for _, t := range res.Thumbnails {
		th, err := p.upload(ctx, obj.Bucket, key, out.Object.ETag, t)
		if err != nil {
			return out, err
		}
		out.Thumbnails = append(out.Thumbnails, th)
		log.Debug("thumbnail written", "thumbnail_key", th.Key, "width", th.Width, "height", th.Height)
	}
	first := out.Thumbnails[0]
	out.ThumbnailKey, out.Width, out.Height, out.URL, out.URLExpires = first.Key, first.Width, first.Height, first.URL, first.URLExpires
	out.Status = OK
	return out, nil
}

// screen decides, from the object's HEAD and its notification marker, what needs no download: a
// folder placeholder or an empty object (skipped), one over the byte limit (a failure), and a
// redelivery of an upload already made and notified (acknowledged). done is true when out is final.
func (p *Processor) screen(ctx context.Context, out *Result, log *slog.Logger) (done bool, err error) {
	key, size := out.Object.Key, out.Object.Size
	switch {
	case strings.HasSuffix(key, "/"):
		out.Status, out.Reason = Skipped, "folder placeholder"
		return true, nil
	case size == 0:
		out.Status, out.Reason = Skipped, "empty object"
		return true, nil
	case p.MaxBytes > 0 && size > p.MaxBytes:
		return true, failure.New(failure.TooLarge, "", "object is %d bytes, over the %d byte limit", size, p.MaxBytes)
	}
	st, err := p.noticeState(ctx, out.Object)
	if err != nil || st != noticeSent {
		return err != nil, err
	}
	// A redelivery of an upload whose thumbnails were made and notified: acknowledge it.
	out.Status, out.Reason, out.Redelivery = OK, "already made and notified", true
	for _, b := range p.Thumb.Boxes() {
		out.Thumbnails = append(out.Thumbnails, Thumbnail{Size: b.String(), Key: ThumbnailKey(key, b)})
	}
	out.ThumbnailKey = out.Thumbnails[0].Key
	log.Info("redelivery of a finished upload; acknowledged without making the thumbnail again")
	return true, nil
}

// upload writes one size's thumbnail under its key and presigns a link to it.
func (p *Processor) upload(ctx context.Context, bucket, key, etag string, t thumb.Thumbnail) (Thumbnail, error) {
	th := Thumbnail{Size: t.Box.String(), Key: ThumbnailKey(key, t.Box), Width: t.Width, Height: t.Height}
	_, err := p.Store.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        &p.ThumbnailBucket,
		Key:           &th.Key,
		Body:          bytes.NewReader(t.PNG),
		ContentLength: aws.Int64(int64(len(t.PNG))),
		ContentType:   aws.String("image/png"),
		Metadata: map[string]string{
			// S3 metadata travels as HTTP headers, so non-ASCII keys are percent-encoded here.
			"source-bucket": bucket,
			"source-key":    url.PathEscape(key),
			"source-etag":   etag,
		},
	})
	if err != nil {
		return th, fmt.Errorf("put s3://%s/%s: %w", p.ThumbnailBucket, th.Key, err)
	}
	th.URL, th.URLExpires, err = p.presign(ctx, th.Key)
	return th, err
}

// makeThumbnail makes the thumbnail once the image's estimated peak memory fits in the budget:
// it reads the header, waits for that much of the budget (the message's heartbeat goes on), and
// refuses at once an image that could never fit.
func (p *Processor) makeThumbnail(ctx context.Context, data []byte, log *slog.Logger) (thumb.Result, time.Duration, error) {
	if p.Budget == nil {
		return p.timedMake(ctx, data, "")
	}
	h, need, err := thumb.Estimate(data, p.Thumb)
	if err != nil {
		return thumb.Result{}, 0, err
	}
	release, waited, err := p.Budget.Acquire(ctx, need)
	var over *budget.ErrOverBudget
	if errors.As(err, &over) {
		return thumb.Result{}, 0, &failure.Error{Code: failure.OverMemoryBudget, Format: h.Format,
			Err: fmt.Errorf("%s %dx%d: %w", h.Format, h.Width, h.Height, err)}
	}
	if err != nil {
		return thumb.Result{}, 0, fmt.Errorf("wait for %d MB of the memory budget: %w", need>>20, err)
	}
	defer release()
	if waited > 0 {
		log.Info("waited for memory", "format", h.Format, "width", h.Width, "height", h.Height,
			"estimate_bytes", need, "waited", waited.Round(time.Millisecond).String())
	}
	return p.timedMake(ctx, data, h.Format)
}

// timedMake makes the thumbnails and says how long that took (decoding included, waiting for
// memory not), for the DecodeTime metric.
func (p *Processor) timedMake(ctx context.Context, data []byte, format string) (thumb.Result, time.Duration, error) {
	start := time.Now()
	res, err := p.makeWithin(ctx, data, format)
	return res, time.Since(start), err
}

// errImageTimeout is the cause of the context makeWithin gives thumb.Make.
var errImageTimeout = errors.New("image time budget spent")

// makeWithin makes the thumbnails within the image's time budget, ImageTimeout. Running out of it
// is the image's doing (a file built to be slow is as slow on every receive): it fails
// permanently as failure.TooSlow. ctx ending first (a stop: the grace period after SIGTERM) is
// not, and its error stays transient, so the message is handed back.
func (p *Processor) makeWithin(ctx context.Context, data []byte, format string) (thumb.Result, error) {
	if p.ImageTimeout <= 0 {
		return thumb.Make(ctx, data, p.Thumb)
	}
	mctx, cancel := context.WithTimeoutCause(ctx, p.ImageTimeout, errImageTimeout)
	defer cancel()
	res, err := thumb.Make(mctx, data, p.Thumb)
	if err != nil && ctx.Err() == nil && errors.Is(context.Cause(mctx), errImageTimeout) && !failure.IsPermanent(err) {
		return res, &failure.Error{Code: failure.TooSlow, Format: format,
			Err: fmt.Errorf("thumbnails not made within %s: %w", p.ImageTimeout, err)}
	}
	return res, err
}

var errNotFound = errors.New("not found")

// resolve finds the object under Key or, failing that, AltKey (see package event).
func (p *Processor) resolve(ctx context.Context, obj event.Object) (*s3.HeadObjectOutput, string, error) {
	keys := []string{obj.Key}
	if obj.AltKey != "" {
		keys = append(keys, obj.AltKey)
	}
	for _, k := range keys {
		h, err := p.Store.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &obj.Bucket, Key: &k})
		if err == nil {
			return h, k, nil
		}
		if !isNotFound(err) {
			return nil, "", fmt.Errorf("head s3://%s/%s: %w", obj.Bucket, k, err)
		}
	}
	return nil, "", errNotFound
}

// download reads the object, never more than the byte cap, and only the version that was checked.
func (p *Processor) download(ctx context.Context, key, etag string, size int64) ([]byte, error) {
	in := &s3.GetObjectInput{Bucket: &p.SourceBucket, Key: &key}
	if etag != "" {
		in.IfMatch = aws.String(`"` + etag + `"`)
	}
	o, err := p.Store.GetObject(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("get s3://%s/%s: %w", p.SourceBucket, key, err)
	}
	defer o.Body.Close()
	limit := p.MaxBytes
	if limit <= 0 {
		limit = size
	}
	buf := bytes.NewBuffer(make([]byte, 0, min(size, limit)+bytes.MinRead))
	n, err := buf.ReadFrom(io.LimitReader(o.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read s3://%s/%s: %w", p.SourceBucket, key, err)
	}
	if p.MaxBytes > 0 && n > p.MaxBytes {
		return nil, failure.New(failure.TooLarge, "", "object is over the %d byte limit", p.MaxBytes)
	}
	return buf.Bytes(), nil
}

// presign returns a GET URL for the thumbnail that lasts URLExpiry, or less when the signing
// credentials expire sooner (a role's credentials do, in at most a few hours; the URL would stop
// working then whatever it claims).
func (p *Processor) presign(ctx context.Context, key string) (string, time.Time, error) {
	expiry := p.URLExpiry
	now := p.now()
	if p.CredentialsExpire != nil {
		exp, ok, err := p.CredentialsExpire(ctx)
		if err != nil {
			return "", time.Time{}, fmt.Errorf("signing credentials: %w", err)
		}
		if ok {
			left := exp.Sub(now).Truncate(time.Second)
			if left < time.Second {
				return "", time.Time{}, fmt.Errorf("signing credentials expired at %s", exp.Format(time.RFC3339))
			}
			expiry = min(expiry, left)
		}
	}
	req, err := p.Presigner.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: &p.ThumbnailBucket, Key: &key},
		s3.WithPresignExpires(expiry))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("presign s3://%s/%s: %w", p.ThumbnailBucket, key, err)
	}
	return req.URL, now.Add(expiry).UTC().Truncate(time.Second), nil
}

func orMinus1(n *int64) int64 {
	if n == nil {
		return -1
	}
	return *n
}

// New builds a Processor from the worker's configuration and SDK clients.
func New(c config.Config, s3c *s3.Client, snsc Publisher, credentialsExpire func(context.Context) (time.Time, bool, error)) *Processor {
	p := &Processor{
		Store:             s3c,
		Presigner:         s3.NewPresignClient(s3c),
		Publisher:         snsc,
		SourceBucket:      c.SourceBucket,
		ThumbnailBucket:   c.ThumbnailBucket,
		TopicARN:          c.TopicARN,
		Thumb:             thumb.Options{Sizes: c.Boxes(), MaxPixels: c.MaxPixels},
		MaxBytes:          c.MaxBytes,
		URLExpiry:         c.URLExpiry,
		CredentialsExpire: credentialsExpire,
		ImageTimeout:      c.ImageTimeout,
	}
	if c.MemoryBudget > 0 {
		p.Budget = budget.New(c.MemoryBudget)
	}
	return p
}
