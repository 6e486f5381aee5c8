package event

import (
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseFixtures(t *testing.T) {
	tests := []struct {
		name, file string
		want       []Object // only Bucket, Key, AltKey, Size, ETag, Reason are compared
	}{
		{"an EventBridge Object Created event names its object", "eventbridge-object-created.json",
			[]Object{{Bucket: "amzn-s3-demo-bucket1", Key: "example-key", Size: 5, ETag: "b1946ac92492d2347c6235b4d2611184", Reason: "PutObject"}}},
		{"an EventBridge multipart upload keeps a non-ASCII key as stored", "eventbridge-multipart.json",
			[]Object{{Bucket: "uploads", Key: "albums/été/φωτο.jpg", Size: 198524144, ETag: "4af981f98d22a0b9979da24b259e5e42-12", Reason: "CompleteMultipartUpload"}}},
		{"an EventBridge Object Deleted event names nothing to make", "eventbridge-object-deleted.json", nil},
		{"a classic S3 notification has its key URL-decoded", "s3-notification-put.json",
			[]Object{{Bucket: "uploads", Key: "IMG 0001 (copy)+final.jpg", AltKey: "IMG+0001+%28copy%29%2Bfinal.jpg", Size: 1305107, ETag: "b21b84d653bb07b05b1e6b33684dc11b", Reason: "ObjectCreated:Put"}}},
		{"an SNS envelope is unwrapped", "sns-s3-notification.json",
			[]Object{{Bucket: "uploads", Key: "IMG 0001 (copy)+final.jpg", AltKey: "IMG+0001+%28copy%29%2Bfinal.jpg", Size: 1305107, ETag: "b21b84d653bb07b05b1e6b33684dc11b", Reason: "ObjectCreated:Put"}}},
		{"an s3:TestEvent names nothing", "s3-test-event.json", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(fixture(t, tt.file))
			if err != nil {
				t.Fatalf("Parse(%s) error: %v", tt.file, err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("Parse(%s) = %d objects; want %d", tt.file, len(got), len(tt.want))
			}
			for i := range got {
				g, w := got[i], tt.want[i]
				g.Time = w.Time
				if g != w {
					t.Errorf("Parse(%s)[%d] = %+v; want %+v", tt.file, i, g, w)
				}
			}
		})
	}
}

func TestParseEventTime(t *testing.T) {
	got, err := Parse(fixture(t, "eventbridge-object-created.json"))
	if err != nil {
		t.Fatal(err)
	}
	if s := got[0].Time.UTC().Format("2006-01-02T15:04:05Z"); s != "2021-11-12T00:00:00Z" {
		t.Errorf("Time = %s; want 2021-11-12T00:00:00Z", s)
	}
}

// keys that users really upload: spaces, plus signs, parentheses, non-ASCII letters, percent signs.
var awkwardKeys = []string{
	"IMG 0001 (copy)+final.jpg",
	"albums/été/φωτο.jpg",
	"100% real.png",
	"a+b+c.jpg",
	"plain.jpg",
	"folder/",
}

// TestKeysWhetherEncodedOrNot checks that for every awkward key, in every shape and whether the
// producer URL-encoded it or not, the true key is Key or AltKey.
func TestKeysWhetherEncodedOrNot(t *testing.T) {
	bodies := map[string]func(key string) string{
		"EventBridge": func(key string) string {
			return `{"version":"0","detail-type":"Object Created","source":"aws.s3","detail":{"bucket":{"name":"b"},"object":{"key":` + quote(key) + `,"size":10,"etag":"e"}}}`
		},
		"S3 notification": func(key string) string {
			return `{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":` + quote(key) + `,"size":10}}}]}`
		},
		"SNS-wrapped S3 notification": func(key string) string {
			inner := `{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Copy","s3":{"bucket":{"name":"b"},"object":{"key":` + quote(key) + `}}}]}`
			return `{"Type":"Notification","Message":` + quote(inner) + `}`
		},
	}
	encodings := map[string]func(string) string{
		"as stored":   func(k string) string { return k },
		"URL-encoded": url.QueryEscape,
		// What S3 really sends keeps "/" unescaped.
		"URL-encoded but slashes": func(k string) string { return strings.ReplaceAll(url.QueryEscape(k), "%2F", "/") },
	}
	for shape, body := range bodies {
		for enc, encode := range encodings {
			for _, key := range awkwardKeys {
				t.Run(shape+" "+enc+" "+key, func(t *testing.T) {
					got, err := Parse([]byte(body(encode(key))))
					if err != nil {
						t.Fatal(err)
					}
					if len(got) != 1 {
						t.Fatalf("got %d objects; want 1", len(got))
					}
					if got[0].Key != key && got[0].AltKey != key {
						t.Errorf("Key=%q AltKey=%q; want one of them %q", got[0].Key, got[0].AltKey, key)
					}
				})
			}
		}
	}
}

func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func TestParseRefusesMalformed(t *testing.T) {
	tests := []struct{ name, body string }{
		{"plain text is refused", "hello"},
		{"an unrelated JSON object is refused", `{"hello":"world"}`},
		{"an EventBridge event from another source is refused", `{"source":"aws.ec2","detail-type":"EC2 Instance State-change Notification","detail":{}}`},
		{"an EventBridge event without a key is refused", `{"source":"aws.s3","detail-type":"Object Created","detail":{"bucket":{"name":"b"},"object":{}}}`},
		{"an EventBridge event with an empty key is refused", `{"source":"aws.s3","detail-type":"Object Created","detail":{"bucket":{"name":"b"},"object":{"key":""}}}`},
		{"a record from another service is refused", `{"Records":[{"eventSource":"aws:sqs"}]}`},
		{"a record without a bucket is refused", `{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"object":{"key":"k"}}}]}`},
		{"an SNS envelope inside an SNS envelope is refused", `{"Type":"Notification","Message":"{\"Type\":\"Notification\",\"Message\":\"{}\"}"}`},
		{"an SNS envelope around garbage is refused", `{"Type":"Notification","Message":"not json"}`},
		{"a size of the wrong type is refused", `{"source":"aws.s3","detail-type":"Object Created","detail":{"bucket":{"name":"b"},"object":{"key":"k","size":"big"}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.body))
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("Parse(%s) = %v, %v; want ErrMalformed", tt.body, got, err)
			}
		})
	}
}

func TestParseSkipsOtherRecordsButKeepsCreated(t *testing.T) {
	body := `{"Records":[
	 {"eventSource":"aws:s3","eventName":"ObjectRemoved:Delete","s3":{"bucket":{"name":"b"},"object":{"key":"gone.jpg"}}},
	 {"eventSource":"aws:s3","eventName":"ObjectCreated:CompleteMultipartUpload","s3":{"bucket":{"name":"b"},"object":{"key":"new.jpg","size":0}}}]}`
	got, err := Parse([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Key != "new.jpg" || got[0].Size != 0 {
		t.Errorf("Parse = %+v; want only new.jpg with size 0", got)
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"eventbridge-object-created.json", "s3-notification-put.json", "sns-s3-notification.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		objs, err := Parse(body)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		for _, o := range objs {
			if o.Bucket == "" || o.Key == "" {
				t.Fatalf("object without bucket or key: %+v", o)
			}
		}
	})
}
