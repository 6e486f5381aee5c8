package pipeline

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/thumbq/thumbq/worker/event"
	"github.com/thumbq/thumbq/worker/failure"
)

// Outcome is what became of one object once it is recorded: a Result, or a permanent failure.
// Notifications and local mode's report are made from it.
type Outcome struct {
	Result
	Err *failure.Error // set when Status is Failed
}

// failedOutcome records a permanent failure of an object, keeping what Process learnt of it.
func failedOutcome(r Result, err *failure.Error) Outcome {
	r.Status = Failed
	if r.Format == "" {
		r.Format = err.Format
	}
	return Outcome{Result: r, Err: err}
}

// Failures is the error Handle returns when objects of a message failed permanently. It wraps each
// object's *failure.Error, so errors.As finds the first; DeadLettered reads the objects back from it.
type Failures struct {
	Outcomes []Outcome // every one Failed
}

func (f *Failures) Error() string {
	s := ""
	for i, o := range f.Outcomes {
		if i > 0 {
			s += "; "
		}
		s += o.Object.Key + ": " + o.Err.Error()
	}
	return s
}

func (f *Failures) Unwrap() []error {
	errs := make([]error, len(f.Outcomes))
	for i, o := range f.Outcomes {
		errs[i] = o.Err
	}
	return errs
}

// Handler turns work-queue messages into thumbnails and notifications. It is what package queue
// calls; set its fields, then pass it to the consumer.
type Handler struct {
	Processor *Processor
	// OnOutcome, when set, is called once an object's outcome is recorded: an OK one after its
	// notification is published, a failed one after its message is dead-lettered (local mode
	// writes its report from it).
	OnOutcome func(Outcome)
}

// Handle processes every object a message body names. It returns nil when every one has its
// thumbnail (notified) or was skipped; a *Failures, which wraps *failure.Error, when some failed
// permanently (the queue then dead-letters the message and calls DeadLettered); and any other error
// when the work could not be done now (the queue leaves the message to SQS).
func (h *Handler) Handle(ctx context.Context, body []byte, log *slog.Logger) error {
	objs, err := event.Parse(body)
	if err != nil {
		return failure.Wrap(failure.MalformedEvent, err)
	}
	var done []Outcome
	var failed Failures
	for _, obj := range objs {
		olog := log
		if len(objs) > 1 { // one object: the queue's log already names it (Describe)
			olog = log.With("bucket", obj.Bucket, "key", obj.Key)
		}
		r, err := h.Processor.Process(ctx, obj, olog)
		if f := failure.As(err); f != nil {
			failed.Outcomes = append(failed.Outcomes, failedOutcome(r, f))
			continue
		}
		if err == nil && r.Status == OK && !r.Redelivery {
			err = h.Processor.Notify(ctx, Outcome{Result: r})
			var me *markError
			if errors.As(err, &me) {
				olog.Warn("notification sent; its marker was not written", "error", err)
				err = nil
			}
		}
		if err != nil {
			return err
		}
		done = append(done, Outcome{Result: r})
	}
	for _, o := range done {
		log.Info("done", "resolved_key", o.Object.Key, "outcome", string(o.Status),
			"reason", o.Reason, "thumbnail_key", o.ThumbnailKey, "width", o.Width, "height", o.Height)
		h.record(o)
	}
	if len(objs) == 0 {
		log.Info("done", "outcome", "nothing to do")
	}
	if len(failed.Outcomes) > 0 {
		return &failed
	}
	return nil
}

// DeadLettered is called by the queue once a message whose Handle failed permanently, or whose
// retries ran out, is in the dead-letter queue: each failed object is notified with its code and
// detail.
func (h *Handler) DeadLettered(ctx context.Context, body []byte, err error, log *slog.Logger) {
	for _, o := range deadOutcomes(body, err) {
		// Nothing delivers this message again to retry the notification: try here while ctx lasts.
		nerr := h.Processor.Notify(ctx, o)
		for wait := 500 * time.Millisecond; nerr != nil && !errors.As(nerr, new(*markError)) && ctx.Err() == nil; wait *= 2 {
			log.Warn("failure notification not sent; trying again", "key", o.Object.Key, "error", nerr, "retry_in", wait.String())
			select {
			case <-ctx.Done():
			case <-time.After(wait):
				nerr = h.Processor.Notify(ctx, o)
			}
		}
		if nerr != nil {
			log.Error("failure notification not sent", "key", o.Object.Key, "error", nerr)
		}
		h.record(o)
	}
}

// deadOutcomes are the failed outcomes of a dead-lettered message: those Handle returned, or, when
// the queue gave up retrying, one per object the message names. A malformed event names none.
func deadOutcomes(body []byte, err error) []Outcome {
	var fs *Failures
	if errors.As(err, &fs) {
		return fs.Outcomes
	}
	f := failure.As(err)
	if f == nil || f.Code == failure.MalformedEvent {
		return nil
	}
	objs, _ := event.Parse(body)
	out := make([]Outcome, 0, len(objs))
	for _, obj := range objs {
		out = append(out, failedOutcome(Result{Object: obj}, f))
	}
	return out
}

// Describe names the objects a message body is about, for the queue's log lines.
func (h *Handler) Describe(body []byte) []any {
	objs, err := event.Parse(body)
	if err != nil || len(objs) == 0 {
		return nil
	}
	if len(objs) == 1 {
		return []any{"bucket", objs[0].Bucket, "key", objs[0].Key}
	}
	keys := make([]string, len(objs))
	for i, o := range objs {
		keys[i] = o.Key
	}
	return []any{"bucket", objs[0].Bucket, "keys", keys}
}

func (h *Handler) record(o Outcome) {
	if h.OnOutcome != nil {
		h.OnOutcome(o)
	}
}
