package emulate

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// snsActions are the query-protocol actions that go to SNS; the other actions go to SQS.
var snsActions = map[string]bool{
	"Subscribe": true, "Unsubscribe": true, "Publish": true, "PublishBatch": true,
	"ListTopics": true, "CreateTopic": true, "DeleteTopic": true, "ListSubscriptions": true,
	"ListSubscriptionsByTopic": true, "GetSubscriptionAttributes": true,
	"SetSubscriptionAttributes": true, "ConfirmSubscription": true, "GetTopicAttributes": true,
}

// maxQueryBody bounds the form bodies read to find a query-protocol Action (SNS and SQS messages
// are at most 256 KiB; form encoding can triple that).
const maxQueryBody = 4 << 20

// ServeHTTP dispatches a request by protocol: the SQS JSON protocol (X-Amz-Target: AmazonSQS.*)
// and query-protocol forms (Action=..., SNS and old SQS clients) to goaws, everything else to S3
// (path-style).
func (s *Stack) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.inflight.Add(1)
	defer s.inflight.Done()

	service, action, err := classify(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if service == "s3" {
		continueEmpty(w, r)
	}
	op := service + ":" + action
	s.logger.Debug("emulate: request", "op", op, "method", r.Method, "path", r.URL.Path)
	if s.takeFault(op) {
		s.logger.Debug("emulate: injected failure", "op", op)
		writeFault(w, service)
		return
	}
	switch service {
	case "sqs":
		s.serveSQS(w, r, action)
	case "sns":
		s.serveSNS(w, r, action)
	default:
		s.serveS3(w, r, action)
	}
}

// classify names the service and the API action of a request. It reads a form body to find its
// Action and puts the body back.
func classify(r *http.Request) (service, action string, err error) {
	if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/SimpleNotificationService/") {
		return "sns", "GetSigningCertificate", nil // the SigningCertURL of notifications
	}
	if target := r.Header.Get("X-Amz-Target"); strings.HasPrefix(target, "AmazonSQS.") {
		return "sqs", strings.TrimPrefix(target, "AmazonSQS."), nil
	}
	action = r.URL.Query().Get("Action")
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if action == "" && r.Method == http.MethodPost && mt == "application/x-www-form-urlencoded" {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxQueryBody+1))
		if err != nil {
			return "", "", fmt.Errorf("read body: %w", err)
		}
		if len(body) > maxQueryBody {
			return "", "", fmt.Errorf("form body over %d bytes", maxQueryBody)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if form, err := url.ParseQuery(string(body)); err == nil {
			action = form.Get("Action")
		}
	}
	if action != "" {
		if snsActions[action] {
			return "sns", action, nil
		}
		return "sqs", action, nil
	}
	return "s3", s3Action(r), nil
}

// s3Action names the S3 API action of a path-style request, following gofakes3's routing.
func s3Action(r *http.Request) string {
	bucket, key := splitPath(r.URL.Path)
	q := r.URL.Query()
	copying := r.Header.Get("X-Amz-Copy-Source") != ""
	_, uploads := q["uploads"]
	switch {
	case q.Get("uploadId") != "":
		return s3PartAction(r.Method, copying)
	case uploads:
		if r.Method == http.MethodPost {
			return "CreateMultipartUpload"
		}
		return "ListMultipartUploads"
	case key != "":
		return s3ObjectAction(r.Method, copying)
	case bucket != "":
		return s3BucketAction(r.Method, q)
	default:
		if r.Method == http.MethodGet {
			return "ListBuckets"
		}
	}
	return "Unknown"
}

// s3PartAction names the action of a request on one multipart upload (it has an uploadId).
func s3PartAction(method string, copying bool) string {
	switch method {
	case http.MethodGet:
		return "ListParts"
	case http.MethodPut:
		if copying {
			return "UploadPartCopy"
		}
		return "UploadPart"
	case http.MethodDelete:
		return "AbortMultipartUpload"
	case http.MethodPost:
		return "CompleteMultipartUpload"
	}
	return "Unknown"
}

// s3ObjectAction names the action of a request on one object.
func s3ObjectAction(method string, copying bool) string {
	switch method {
	case http.MethodGet:
		return "GetObject"
	case http.MethodHead:
		return "HeadObject"
	case http.MethodPut:
		if copying {
			return "CopyObject"
		}
		return "PutObject"
	case http.MethodDelete:
		return "DeleteObject"
	}
	return "Unknown"
}

// s3BucketAction names the action of a request on a bucket, with q its query.
func s3BucketAction(method string, q url.Values) string {
	switch method {
	case http.MethodGet:
		if _, ok := q["location"]; ok {
			return "GetBucketLocation"
		}
		if q.Get("list-type") == "2" {
			return "ListObjectsV2"
		}
		return "ListObjects"
	case http.MethodPut:
		return "CreateBucket"
	case http.MethodDelete:
		return "DeleteBucket"
	case http.MethodHead:
		return "HeadBucket"
	case http.MethodPost:
		if _, del := q["delete"]; del {
			return "DeleteObjects"
		}
		return "PostObject"
	}
	return "Unknown"
}

// splitPath splits a path-style S3 path into bucket and key as gofakes3 does: the key is the
// decoded path after the bucket, exactly as stored.
func splitPath(p string) (bucket, key string) {
	bucket, key, _ = strings.Cut(strings.TrimPrefix(p, "/"), "/")
	return bucket, key
}

// writeFault answers as an overloaded AWS service does.
func writeFault(w http.ResponseWriter, service string) {
	id := newID()
	switch service {
	case "s3":
		type s3Error struct {
			XMLName   xml.Name `xml:"Error"`
			Code      string
			Message   string
			RequestID string `xml:"RequestId"`
		}
		w.Header().Set("Content-Type", "application/xml")
		w.Header().Set("x-amz-request-id", id)
		w.WriteHeader(http.StatusServiceUnavailable)
		_ = xml.NewEncoder(w).Encode(s3Error{Code: "SlowDown", Message: "Please reduce your request rate.", RequestID: id})
	case "sqs":
		writeSQSError(w, http.StatusServiceUnavailable, "ServiceUnavailable", "ServiceUnavailable", "The request has failed due to a temporary failure of the server.")
	default: // sns
		writeSNSError(w, http.StatusServiceUnavailable, "ServiceUnavailable", "The request has failed due to a temporary failure of the server.")
	}
}

// writeSQSError answers an SQS JSON-protocol request with an error, as SQS does: the error type
// in the body's __type and the query protocol's code, which the SDK prefers, in
// x-amzn-query-error.
func writeSQSError(w http.ResponseWriter, status int, typ, code, message string) {
	fault := "Sender"
	if status >= 500 {
		fault = "Receiver"
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("x-amzn-RequestId", newID())
	w.Header().Set("x-amzn-query-error", code+";"+fault)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": "com.amazonaws.sqs#" + typ, "message": message})
}
