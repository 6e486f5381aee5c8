package local

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/thumbq/thumbq/worker/pipeline"
)

// TestEveryEventShapeReachesTheSameObject puts an awkwardly named object in the source bucket
// (the emulated rule sends the EventBridge event), then sends the classic S3 notification for it
// with the key URL-encoded as S3 does, and the same inside an SNS envelope: all three must resolve
// to the object and give the same thumbnail key, whose metadata points back to the source and
// whose presigned URL serves it.
func TestEveryEventShapeReachesTheSameObject(t *testing.T) {
	ctx := context.Background()
	e, err := start(ctx, Options{Out: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer e.close()
	key := "albums/été/IMG 0001 (copy)+final.jpg"
	if _, err := e.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: &e.stack.SourceBucket, Key: &key, Body: bytes.NewReader(jpegOf(640, 480))}); err != nil {
		t.Fatal(err)
	}
	encoded := strings.ReplaceAll(url.QueryEscape(key), "%2F", "/")
	classic := `{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"` +
		e.stack.SourceBucket + `"},"object":{"key":"` + encoded + `","size":1}}}]}`
	envelope, _ := json.Marshal(map[string]string{"Type": "Notification", "Message": classic})
	for _, body := range []string{classic, string(envelope)} {
		if _, err := e.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &e.stack.QueueURL, MessageBody: &body}); err != nil {
			t.Fatal(err)
		}
	}
	var got []pipeline.Outcome
	for len(got) < 3 {
		select {
		case o := <-e.outcomes:
			got = append(got, o)
		case <-time.After(30 * time.Second):
			t.Fatalf("%d outcomes in 30 s; want 3: %+v", len(got), got)
		}
	}
	for _, o := range got {
		if o.Status != pipeline.OK || o.Object.Key != key || o.ThumbnailKey != "64x64/"+key+".png" {
			t.Errorf("outcome %s for key %q -> %q (%s); want ok for %q", o.Status, o.Object.Key, o.ThumbnailKey, o.Reason, key)
		}
	}
	o := got[0]
	head, err := e.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &e.stack.ThumbnailBucket, Key: &o.ThumbnailKey})
	if err != nil {
		t.Fatal(err)
	}
	srcKey, _ := url.PathUnescape(head.Metadata["source-key"])
	if head.Metadata["source-bucket"] != e.stack.SourceBucket || srcKey != key || head.Metadata["source-etag"] == "" {
		t.Errorf("thumbnail metadata = %v; want source-bucket, source-key and source-etag of the upload", head.Metadata)
	}
	if head.ContentType == nil || *head.ContentType != "image/png" {
		t.Errorf("thumbnail content type = %v; want image/png", head.ContentType)
	}
	resp, err := http.Get(o.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !bytes.HasPrefix(b, []byte("\x89PNG")) {
		t.Errorf("GET presigned URL: %s, %d bytes; want 200 and the PNG", resp.Status, len(b))
	}
}
