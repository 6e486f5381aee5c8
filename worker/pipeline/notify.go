package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"

	"github.com/thumbq/thumbq/worker/event"
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

// NewNotification renders the notification of an outcome; thumbnailBucket is the bucket its
// thumbnail is in.
func NewNotification(o Outcome, thumbnailBucket string, now time.Time) Notification {
	n := Notification{Attributes: map[string]string{
		"bucket":          o.Object.Bucket,
		"key":             o.Object.Key,
		"status":          string(o.Status),
		"notification-id": NotificationID(o.Object),
	}}
	var b strings.Builder
	var subject string
	switch o.Status {
	case OK:
		subject = "Thumbnail ready: "
		thumbs := o.Thumbnails
		if len(thumbs) == 0 { // an Outcome built by hand with the first size's fields only
			thumbs = []Thumbnail{{Key: o.ThumbnailKey, Width: o.Width, Height: o.Height, URL: o.URL, URLExpires: o.URLExpires}}
		}
		what, links := "A thumbnail of s3://%s/%s is ready.\n\n", "The link works"
		if len(thumbs) > 1 {
			what, links = fmt.Sprintf("%d thumbnails of s3://%%s/%%s are ready.\n\n", len(thumbs)), "The links work"
		}
		fmt.Fprintf(&b, what, o.Object.Bucket, o.Object.Key)
		fmt.Fprintf(&b, "Source:     %s, %dx%d pixels\n", o.Format, o.SourceWidth, o.SourceHeight)
		for _, t := range thumbs {
			size := ""
			if t.Size != "" && len(thumbs) > 1 {
				size = " (" + t.Size + ")"
			}
			fmt.Fprintf(&b, "Thumbnail:  %dx%d PNG%s, s3://%s/%s\n", t.Width, t.Height, size, thumbnailBucket, t.Key)
			fmt.Fprintf(&b, "Link:       %s\n", t.URL)
		}
		exp := thumbs[0].URLExpires
		fmt.Fprintf(&b, "%s until %s (%s from now).\n", links, exp.Format(time.RFC1123), roundDuration(exp.Sub(now)))
	default:
		subject = "Thumbnail failed: "
		fmt.Fprintf(&b, "No thumbnail could be made of s3://%s/%s.\n\n", o.Object.Bucket, o.Object.Key)
		code, detail := failure.Code("unknown"), ""
		if o.Err != nil {
			code, detail = o.Err.Code, o.Err.Detail()
		}
		fmt.Fprintf(&b, "Reason: %s\n", code)
		fmt.Fprintf(&b, "Detail: %s\n\n", detail)
		if code == failure.RetriesExhausted {
			b.WriteString("Every try failed for a passing cause (S3, SNS or the network: the detail is the last).\n")
			b.WriteString("The event is kept in the dead-letter queue for 14 days: once the cause is mended,\n")
			b.WriteString("thumbq redrive sends it back to be tried again.\n")
		} else {
			b.WriteString("The file itself is at fault (or over this deployment's limits), so trying it again fails\n")
			b.WriteString("the same way: upload a mended file and a new thumbnail is made. The event is kept in the\n")
			b.WriteString("dead-letter queue for 14 days.\n")
		}
		n.Attributes["reason"] = string(code)
		n.Attributes["detail"] = truncate(detail, 256)
	}
	n.Body = b.String()
	n.Subject = subjectFor(subject, o.Object.Key)
	return n
}

// publish publishes the notification of an outcome to the topic (Notify makes it once per upload).
func (p *Processor) publish(ctx context.Context, o Outcome) error {
	n := NewNotification(o, p.ThumbnailBucket, p.now())
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

// maxSubject is SNS's limit for an email subject: under 100 characters.
const maxSubject = 99

// subjectFor makes a valid SNS email subject of prefix and key: printable ASCII, no line breaks,
// under 100 characters. A key that is not plain ASCII is transliterated (asciiSubject), a long
// one shortened with "...", and then the subject says the exact key is in the message.
func subjectFor(prefix, key string) string {
	ascii, exact := asciiSubject(key)
	if exact && len(prefix)+len(ascii) <= maxSubject {
		return prefix + ascii
	}
	const note = " (exact key in the message)"
	if room := maxSubject - len(prefix) - len(note); len(ascii) > room {
		ascii = ascii[:room-3] + "..."
	}
	return prefix + ascii + note
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

// NotificationID names the one notification of an upload version: the same for every delivery of
// it. Publishing is effectively once (see Notify), but an SNS Publish whose answer is lost is
// published again by the SDK or a redelivery, and no sender can tell; a subscriber that must never
// see a duplicate (the email digest) drops a notification-id it has seen.
func NotificationID(obj event.Object) string {
	sum := sha256.Sum256([]byte(obj.Bucket + "\x00" + obj.Key + "\x00" + obj.ETag))
	return hex.EncodeToString(sum[:16])
}
