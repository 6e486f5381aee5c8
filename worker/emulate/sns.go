package emulate

import (
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/Admiral-Piett/goaws/app/models"
	"github.com/Admiral-Piett/goaws/app/utils"
)

// maxSNSMessage is SNS's limit on a message, in bytes.
const maxSNSMessage = 262144

func (s *Stack) serveSNS(w http.ResponseWriter, r *http.Request, action string) {
	switch action {
	case "Publish":
		s.publish(w, r)
		return
	case "GetTopicAttributes": // goaws has no such action; the worker checks its topic with it
		s.topicAttributes(w, r)
		return
	}
	s.callGoaws(w, r, action)
}

// Notification is what SNS delivers to a subscribed SQS queue without raw message delivery: the
// standard SNS JSON envelope. Signature is a placeholder: the emulator does not sign.
type Notification struct {
	Type              string                           `json:"Type"`
	MessageID         string                           `json:"MessageId"`
	TopicARN          string                           `json:"TopicArn"`
	Subject           string                           `json:"Subject,omitempty"`
	Message           string                           `json:"Message"`
	Timestamp         string                           `json:"Timestamp"`
	SignatureVersion  string                           `json:"SignatureVersion"`
	Signature         string                           `json:"Signature"`
	SigningCertURL    string                           `json:"SigningCertURL"`
	UnsubscribeURL    string                           `json:"UnsubscribeURL"`
	MessageAttributes map[string]NotificationAttribute `json:"MessageAttributes,omitempty"`
}

// NotificationAttribute is a message attribute in a Notification. Binary values are base64.
type NotificationAttribute struct {
	Type  string `json:"Type"`
	Value string `json:"Value"`
}

// publish delivers a message to the topic's SQS subscriptions in SNS's format (goaws's envelope
// differs in its MessageAttributes).
func (s *Stack) publish(w http.ResponseWriter, r *http.Request) {
	req := models.NewPublishRequest()
	if !utils.TransformRequest(req, r, false) {
		writeSNSError(w, http.StatusBadRequest, "InvalidParameter", "Invalid parameter: malformed request")
		return
	}
	message, invalid := publishedMessage(req)
	if invalid != "" {
		writeSNSError(w, http.StatusBadRequest, "InvalidParameter", invalid)
		return
	}
	subs, ok := topicSubscriptions(req.TopicArn)
	if !ok {
		writeSNSError(w, http.StatusNotFound, "NotFound", "Topic does not exist")
		return
	}
	messageID := newID()
	s.deliver(messageID, req, message, subs)

	type result struct {
		XMLName   xml.Name `xml:"http://sns.amazonaws.com/doc/2010-03-31/ PublishResponse"`
		MessageID string   `xml:"PublishResult>MessageId"`
		RequestID string   `xml:"ResponseMetadata>RequestId"`
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(http.StatusOK)
	_ = xml.NewEncoder(w).Encode(result{MessageID: messageID, RequestID: newID()})
}

// publishedMessage checks a Publish request and returns the message SQS subscribers receive (the
// "sqs" or "default" entry of a JSON message structure), or SNS's InvalidParameter message.
func publishedMessage(req *models.PublishRequest) (message, invalid string) {
	switch {
	case req.TopicArn == "":
		return "", "Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter"
	case req.Message == "":
		return "", "Invalid parameter: Empty message"
	case len(req.Message) > maxSNSMessage:
		return "", "Invalid parameter: Message too long"
	case !validSubject(req.Subject):
		return "", "Invalid parameter: Subject"
	}
	message = req.Message
	if req.MessageStructure == "json" {
		var byProtocol map[string]string
		if err := json.Unmarshal([]byte(req.Message), &byProtocol); err != nil || byProtocol["default"] == "" {
			return "", "Invalid parameter: Message Structure - No default entry in JSON message body"
		}
		message = byProtocol["default"]
		if m, ok := byProtocol["sqs"]; ok {
			message = m
		}
	}
	return message, ""
}

// topicSubscriptions copies the subscriptions of the topic with ARN arn; false if there is no
// such topic.
func topicSubscriptions(arn string) ([]models.Subscription, bool) {
	structure.RLock()
	models.SyncTopics.RLock()
	topic, ok := models.SyncTopics.Topics[arn[strings.LastIndex(arn, ":")+1:]]
	var subs []models.Subscription
	if ok && topic.Arn == arn {
		for _, sub := range topic.Subscriptions {
			subs = append(subs, *sub)
		}
	}
	models.SyncTopics.RUnlock()
	structure.RUnlock()
	return subs, ok && topic.Arn == arn
}

// deliver enqueues the message on each SQS subscription whose filter policy its attributes
// satisfy: raw, or in SNS's envelope. A failed delivery is logged, as SNS does not tell the
// publisher either.
func (s *Stack) deliver(messageID string, req *models.PublishRequest, message string, subs []models.Subscription) {
	for _, sub := range subs {
		if sub.Protocol != "sqs" {
			continue // the emulator delivers to SQS only
		}
		if sub.FilterPolicy != nil && !sub.FilterPolicy.IsSatisfiedBy(req.MessageAttributes) {
			continue
		}
		queue := sub.EndPoint[strings.LastIndexAny(sub.EndPoint, ":/")+1:]
		var err error
		if sub.Raw {
			err = enqueue(queue, message, req.MessageAttributes)
		} else {
			err = enqueue(queue, s.envelope(messageID, req, message, sub.SubscriptionArn), nil)
		}
		if err != nil {
			s.logger.Warn("emulate: sns delivery", "topic", req.TopicArn, "queue", queue, "err", err)
		}
	}
}

// topicAttributes answers GetTopicAttributes with the attributes SNS always has, or NotFound.
func (s *Stack) topicAttributes(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeSNSError(w, http.StatusBadRequest, "InvalidParameter", "Invalid parameter: malformed request")
		return
	}
	arn := r.Form.Get("TopicArn")
	structure.RLock()
	models.SyncTopics.RLock()
	topic, ok := models.SyncTopics.Topics[arn[strings.LastIndex(arn, ":")+1:]]
	ok = ok && topic.Arn == arn
	subs := 0
	if ok {
		subs = len(topic.Subscriptions)
	}
	models.SyncTopics.RUnlock()
	structure.RUnlock()
	if !ok {
		writeSNSError(w, http.StatusNotFound, "NotFound", "Topic does not exist")
		return
	}
	type entry struct {
		Key   string `xml:"key"`
		Value string `xml:"value"`
	}
	type result struct {
		XMLName   xml.Name `xml:"http://sns.amazonaws.com/doc/2010-03-31/ GetTopicAttributesResponse"`
		Entries   []entry  `xml:"GetTopicAttributesResult>Attributes>entry"`
		RequestID string   `xml:"ResponseMetadata>RequestId"`
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(http.StatusOK)
	_ = xml.NewEncoder(w).Encode(result{RequestID: newID(), Entries: []entry{
		{"TopicArn", arn}, {"DisplayName", ""}, {"SubscriptionsConfirmed", fmt.Sprint(subs)},
		{"SubscriptionsPending", "0"}, {"SubscriptionsDeleted", "0"},
	}})
}

func (s *Stack) envelope(messageID string, req *models.PublishRequest, message, subscriptionARN string) string {
	n := Notification{
		Type:             "Notification",
		MessageID:        messageID,
		TopicARN:         req.TopicArn,
		Subject:          req.Subject,
		Message:          message,
		Timestamp:        time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
		SignatureVersion: "1",
		Signature:        base64.StdEncoding.EncodeToString([]byte("emulate: not signed")),
		SigningCertURL:   s.Endpoint + "/SimpleNotificationService/" + messageID + ".pem",
		UnsubscribeURL:   s.Endpoint + "/?Action=Unsubscribe&SubscriptionArn=" + url.QueryEscape(subscriptionARN),
	}
	for name, a := range req.MessageAttributes {
		if n.MessageAttributes == nil {
			n.MessageAttributes = map[string]NotificationAttribute{}
		}
		v := a.StringValue
		if strings.HasPrefix(a.DataType, "Binary") {
			v = a.BinaryValue
		}
		n.MessageAttributes[name] = NotificationAttribute{Type: a.DataType, Value: v}
	}
	b, _ := json.Marshal(n)
	return string(b)
}

// validSubject applies SNS's rule: at most 100 characters of UTF-8 text without line breaks or
// other control characters.
func validSubject(s string) bool {
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > 100 {
		return false
	}
	return !strings.ContainsFunc(s, unicode.IsControl)
}

func writeSNSError(w http.ResponseWriter, status int, code, message string) {
	type snsError struct {
		XMLName xml.Name `xml:"ErrorResponse"`
		Error   struct {
			Type    string
			Code    string
			Message string
		}
		RequestID string `xml:"RequestId"`
	}
	e := snsError{RequestID: newID()}
	e.Error.Type, e.Error.Code, e.Error.Message = "Sender", code, message
	if status >= 500 {
		e.Error.Type = "Receiver"
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	_ = xml.NewEncoder(w).Encode(e)
}
