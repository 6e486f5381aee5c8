package emulate

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// reasons maps the S3 writes that the EventBridge rule reports to the event's detail.reason.
var reasons = map[string]string{
	"PutObject":               "PutObject",
	"CopyObject":              "CopyObject",
	"CompleteMultipartUpload": "CompleteMultipartUpload",
	"PostObject":              "POST Object",
}

// maxFormUpload bounds the browser POST uploads to a source bucket, which are read into memory to
// find their key.
const maxFormUpload = 256 << 20

var sequencer atomic.Uint64

func newID() string { return uuid.NewString() }

// serveS3 hands the request to gofakes3 and, after a successful write to a stack's source
// bucket, puts the Object Created event on that stack's work queue before answering.
func (s *Stack) serveS3(w http.ResponseWriter, r *http.Request, action string) {
	mw := &metaWriter{ResponseWriter: w}
	defer mw.finish()
	w = mw
	reason, write := reasons[action]
	bucket, key := splitPath(r.URL.Path)
	sources.RLock()
	target := sources.stacks[bucket]
	sources.RUnlock()
	if !write || target == nil {
		s.s3.ServeHTTP(w, r)
		return
	}
	if action == "PostObject" {
		var err error
		if key, err = formKey(r); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	}

	rec := newRecorder()
	s.s3.ServeHTTP(rec, r)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if rec.status/100 == 2 {
		if err := target.objectCreated(bucket, key, reason, rec.Header().Get("x-amz-request-id"), r.RemoteAddr); err != nil {
			// As on AWS, the write stands when the rule cannot deliver its event.
			s.logger.Error("emulate: object created event lost", "bucket", bucket, "key", key, "err", err)
		}
	}
	rec.copyTo(w)
}

// formKey reads a browser upload's form into memory and returns its key field.
func formKey(r *http.Request) (string, error) {
	_, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || params["boundary"] == "" {
		return "", fmt.Errorf("POST upload: want multipart/form-data")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxFormUpload+1))
	if err != nil {
		return "", fmt.Errorf("POST upload: read body: %w", err)
	}
	if len(body) > maxFormUpload {
		return "", fmt.Errorf("POST upload: over %d bytes", maxFormUpload)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for {
		part, err := mr.NextPart()
		if err != nil {
			return "", fmt.Errorf("POST upload: no key field")
		}
		if part.FormName() == "key" {
			b, err := io.ReadAll(part)
			if err != nil {
				return "", fmt.Errorf("POST upload: read key: %w", err)
			}
			return string(b), nil
		}
	}
}

// Event is the EventBridge event for an S3 "Object Created" notification, as the rule delivers it
// to SQS: https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html
type Event struct {
	Version    string      `json:"version"`
	ID         string      `json:"id"`
	DetailType string      `json:"detail-type"`
	Source     string      `json:"source"`
	Account    string      `json:"account"`
	Time       string      `json:"time"`
	Region     string      `json:"region"`
	Resources  []string    `json:"resources"`
	Detail     EventDetail `json:"detail"`
}

// EventDetail is the S3 part of an Event.
type EventDetail struct {
	Version string `json:"version"`
	Bucket  struct {
		Name string `json:"name"`
	} `json:"bucket"`
	Object struct {
		Key       string `json:"key"` // as stored, not URL-encoded
		Size      int64  `json:"size"`
		ETag      string `json:"etag"` // hex, without quotes
		Sequencer string `json:"sequencer"`
	} `json:"object"`
	RequestID       string `json:"request-id"`
	Requester       string `json:"requester"`
	SourceIPAddress string `json:"source-ip-address"`
	Reason          string `json:"reason"`
}

// objectCreated puts the event for a stored object on the stack's work queue.
func (s *Stack) objectCreated(bucket, key, reason, requestID, remoteAddr string) error {
	obj, err := s.backend.HeadObject(bucket, key)
	if err != nil {
		return fmt.Errorf("head s3://%s/%s: %w", bucket, key, err)
	}
	if obj.Contents != nil {
		obj.Contents.Close()
	}
	ip, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		ip = remoteAddr
	}
	e := Event{
		Version:    "0",
		ID:         newID(),
		DetailType: "Object Created",
		Source:     "aws.s3",
		Account:    AccountID,
		Time:       time.Now().UTC().Format(time.RFC3339),
		Region:     s.Region,
		Resources:  []string{"arn:aws:s3:::" + bucket},
	}
	d := &e.Detail
	d.Version = "0"
	d.Bucket.Name = bucket
	d.Object.Key = key
	d.Object.Size = obj.Size
	d.Object.ETag = hex.EncodeToString(obj.Hash)
	d.Object.Sequencer = fmt.Sprintf("%018X", sequencer.Add(1))
	d.RequestID = requestID
	d.Requester = AccountID
	d.SourceIPAddress = ip
	d.Reason = reason
	body, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if err := enqueue(s.workQueue, string(body), nil); err != nil {
		return err
	}
	s.logger.Debug("emulate: object created", "bucket", bucket, "key", key, "size", obj.Size, "reason", reason)
	return nil
}

// recorder holds a response until the handler is done, so that the event is queued before the
// client sees the write succeed.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newRecorder() *recorder { return &recorder{header: http.Header{}} }

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(b)
}

func (r *recorder) copyTo(w http.ResponseWriter) {
	for k, v := range r.header {
		w.Header()[k] = v
	}
	w.WriteHeader(r.status)
	_, _ = w.Write(r.body.Bytes())
}

// continueEmpty sends the interim "100 Continue" S3 sends when a request with an empty body asks
// for it. Go's server sends one only when the handler reads a body, and an empty body is never
// read; botocore (the AWS CLI) then takes the final 200 for the interim answer and the next
// response on the connection for this one's: aws s3 sync of a folder holding an empty file
// stalled for the CLI's 60 s read timeout and uploaded the following file twice.
func continueEmpty(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength == 0 && r.ProtoAtLeast(1, 1) && strings.EqualFold(r.Header.Get("Expect"), "100-continue") {
		w.WriteHeader(http.StatusContinue)
	}
}

// metaWriter writes the names of user metadata headers in lower case, as S3 does
// (x-amz-meta-source-bucket). gofakes3 writes them canonicalized (X-Amz-Meta-Source-Bucket),
// which HTTP allows but which the AWS CLI passes on as metadata keys: head-object showed
// "Source-Bucket" where AWS shows "source-bucket". (The Go SDK lower-cases them itself.)
type metaWriter struct {
	http.ResponseWriter
	wrote bool
}

func (m *metaWriter) WriteHeader(status int) {
	if status >= 200 && !m.wrote {
		m.wrote = true
		h := m.Header()
		for k, v := range h {
			if len(k) > len(metaPrefix) && strings.EqualFold(k[:len(metaPrefix)], metaPrefix) && k != strings.ToLower(k) {
				delete(h, k)
				h[strings.ToLower(k)] = v
			}
		}
	}
	m.ResponseWriter.WriteHeader(status)
}

// finish sends the header of a handler that wrote nothing (gofakes3's HEAD), which net/http would
// otherwise send as it stands.
func (m *metaWriter) finish() {
	if !m.wrote {
		m.WriteHeader(http.StatusOK)
	}
}

func (m *metaWriter) Write(b []byte) (int, error) {
	if !m.wrote {
		m.WriteHeader(http.StatusOK)
	}
	return m.ResponseWriter.Write(b)
}

const metaPrefix = "x-amz-meta-"
