package pipeline

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"

	"github.com/thumbq/thumbq/worker/failure"
)

// Notification is what Notify publishes: an email subscriber reads Subject and Body; a subscriber
// with a filter policy filters on the attributes bucket, key, status and, for a failure, reason
// (the bare failure code, such as too-many-pixels; the text for people is in detail and the body).
type Notification struct {
	Subject    string
	Body       string
	Attributes map[string]string
}

// NewNotification renders the notification of an outcome.
func NewNotification(o Outcome, now time.Time) Notification {
	n := Notification{Attributes: map[string]string{
		"bucket": o.Object.Bucket,
		"key":    o.Object.Key,
		"status": string(o.Status),
	}}
	var b strings.Builder
	switch o.Status {
	case OK:
		n.Subject = "Thumbnail ready: " + o.Object.Key
		fmt.Fprintf(&b, "A thumbnail of s3://%s/%s is ready.\n\n", o.Object.Bucket, o.Object.Key)
		fmt.Fprintf(&b, "Source:     %s, %dx%d pixels\n", o.Format, o.SourceWidth, o.SourceHeight)
		fmt.Fprintf(&b, "Thumbnail:  %dx%d PNG, s3://.../%s\n", o.Width, o.Height, o.ThumbnailKey)
		fmt.Fprintf(&b, "Link:       %s\n", o.URL)
		fmt.Fprintf(&b, "The link works until %s (%s from now).\n", o.URLExpires.Format(time.RFC1123), roundDuration(o.URLExpires.Sub(now)))
	default:
		n.Subject = "Thumbnail failed: " + o.Object.Key
		fmt.Fprintf(&b, "No thumbnail could be made of s3://%s/%s.\n\n", o.Object.Bucket, o.Object.Key)
		code, detail := failure.Code("unknown"), ""
		if o.Err != nil {
			code, detail = o.Err.Code, o.Err.Detail()
		}
		fmt.Fprintf(&b, "Reason: %s\n", code)
		fmt.Fprintf(&b, "Detail: %s\n\n", detail)
		b.WriteString("The file itself is at fault, so trying it again fails the same way: upload a mended file\n")
		b.WriteString("and a new thumbnail is made. The event is kept in the dead-letter queue for 14 days.\n")
		n.Attributes["reason"] = string(code)
		n.Attributes["detail"] = truncate(detail, 256)
	}
	n.Body = b.String()
	n.Subject = subjectSafe(n.Subject)
	return n
}

// publish publishes the notification of an outcome to the topic (Notify makes it once per upload).
func (p *Processor) publish(ctx context.Context, o Outcome) error {
	n := NewNotification(o, p.now())
	attrs := make(map[string]snstypes.MessageAttributeValue, len(n.Attributes))
	for k, v := range n.Attributes {
		if v == "" {
			continue // SNS refuses empty attribute values
		}
		attrs[k] = snstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
	}
	_, err := p.Publisher.Publish(ctx, &sns.PublishInput{
		TopicArn:          &p.TopicARN,
		Subject:           &n.Subject,
		Message:           &n.Body,
		MessageAttributes: attrs,
	})
	if err != nil {
		return fmt.Errorf("publish to %s: %w", p.TopicARN, err)
	}
	return nil
}

// subjectSafe makes s a valid SNS email subject: printable ASCII, no line breaks, under 100
// characters. Letters outside ASCII become "?" (the body carries the exact key).
func subjectSafe(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r < 0x80 && unicode.IsPrint(r):
			b.WriteRune(r)
		case unicode.IsSpace(r):
			b.WriteByte(' ')
		default:
			b.WriteByte('?')
		}
	}
	out := b.String()
	if len(out) > 99 {
		out = out[:96] + "..."
	}
	return out
}

func roundDuration(d time.Duration) time.Duration {
	switch {
	case d > time.Hour:
		return d.Round(time.Minute)
	default:
		return d.Round(time.Second)
	}
}

// truncate shortens s to at most n bytes without cutting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
