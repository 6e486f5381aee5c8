package main

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/thumbq/thumbq/worker/link"
	"github.com/thumbq/thumbq/worker/pipeline"
)

func TestUseLinksPublishesLinksOfTheConfiguredLifetime(t *testing.T) {
	secret := strings.Repeat("k", 32)
	env := map[string]string{link.EnvBaseURL: "https://abc.lambda-url.eu-west-1.on.aws", link.EnvSecret: secret}
	p := &pipeline.Processor{CredentialsExpire: func(context.Context) (time.Time, bool, error) { return time.Now().Add(time.Hour), true, nil }}
	if err := useLinks(p, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if p.CredentialsExpire != nil {
		t.Error("links are still capped at the credentials' expiry")
	}
	req, err := p.Presigner.PresignGetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("b"), Key: aws.String("64x64/a.jpg.png")},
		s3.WithPresignExpires(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(req.URL)
	exp, _ := strconv.ParseInt(u.Query().Get("exp"), 10, 64)
	if left := time.Until(time.Unix(exp, 0)); left < 24*time.Hour-time.Minute || left > 24*time.Hour {
		t.Errorf("link %s lives %s; want 24h", req.URL, left)
	}
	if _, _, err := link.Check([]byte(secret), u.EscapedPath(), u.Query(), time.Now()); err != nil {
		t.Errorf("the endpoint refuses the worker's link %s: %v", req.URL, err)
	}

	none := &pipeline.Processor{}
	if err := useLinks(none, func(string) string { return "" }); err != nil || none.Presigner != nil {
		t.Errorf("without %s: presigner %v, error %v; want the processor unchanged", link.EnvBaseURL, none.Presigner, err)
	}
	env[link.EnvSecret] = "short"
	if err := useLinks(&pipeline.Processor{}, func(k string) string { return env[k] }); err == nil {
		t.Error("a short secret was accepted")
	}
}
