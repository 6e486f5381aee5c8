package emulate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/Admiral-Piett/goaws/app/models"
	"github.com/Admiral-Piett/goaws/app/utils"
)

const jsonContentType = "application/x-amz-json-1.0"

// pollInterval is how often a long poll looks at its queue again.
const pollInterval = 50 * time.Millisecond

// goawsSQSActions are the SQS actions goaws implements; JSON-protocol requests for others get
// UnsupportedOperation instead of goaws's plain-text "Bad Request".
var goawsSQSActions = map[string]bool{
	"CreateQueue": true, "ListQueues": true, "GetQueueAttributes": true, "SetQueueAttributes": true,
	"SendMessage": true, "ReceiveMessage": true, "ChangeMessageVisibility": true,
	"DeleteMessage": true, "GetQueueUrl": true, "PurgeQueue": true, "DeleteQueue": true,
	"SendMessageBatch": true, "DeleteMessageBatch": true,
}

// structuralActions add, remove or reconfigure queues, topics and subscriptions, which goaws's
// handlers read without a lock: they run alone.
var structuralActions = map[string]bool{
	"CreateQueue": true, "DeleteQueue": true, "SetQueueAttributes": true,
	"CreateTopic": true, "DeleteTopic": true, "Subscribe": true, "Unsubscribe": true,
	"SetSubscriptionAttributes": true, "ConfirmSubscription": true,
}

func (s *Stack) serveSQS(w http.ResponseWriter, r *http.Request, action string) {
	if r.Header.Get("Content-Type") != jsonContentType { // the query protocol: goaws as it is
		s.callGoaws(w, r, action)
		return
	}
	switch action {
	case "CreateQueue":
		s.createQueue(w, r)
	case "ReceiveMessage":
		s.receiveMessage(w, r)
	case "GetQueueAttributes":
		s.getQueueAttributes(w, r)
	case "ChangeMessageVisibilityBatch":
		s.changeMessageVisibilityBatch(w, r)
	default:
		if !goawsSQSActions[action] {
			writeSQSError(w, http.StatusBadRequest, "UnsupportedOperation", "UnsupportedOperation", action+" is not supported by the emulator.")
			return
		}
		s.callGoaws(w, r, action)
	}
}

func (s *Stack) callGoaws(w http.ResponseWriter, r *http.Request, action string) {
	if structuralActions[action] {
		structure.Lock()
		defer structure.Unlock()
	} else {
		structure.RLock()
		defer structure.RUnlock()
	}
	s.goaws.ServeHTTP(w, r)
}

// createQueue creates a queue with goaws and gives it a URL on this stack's endpoint (goaws's
// has the host "<region>.<host>").
func (s *Stack) createQueue(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeSQSError(w, http.StatusBadRequest, "InvalidParameterValue", "InvalidParameterValue", err.Error())
		return
	}
	rec := s.callGoawsJSON(r, "CreateQueue", body)
	var out struct{ QueueUrl string }
	if rec.status != http.StatusOK || json.Unmarshal(rec.body.Bytes(), &out) != nil {
		rec.copyTo(w)
		return
	}
	name := queueName(out.QueueUrl)
	structure.RLock()
	models.SyncQueues.Lock()
	if q, ok := models.SyncQueues.Queues[name]; ok {
		if q.URL == out.QueueUrl { // goaws's URL: a new queue
			q.URL = s.queueURL(name)
		}
		out.QueueUrl = q.URL // an existing queue keeps its URL
	}
	models.SyncQueues.Unlock()
	structure.RUnlock()
	writeJSON(w, out)
}

// callGoawsJSON calls an SQS action of goaws with a JSON body and returns its answer.
func (s *Stack) callGoawsJSON(r *http.Request, action string, body []byte) *recorder {
	req := r.Clone(r.Context())
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	req.Header.Set("X-Amz-Target", "AmazonSQS."+action)
	req.Header.Set("Content-Type", jsonContentType)
	req.URL.Path = "/"
	rec := newRecorder()
	s.callGoaws(rec, req, action)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return rec
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", jsonContentType)
	w.Header().Set("x-amzn-RequestId", newID())
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(v)
}

func queueName(url string) string { return url[strings.LastIndex(url, "/")+1:] }

func writeNoQueue(w http.ResponseWriter) {
	writeSQSError(w, http.StatusBadRequest, "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue", "The specified queue does not exist.")
}

// receiveMessage long-polls goaws without its own wait loop (which would hold structure for up to
// 20 seconds), then corrects the messages' attributes.
func (s *Stack) receiveMessage(w http.ResponseWriter, r *http.Request) {
	req, body, invalid := readReceiveRequest(r)
	if invalid != "" {
		writeSQSError(w, http.StatusBadRequest, "InvalidParameterValue", "InvalidParameterValue", invalid)
		return
	}
	name := queueName(req.QueueUrl)
	wait := 0
	if req.WaitTimeSeconds != nil {
		wait = *req.WaitTimeSeconds
	} else {
		wait = queueWaitSeconds(name)
	}
	result, ok := s.pollGoaws(w, r, body, wait)
	if !ok {
		return
	}
	fixMessages(name, result.Messages, append(req.AttributeNames, req.MessageSystemAttributeNames...), req.MessageAttributeNames)
	writeJSON(w, result)
}

// receiveRequest is the part of a ReceiveMessage request the emulator reads itself.
type receiveRequest struct {
	QueueUrl                    string
	AttributeNames              []string
	MessageSystemAttributeNames []string
	MessageAttributeNames       []string
	MaxNumberOfMessages         *int
	WaitTimeSeconds             *int
}

// readReceiveRequest reads and checks a ReceiveMessage request. It returns the request, its body
// for goaws with WaitTimeSeconds set to 0 (the emulator waits itself), or why it is invalid.
func readReceiveRequest(r *http.Request) (req receiveRequest, body []byte, invalid string) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return req, nil, err.Error()
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &req); err != nil {
		return req, nil, err.Error()
	}
	_ = json.Unmarshal(body, &fields)
	if n := req.MaxNumberOfMessages; n != nil && (*n < 1 || *n > 10) {
		return req, nil, fmt.Sprintf("Value %d for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.", *n)
	}
	if t := req.WaitTimeSeconds; t != nil && (*t < 0 || *t > 20) {
		return req, nil, fmt.Sprintf("Value %d for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided.", *t)
	}
	fields["WaitTimeSeconds"] = json.RawMessage("0")
	body, _ = json.Marshal(fields)
	return req, body, ""
}

// queueWaitSeconds is the queue's ReceiveMessageWaitTimeSeconds, 0 if there is no such queue.
func queueWaitSeconds(name string) int {
	wait := 0
	structure.RLock()
	models.SyncQueues.RLock()
	if q, ok := models.SyncQueues.Queues[name]; ok {
		wait = q.ReceiveMessageWaitTimeSeconds
	}
	models.SyncQueues.RUnlock()
	structure.RUnlock()
	return wait
}

// pollGoaws asks goaws for messages every pollInterval until there are some or wait seconds have
// passed. When it returns false it has answered w itself (goaws's error, an empty answer as the
// stack closes) or the client has gone.
func (s *Stack) pollGoaws(w http.ResponseWriter, r *http.Request, body []byte, wait int) (models.ReceiveMessageResult, bool) {
	deadline := time.Now().Add(time.Duration(wait) * time.Second)
	for {
		rec := s.callGoawsJSON(r, "ReceiveMessage", body)
		if rec.status != http.StatusOK {
			rec.copyTo(w)
			return models.ReceiveMessageResult{}, false
		}
		var result models.ReceiveMessageResult
		if err := json.Unmarshal(rec.body.Bytes(), &result); err != nil {
			writeSQSError(w, http.StatusInternalServerError, "InternalError", "InternalError", "emulate: goaws answer: "+err.Error())
			return models.ReceiveMessageResult{}, false
		}
		left := time.Until(deadline)
		if len(result.Messages) > 0 || left <= 0 {
			return result, true
		}
		select {
		case <-r.Context().Done():
			return models.ReceiveMessageResult{}, false
		case <-s.closing:
			writeJSON(w, models.ReceiveMessageResult{})
			return models.ReceiveMessageResult{}, false
		case <-time.After(min(left, pollInterval)):
		}
	}
}

// fixMessages corrects what goaws reports of received messages: the receive count and sent time
// from the stored message, and only the attributes asked for, as SQS answers.
func fixMessages(queue string, msgs []*models.ResultMessage, systemNames, attributeNames []string) {
	structure.RLock()
	models.SyncQueues.RLock()
	if q, ok := models.SyncQueues.Queues[queue]; ok {
		for _, m := range msgs {
			for i := range q.Messages {
				stored := &q.Messages[i]
				if stored.ReceiptHandle != m.ReceiptHandle {
					continue
				}
				m.Attributes["ApproximateReceiveCount"] = strconv.Itoa(stored.Retry + 1)
				if !stored.SentTime.IsZero() {
					m.Attributes["SentTimestamp"] = strconv.FormatInt(stored.SentTime.UnixMilli(), 10)
				}
				break
			}
		}
	}
	models.SyncQueues.RUnlock()
	structure.RUnlock()

	for _, m := range msgs {
		m.Attributes = pick(m.Attributes, systemNames, false)
		m.MessageAttributes = pick(m.MessageAttributes, attributeNames, true)
		m.MD5OfMessageAttributes = ""
		if len(m.MessageAttributes) > 0 {
			m.MD5OfMessageAttributes = utils.HashAttributes(m.MessageAttributes)
		}
	}
}

// pick returns the entries of all named in names: "All" names every one and, for message
// attributes, ".*" too and "prefix.*" those that start with "prefix.".
func pick[V any](all map[string]V, names []string, prefixes bool) map[string]V {
	picked := map[string]V{}
	for _, n := range names {
		if n == "All" || (prefixes && n == ".*") {
			return all
		}
		if prefixes && strings.HasSuffix(n, ".*") {
			for k, v := range all {
				if strings.HasPrefix(k, strings.TrimSuffix(n, "*")) {
					picked[k] = v
				}
			}
			continue
		}
		if v, ok := all[n]; ok {
			picked[n] = v
		}
	}
	if len(picked) == 0 {
		return nil
	}
	return picked
}

// queueAttributes are the names SQS accepts in GetQueueAttributes; supported says which of them
// the emulator answers.
var queueAttributes = map[string]bool{
	"All": true, "VisibilityTimeout": true, "MaximumMessageSize": true, "MessageRetentionPeriod": true,
	"ApproximateNumberOfMessages": true, "ApproximateNumberOfMessagesNotVisible": true,
	"ApproximateNumberOfMessagesDelayed": true, "CreatedTimestamp": true, "LastModifiedTimestamp": true,
	"QueueArn": true, "DelaySeconds": true, "ReceiveMessageWaitTimeSeconds": true, "RedrivePolicy": true,
	"FifoQueue": true,
	// Accepted but not answered.
	"Policy": false, "ContentBasedDeduplication": false, "KmsMasterKeyId": false,
	"KmsDataKeyReusePeriodSeconds": false, "DeduplicationScope": false, "FifoThroughputLimit": false,
	"RedriveAllowPolicy": false, "SqsManagedSseEnabled": false,
}

// getQueueAttributes answers GetQueueAttributes in the JSON protocol's shape.
func (s *Stack) getQueueAttributes(w http.ResponseWriter, r *http.Request) {
	var req struct {
		QueueUrl       string
		AttributeNames []string
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeSQSError(w, http.StatusBadRequest, "InvalidParameterValue", "InvalidParameterValue", err.Error())
		return
	}
	for _, n := range req.AttributeNames {
		if _, ok := queueAttributes[n]; !ok {
			writeSQSError(w, http.StatusBadRequest, "InvalidAttributeName", "InvalidAttributeName", "Unknown Attribute "+n+".")
			return
		}
	}
	attrs, ok := snapshotQueue(queueName(req.QueueUrl), time.Now())
	if !ok {
		writeNoQueue(w)
		return
	}
	out := struct {
		Attributes map[string]string `json:",omitempty"`
	}{pick(attrs, req.AttributeNames, false)}
	writeJSON(w, out)
}

// snapshotQueue returns every attribute the emulator answers for the named queue.
func snapshotQueue(name string, now time.Time) (map[string]string, bool) {
	structure.RLock()
	defer structure.RUnlock()
	models.SyncQueues.RLock()
	defer models.SyncQueues.RUnlock()
	q, ok := models.SyncQueues.Queues[name]
	if !ok {
		return nil, false
	}
	var visible, inFlight, delayed int
	for _, m := range q.Messages {
		switch {
		case m.ReceiptHandle != "":
			inFlight++
		case m.DelaySecs > 0 && now.Before(m.SentTime.Add(time.Duration(m.DelaySecs)*time.Second)):
			delayed++
		default:
			visible++
		}
	}
	attrs := map[string]string{
		"ApproximateNumberOfMessages":           strconv.Itoa(visible),
		"ApproximateNumberOfMessagesNotVisible": strconv.Itoa(inFlight),
		"ApproximateNumberOfMessagesDelayed":    strconv.Itoa(delayed),
		"VisibilityTimeout":                     strconv.Itoa(q.VisibilityTimeout),
		"MaximumMessageSize":                    strconv.Itoa(q.MaximumMessageSize),
		"MessageRetentionPeriod":                strconv.Itoa(q.MessageRetentionPeriod),
		"DelaySeconds":                          strconv.Itoa(q.DelaySeconds),
		"ReceiveMessageWaitTimeSeconds":         strconv.Itoa(q.ReceiveMessageWaitTimeSeconds),
		"QueueArn":                              q.Arn,
		"CreatedTimestamp":                      "0",
		"LastModifiedTimestamp":                 "0",
	}
	if q.IsFIFO {
		attrs["FifoQueue"] = "true"
	}
	if q.DeadLetterQueue != nil {
		policy, _ := json.Marshal(struct {
			DeadLetterTargetArn string `json:"deadLetterTargetArn"`
			MaxReceiveCount     int    `json:"maxReceiveCount"`
		}{q.DeadLetterQueue.Arn, q.MaxReceiveCount})
		attrs["RedrivePolicy"] = string(policy)
	}
	return attrs, true
}

// changeMessageVisibilityBatch does what goaws lacks, with its ChangeMessageVisibility.
func (s *Stack) changeMessageVisibilityBatch(w http.ResponseWriter, r *http.Request) {
	var req struct {
		QueueUrl string
		Entries  []struct {
			Id                string
			ReceiptHandle     string
			VisibilityTimeout int
		}
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeSQSError(w, http.StatusBadRequest, "InvalidParameterValue", "InvalidParameterValue", err.Error())
		return
	}
	switch {
	case len(req.Entries) == 0:
		writeSQSError(w, http.StatusBadRequest, "EmptyBatchRequest", "AWS.SimpleQueueService.EmptyBatchRequest", "There should be at least one ChangeMessageVisibilityBatchRequestEntry in the request.")
		return
	case len(req.Entries) > 10:
		writeSQSError(w, http.StatusBadRequest, "TooManyEntriesInBatchRequest", "AWS.SimpleQueueService.TooManyEntriesInBatchRequest", "Maximum number of entries per request are 10.")
		return
	}
	seen := map[string]bool{}
	for _, e := range req.Entries {
		if seen[e.Id] {
			writeSQSError(w, http.StatusBadRequest, "BatchEntryIdsNotDistinct", "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", "Id "+e.Id+" repeated.")
			return
		}
		seen[e.Id] = true
	}
	if _, ok := snapshotQueue(queueName(req.QueueUrl), time.Now()); !ok {
		writeNoQueue(w)
		return
	}
	type failed struct {
		Id          string
		SenderFault bool
		Code        string
		Message     string
	}
	type succeeded struct{ Id string }
	out := struct {
		Successful []succeeded
		Failed     []failed
	}{Successful: []succeeded{}, Failed: []failed{}}
	for _, e := range req.Entries {
		body, _ := json.Marshal(map[string]any{"QueueUrl": req.QueueUrl, "ReceiptHandle": e.ReceiptHandle, "VisibilityTimeout": e.VisibilityTimeout})
		rec := s.callGoawsJSON(r, "ChangeMessageVisibility", body)
		if rec.status == http.StatusOK {
			out.Successful = append(out.Successful, succeeded{e.Id})
			continue
		}
		var goawsErr models.ErrorResult
		_ = json.Unmarshal(rec.body.Bytes(), &goawsErr)
		out.Failed = append(out.Failed, failed{Id: e.Id, SenderFault: true, Code: goawsErr.Code, Message: goawsErr.Message})
	}
	writeJSON(w, out)
}

// enqueue puts a message on a goaws queue in-process.
func enqueue(queue, body string, attrs map[string]models.MessageAttribute) error {
	msg := models.SqsMessage{
		MessageBody:      body,
		Uuid:             newID(),
		MD5OfMessageBody: utils.GetMD5Hash(body),
		SentTime:         time.Now(),
	}
	if len(attrs) > 0 {
		msg.MessageAttributes = attrs
		msg.MD5OfMessageAttributes = utils.HashAttributes(attrs)
	}
	structure.RLock()
	defer structure.RUnlock()
	models.SyncQueues.Lock()
	defer models.SyncQueues.Unlock()
	q, ok := models.SyncQueues.Queues[queue]
	if !ok {
		return fmt.Errorf("queue %s does not exist", queue)
	}
	q.Messages = append(q.Messages, msg)
	return nil
}
