package local

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// TestAFilterPolicyOnTheReasonSeesOnlyThatFailure subscribes a queue to the notification topic with
// a filter policy on the reason attribute, as an operator would to hear only of one kind of bad
// upload, and checks that it receives that failure alone: the attribute is the bare code.
func TestAFilterPolicyOnTheReasonSeesOnlyThatFailure(t *testing.T) {
	photo := jpegOf(320, 240)
	files := map[string][]byte{"photo.jpg": photo, "notes.txt": []byte("not an image\n"), "truncated.jpg": photo[:len(photo)/2]}
	images := writeFiles(t, files)
	ctx := context.Background()
	e, err := start(ctx, Options{Images: images, Out: t.TempDir(), VisibilityTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer e.close()
	q, err := e.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("only-not-an-image")})
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := e.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.stack.SNSClient().Subscribe(ctx, &sns.SubscribeInput{
		TopicArn: &e.stack.TopicARN, Protocol: aws.String("sqs"),
		Endpoint:   aws.String(attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]),
		Attributes: map[string]string{"FilterPolicy": `{"reason":["not-an-image"]}`},
	})
	if err != nil {
		t.Fatal(err)
	}
	for key := range files {
		if err := e.upload(ctx, file{path: filepath.Join(images, key), key: key}); err != nil {
			t.Fatal(err)
		}
	}
	for range files {
		select {
		case <-e.outcomes:
		case <-time.After(30 * time.Second):
			t.Fatal("not every upload had an outcome within 30 s")
		}
	}
	var got []string
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); {
		out, err := e.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			var n snsEnvelope
			if err := json.Unmarshal([]byte(*m.Body), &n); err != nil {
				t.Fatal(err)
			}
			got = append(got, n.MessageAttributes["key"].Value+" "+n.MessageAttributes["reason"].Value+" "+
				strings.TrimSpace(n.MessageAttributes["detail"].Value))
		}
	}
	sort.Strings(got)
	if len(got) != 1 || !strings.HasPrefix(got[0], "notes.txt not-an-image ") || strings.HasSuffix(got[0], "not-an-image") {
		t.Errorf("the filtered subscription received %q; want only notes.txt, reason not-an-image, with its detail", got)
	}
}
