// Package failure is thumbq's one failure type: a permanent failure (the input is at fault and
// retrying cannot mend it), with a stable code and a detail for people.
//
// The code is public API: it is the SNS "reason" message attribute that subscription filter
// policies match on, the dead-letter queue's thumbq-reason attribute, and the README's table of
// codes. Every other error is transient: SQS delivers the message again.
//
// The package knows nothing of AWS, so the image engine (package thumb) returns these errors too.
package failure

import (
	"errors"
	"fmt"
)

// Code is the stable, machine-readable name of a permanent failure.
type Code string

// The codes. Add one here, to Codes and to the README's table together.
const (
	NotImage       Code = "not-an-image"       // the bytes are no image format thumbq knows
	Unsupported    Code = "unsupported-format" // a known image format, or a variant of one, that thumbq does not decode
	TooManyPixels  Code = "too-many-pixels"    // over the pixel limit, or absurd dimensions
	Corrupt        Code = "corrupt"            // truncated or malformed image data
	TooLarge       Code = "too-large"          // the object is over the byte limit
	WrongBucket    Code = "wrong-bucket"       // the event names a bucket this worker does not read
	MalformedEvent Code = "malformed-event"    // the message is not an S3 "Object Created" event
	// RetriesExhausted is a transient failure that lasted through the last receive SQS allows: the
	// worker dead-letters the message itself with the last error as the detail.
	RetriesExhausted Code = "retries-exhausted"
	// OverMemoryBudget is an image whose estimated decoding memory exceeds the worker's whole
	// memory budget: it could never be admitted.
	OverMemoryBudget Code = "over-memory-budget"
	// TooSlow is an image whose thumbnails were not made within THUMBQ_IMAGE_TIMEOUT: a file built
	// to be slow would be as slow on every receive.
	TooSlow Code = "too-slow"
	// TooMuchMemory is a HEIF image without a usable thumbnail item whose whole decode, in a
	// process of its own, went over that process's memory limit.
	TooMuchMemory Code = "too-much-memory"
)

// Codes lists every code with what it means, in the order the README's table gives them.
func Codes() []struct {
	Code    Code
	Meaning string
} {
	return []struct {
		Code    Code
		Meaning string
	}{
		{NotImage, "the object's bytes are no image format thumbq knows (a text file, a PDF, ...)"},
		{Unsupported, "a known image format, or a variant of one, that thumbq does not decode"},
		{TooManyPixels, "the image's header declares more pixels than THUMBQ_MAX_PIXELS, or absurd dimensions"},
		{Corrupt, "the image data is truncated or malformed"},
		{TooLarge, "the object is larger than THUMBQ_MAX_BYTES"},
		{WrongBucket, "the event names a bucket other than THUMBQ_SOURCE_BUCKET"},
		{MalformedEvent, "the queue message is not an S3 \"Object Created\" event thumbq can read"},
		{OverMemoryBudget, "decoding the image would need more memory than the worker's whole budget (its estimate, from the header, before decoding)"},
		{TooSlow, "making the image's thumbnails took longer than THUMBQ_IMAGE_TIMEOUT"},
		{TooMuchMemory, "decoding a HEIC or AVIF image whole (it has no thumbnail item large enough) would need more than its decoder process's 400 MB (refused from the header), or went over the process's limit"},
		{RetriesExhausted, "S3, SNS or the network failed on every receive the queue allows (3); the detail is the last error"},
	}
}

// Error is a permanent failure. Error() reads "code: detail".
type Error struct {
	Code   Code
	Format string // the sniffed image format, "" when unknown or not about an image
	Err    error  // what went wrong, without the code
}

func (e *Error) Error() string {
	if e.Err == nil {
		return string(e.Code)
	}
	return string(e.Code) + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Detail is the text for people, without the code.
func (e *Error) Detail() string {
	if e.Err == nil {
		return ""
	}
	return e.Err.Error()
}

// New returns a permanent failure with a formatted detail.
func New(code Code, format string, msg string, args ...any) *Error {
	return &Error{Code: code, Format: format, Err: fmt.Errorf(msg, args...)}
}

// Wrap returns err as a permanent failure with the code (nil stays nil).
func Wrap(code Code, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Code: code, Err: err}
}

// As returns the permanent failure in err's chain, or nil when err is transient.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// IsPermanent reports whether err is, or wraps, a permanent failure.
func IsPermanent(err error) bool { return As(err) != nil }
