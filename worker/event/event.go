// Package event reads the messages the work queue receives and says which S3 objects they name.
//
// Three shapes are understood:
//   - the EventBridge "Object Created" event the thumbq rule delivers (source "aws.s3"),
//   - the classic S3 event notification ({"Records": [...]}, also its s3:TestEvent),
//   - either of those wrapped in an SNS envelope ({"Type": "Notification", "Message": "..."}).
//
// Keys: classic notifications URL-encode the key ("red flower.jpg" arrives as "red+flower.jpg"),
// EventBridge events carry it as stored. Since a producer may do either, an Object carries the
// key read the way its shape is documented (Key) and, when the other reading differs, that one
// too (AltKey): the caller tries Key and falls back to AltKey if no object has that key.
package event

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Object is one S3 object a message names.
type Object struct {
	Bucket string
	Key    string // the key, decoded as its shape documents
	AltKey string // the other reading of the key ("" when it reads the same either way)
	Size   int64  // bytes, as the event reports them (-1 when the event does not say)
	ETag   string // without quotes ("" when the event does not say)
	Time   time.Time
	Reason string // what wrote it: PutObject, CompleteMultipartUpload, ObjectCreated:Put, ...
}

// ErrMalformed marks a message that cannot be read as any known event. It is permanent.
var ErrMalformed = errors.New("malformed event")

// Parse returns the objects a message body names. A well-formed message that names no created
// object (an s3:TestEvent, a deletion event) returns no objects and no error.
func Parse(body []byte) ([]Object, error) {
	var probe struct {
		Type       string          `json:"Type"`
		Message    *string         `json:"Message"`
		Records    json.RawMessage `json:"Records"`
		Source     string          `json:"source"`
		DetailType string          `json:"detail-type"`
		Event      string          `json:"Event"`
	}
	if err := json.Unmarshal(body, &probe); err != nil {
		return nil, fmt.Errorf("%w: not JSON: %v", ErrMalformed, err)
	}
	switch {
	case probe.Type == "Notification" && probe.Message != nil:
		inner := []byte(*probe.Message)
		// A message inside an SNS envelope is itself one of the other shapes, never another envelope.
		var again struct {
			Type string `json:"Type"`
		}
		if json.Unmarshal(inner, &again) == nil && again.Type == "Notification" {
			return nil, fmt.Errorf("%w: SNS envelope inside an SNS envelope", ErrMalformed)
		}
		return Parse(inner)
	case probe.Source != "" || probe.DetailType != "":
		return parseEventBridge(body, probe.Source, probe.DetailType)
	case probe.Records != nil:
		return parseRecords(body)
	case probe.Event == "s3:TestEvent":
		return nil, nil
	}
	return nil, fmt.Errorf("%w: neither an EventBridge event, an S3 notification nor an SNS envelope", ErrMalformed)
}

type eventBridge struct {
	Time   time.Time `json:"time"`
	Detail struct {
		Bucket struct {
			Name string `json:"name"`
		} `json:"bucket"`
		Object struct {
			Key  *string `json:"key"`
			Size *int64  `json:"size"`
			ETag string  `json:"etag"`
		} `json:"object"`
		Reason string `json:"reason"`
	} `json:"detail"`
}

func parseEventBridge(body []byte, source, detailType string) ([]Object, error) {
	if source != "aws.s3" {
		return nil, fmt.Errorf("%w: EventBridge event from %q, want aws.s3", ErrMalformed, source)
	}
	if detailType != "Object Created" {
		return nil, nil // Object Deleted, Object Restore ...: nothing to make
	}
	var e eventBridge
	if err := json.Unmarshal(body, &e); err != nil {
		return nil, fmt.Errorf("%w: EventBridge event: %v", ErrMalformed, err)
	}
	d := e.Detail
	if d.Bucket.Name == "" || d.Object.Key == nil || *d.Object.Key == "" {
		return nil, fmt.Errorf("%w: EventBridge event without detail.bucket.name or detail.object.key", ErrMalformed)
	}
	o := Object{
		Bucket: d.Bucket.Name,
		Key:    *d.Object.Key, // documented as the key as stored
		Size:   -1,
		ETag:   strings.Trim(d.Object.ETag, `"`),
		Time:   e.Time,
		Reason: d.Reason,
	}
	if d.Object.Size != nil {
		o.Size = *d.Object.Size
	}
	if alt, err := url.QueryUnescape(o.Key); err == nil && alt != o.Key {
		o.AltKey = alt
	}
	return []Object{o}, nil
}

type records struct {
	Records []struct {
		EventSource string    `json:"eventSource"`
		EventName   string    `json:"eventName"`
		EventTime   time.Time `json:"eventTime"`
		S3          struct {
			Bucket struct {
				Name string `json:"name"`
			} `json:"bucket"`
			Object struct {
				Key  *string `json:"key"`
				Size *int64  `json:"size"`
				ETag string  `json:"eTag"`
			} `json:"object"`
		} `json:"s3"`
	} `json:"Records"`
}

func parseRecords(body []byte) ([]Object, error) {
	var rs records
	if err := json.Unmarshal(body, &rs); err != nil {
		return nil, fmt.Errorf("%w: S3 notification: %v", ErrMalformed, err)
	}
	var out []Object
	for i, r := range rs.Records {
		if r.EventSource != "aws:s3" {
			return nil, fmt.Errorf("%w: record %d has eventSource %q, want aws:s3", ErrMalformed, i, r.EventSource)
		}
		if !strings.HasPrefix(r.EventName, "ObjectCreated:") {
			continue
		}
		if r.S3.Bucket.Name == "" || r.S3.Object.Key == nil || *r.S3.Object.Key == "" {
			return nil, fmt.Errorf("%w: record %d without s3.bucket.name or s3.object.key", ErrMalformed, i)
		}
		raw := *r.S3.Object.Key
		o := Object{
			Bucket: r.S3.Bucket.Name,
			Size:   -1,
			ETag:   strings.Trim(r.S3.Object.ETag, `"`),
			Time:   r.EventTime,
			Reason: r.EventName,
		}
		if r.S3.Object.Size != nil {
			o.Size = *r.S3.Object.Size
		}
		// Documented as URL-encoded (form encoding: a space is "+").
		if dec, err := url.QueryUnescape(raw); err == nil {
			o.Key = dec
			if dec != raw {
				o.AltKey = raw
			}
		} else {
			o.Key = raw // "%" not followed by hex: the producer did not encode it
		}
		out = append(out, o)
	}
	return out, nil
}
