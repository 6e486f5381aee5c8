package thumb

import (
	"fmt"
	"strconv"
)

// Reason classifies why an input was refused. Every Reason is permanent: the same bytes will fail
// the same way on every attempt, so a caller never retries them.
type Reason string

const (
	NotImage    Reason = "not-an-image"       // bytes are no image format we know
	Unsupported Reason = "unsupported-format" // a known image format (or variant) we do not decode
	TooLarge    Reason = "too-many-pixels"    // over MaxPixels (or absurd dimensions)
	Corrupt     Reason = "corrupt"            // truncated or malformed
)

// Error is the only kind of error Make returns. Error() reads like
// "too-many-pixels: png 30000x30000 is 900 megapixels, over the 100 megapixel limit".
type Error struct {
	Reason Reason
	Format string // the sniffed format, "" when unknown
	Err    error  // what went wrong, without the reason
}

func (e *Error) Error() string {
	if e.Err == nil {
		return string(e.Reason)
	}
	return string(e.Reason) + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

func fail(reason Reason, format string, msg string, args ...any) *Error {
	return &Error{Reason: reason, Format: format, Err: fmt.Errorf(msg, args...)}
}

// megapixels formats a pixel count in megapixels without rounding that would hide a difference
// from the limit (100000001 pixels is "100.000001", not "100").
func megapixels(n int64) string {
	mp := float64(n) / 1e6
	if mp >= 10 {
		return strconv.FormatFloat(mp, 'f', 0, 64) // 4295, not 4294.836225
	}
	return strconv.FormatFloat(mp, 'f', -1, 64)
}
