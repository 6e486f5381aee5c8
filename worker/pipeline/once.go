package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/thumbq/thumbq/worker/config"
	"github.com/thumbq/thumbq/worker/event"
)

// One notification per upload version, across redeliveries, duplicate workers and lost responses:
// before publishing, the worker claims a marker object in the thumbnail bucket with a conditional
// write (If-None-Match: *), keyed by the source key and its ETag. Only the worker whose write
// succeeds publishes, then overwrites the marker with "sent". A redelivery that finds "sent" is
// acknowledged at once, without downloading or decoding; one that finds "pending" waits while the
// claim is younger than ClaimTimeout (its message stays invisible meanwhile), for it to turn
// "sent" or stale. A live claimant never holds a claim longer: its claim, publish and marker
// write are bounded by config.RequestTimeout. A stale claim means the claimant died between
// claiming and publishing, and the notification is sent again. The markers expire with the
// thumbnail bucket's lifecycle.

// MarkerPrefix is where the notification markers live in the thumbnail bucket (config.MarkerPrefix,
// which the stack's task role is scoped to).
const MarkerPrefix = config.MarkerPrefix

// DefaultClaimTimeout is how long a "pending" claim is honoured before another delivery takes over:
// longer than a live claimant can take (config.RequestTimeout), short enough to wait out while
// the message is held.
const DefaultClaimTimeout = config.RequestTimeout + 5*time.Second

type noticeState int

const (
	noticeNone    noticeState = iota // no marker: nobody has notified this upload version
	noticePending                    // claimed, not known to be sent
	noticeSent                       // a thumbnail's notification published: the upload is finished
	noticeFailed                     // a failure's notification published: a later delivery (a redrive) may still succeed
)

const (
	markPending = "pending"
	markSent    = "sent"        // also what markers written before failures were told apart read
	markFailed  = "sent failed" // a failure was notified
)

// markerKey is the marker of an upload version, "" when the version is unknown (no ETag).
func markerKey(obj event.Object) string {
	if obj.ETag == "" || obj.Key == "" {
		return ""
	}
	return MarkerPrefix + obj.ETag + "/" + obj.Key
}

// noticeState reads the marker of an upload version.
func (p *Processor) noticeState(ctx context.Context, obj event.Object) (noticeState, error) {
	st, _, err := p.readMarker(ctx, markerKey(obj))
	return st, err
}

func (p *Processor) readMarker(ctx context.Context, key string) (noticeState, time.Time, error) {
	if key == "" {
		return noticeNone, time.Time{}, nil
	}
	o, err := p.Store.GetObject(ctx, &s3.GetObjectInput{Bucket: &p.ThumbnailBucket, Key: &key})
	if isNotFound(err) {
		return noticeNone, time.Time{}, nil
	}
	if err != nil {
		return noticeNone, time.Time{}, fmt.Errorf("read marker s3://%s/%s: %w", p.ThumbnailBucket, key, err)
	}
	defer o.Body.Close()
	b, err := io.ReadAll(io.LimitReader(o.Body, 64))
	if err != nil {
		return noticeNone, time.Time{}, fmt.Errorf("read marker s3://%s/%s: %w", p.ThumbnailBucket, key, err)
	}
	switch strings.TrimSpace(string(b)) {
	case markSent:
		return noticeSent, aws.ToTime(o.LastModified), nil
	case markFailed:
		return noticeFailed, aws.ToTime(o.LastModified), nil
	}
	return noticePending, aws.ToTime(o.LastModified), nil
}

func (p *Processor) writeMarker(ctx context.Context, key, state string, onlyIfNew bool) error {
	in := &s3.PutObjectInput{Bucket: &p.ThumbnailBucket, Key: &key, Body: bytes.NewReader([]byte(state)),
		ContentLength: aws.Int64(int64(len(state))), ContentType: aws.String("text/plain")}
	if onlyIfNew {
		in.IfNoneMatch = aws.String("*")
	}
	_, err := p.Store.PutObject(ctx, in)
	return err
}

// errClaimed says another delivery holds a fresh claim: try again later.
var errClaimed = errors.New("another delivery is notifying this upload")

// claim takes the right to notify an upload version, waiting out another delivery's fresh claim.
// It returns false, nil when the notification was sent already: any notification for a failure
// (one failure notification per upload version), a thumbnail's for a thumbnail. A thumbnail made
// after a failure was notified (a redrive once the cause is mended) is notified too.
func (p *Processor) claim(ctx context.Context, key string, ok bool) (bool, error) {
	deadline := p.now().Add(p.claimTimeout() + time.Second)
	for {
		claimed, err := p.claimOnce(ctx, key, ok)
		if err != errClaimed || !p.now().Before(deadline) {
			return claimed, err
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (p *Processor) claimOnce(ctx context.Context, key string, ok bool) (bool, error) {
	err := p.writeMarker(ctx, key, markPending, true)
	if err == nil {
		return true, nil
	}
	if !preconditionFailed(err) {
		return false, fmt.Errorf("claim s3://%s/%s: %w", p.ThumbnailBucket, key, err)
	}
	st, since, err := p.readMarker(ctx, key)
	switch {
	case err != nil:
		return false, err
	case st == noticeSent, st == noticeFailed && !ok:
		return false, nil
	case st == noticePending && p.now().Sub(since) < p.claimTimeout():
		return false, errClaimed
	}
	// Stale (the claimant died before publishing), deleted between the two calls (it gave up), or
	// a failure notified before this thumbnail was made.
	if err := p.writeMarker(ctx, key, markPending, false); err != nil {
		return false, fmt.Errorf("claim s3://%s/%s: %w", p.ThumbnailBucket, key, err)
	}
	return true, nil
}

func (p *Processor) claimTimeout() time.Duration {
	if p.ClaimTimeout > 0 {
		return p.ClaimTimeout
	}
	return DefaultClaimTimeout
}

// Notify publishes the notification of an outcome once per upload version (see MarkerPrefix).
// A publish that fails releases the claim, so the retry publishes.
func (p *Processor) Notify(ctx context.Context, o Outcome) error {
	key := markerKey(o.Object)
	if key != "" {
		// Bound the whole claim -> publish -> mark, so a claim is never held longer than
		// ClaimTimeout by a live worker.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.claimTimeout()+config.RequestTimeout+2*time.Second)
		defer cancel()
	}
	if key == "" {
		return p.publish(ctx, o)
	}
	claimed, err := p.claim(ctx, key, o.Status == OK)
	if err != nil || !claimed {
		return err
	}
	pctx, cancel := context.WithTimeout(ctx, config.RequestTimeout)
	defer cancel()
	if err := p.publish(pctx, o); err != nil {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		p.Store.DeleteObject(dctx, &s3.DeleteObjectInput{Bucket: &p.ThumbnailBucket, Key: &key}) // best effort: a stale claim is taken over anyway
		return err
	}
	for try := 0; ; try++ {
		err = p.writeMarker(ctx, key, sentMark(o), false)
		if err == nil || try == 2 {
			break
		}
		time.Sleep(time.Duration(200<<try) * time.Millisecond)
	}
	if err != nil {
		// Published, so not an error of the work: a redelivery would find a pending claim and, once
		// it is stale, notify again. Said, not hidden.
		return &markError{fmt.Errorf("notified, but the marker s3://%s/%s was not written: %w", p.ThumbnailBucket, key, err)}
	}
	return nil
}

// markError is a marker left "pending" after a successful publish. It is not a reason to retry.
type markError struct{ err error }

func (e *markError) Error() string { return e.err.Error() }
func (e *markError) Unwrap() error { return e.err }

// preconditionFailed reports whether a conditional write found the object there already.
func preconditionFailed(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) && (ae.ErrorCode() == "PreconditionFailed" || ae.ErrorCode() == "ConditionalRequestConflict") {
		return true
	}
	var re interface{ HTTPStatusCode() int }
	return errors.As(err, &re) && re.HTTPStatusCode() == 412
}

func sentMark(o Outcome) string {
	if o.Status == OK {
		return markSent
	}
	return markFailed
}
