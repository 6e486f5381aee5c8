package queue

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/thumbq/thumbq/worker/emulate"
)

func TestStatusAndRedriveThroughTheEmulator(t *testing.T) {
	ctx := context.Background()
	stack, err := emulate.Start(ctx, emulate.Options{Prefix: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	defer stack.Close()
	q := stack.SQSClient()
	send := func(url, body string, attrs map[string]sqstypes.MessageAttributeValue) {
		t.Helper()
		if _, err := q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &url, MessageBody: &body, MessageAttributes: attrs}); err != nil {
			t.Fatal(err)
		}
	}
	send(stack.QueueURL, `{"waiting":1}`, nil)
	send(stack.QueueURL, `{"waiting":2}`, nil)
	for i := range 3 {
		send(stack.DeadLetterURL, `{"dead":`+string(rune('0'+i))+`}`, map[string]sqstypes.MessageAttributeValue{
			AttrReason: stringAttr("corrupt: truncated"), "origin": stringAttr("test"),
		})
	}
	// One in flight.
	if _, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &stack.QueueURL, MaxNumberOfMessages: 1, VisibilityTimeout: 60}); err != nil {
		t.Fatal(err)
	}

	d, err := Status(ctx, q, nil, stack.QueueURL, stack.DeadLetterURL)
	if err != nil {
		t.Fatal(err)
	}
	if d.Visible != 1 || d.InFlight != 1 || d.DeadLetter != 3 || d.OldestAgeErr == nil {
		t.Errorf("Status = %+v; want 1 waiting, 1 in flight, 3 dead, age unknown without CloudWatch", d)
	}

	n, how, err := Redrive(ctx, q, stack.DeadLetterURL, stack.QueueURL)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 || !strings.Contains(how, "receive/send/delete") {
		t.Errorf("Redrive = %d, %q; want 3 moved by hand (the emulator has no StartMessageMoveTask)", n, how)
	}
	d, err = Status(ctx, q, nil, stack.QueueURL, stack.DeadLetterURL)
	if err != nil {
		t.Fatal(err)
	}
	if d.Visible != 4 || d.DeadLetter != 0 {
		t.Errorf("after redrive Status = %+v; want 4 waiting, 0 dead", d)
	}
	out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &stack.QueueURL, MaxNumberOfMessages: 10, MessageAttributeNames: []string{"All"}})
	if err != nil {
		t.Fatal(err)
	}
	var redriven int
	for _, m := range out.Messages {
		if strings.Contains(*m.Body, "dead") {
			redriven++
			if _, ok := m.MessageAttributes[AttrReason]; ok {
				t.Errorf("a redriven message still carries %s", AttrReason)
			}
			if a, ok := m.MessageAttributes["origin"]; !ok || *a.StringValue != "test" {
				t.Errorf("a redriven message lost its own attributes: %v", m.MessageAttributes)
			}
		}
	}
	if redriven != 3 {
		t.Errorf("received %d redriven messages; want 3", redriven)
	}
}
