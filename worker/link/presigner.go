package link

import (
	"context"
	"fmt"
	"net/http"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Presigner makes links where the pipeline would presign: it has the one method of the pipeline's
// Presigner interface, and returns a link of the lifetime the pipeline asks for instead of a URL
// signed with the worker's role credentials.
type Presigner struct {
	Signer *Signer
	Now    func() time.Time // nil: time.Now
}

// PresignGetObject returns the link of in.Key that lives as long as the options' Expires.
func (p *Presigner) PresignGetObject(_ context.Context, in *s3.GetObjectInput, opts ...func(*s3.PresignOptions)) (*v4.PresignedHTTPRequest, error) {
	var o s3.PresignOptions
	for _, f := range opts {
		f(&o)
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	expires := o.Expires
	if expires <= 0 {
		expires = 15 * time.Minute // the SDK's own default
	}
	return &v4.PresignedHTTPRequest{
		URL:          p.Signer.Link(*in.Key, now().Add(expires)),
		Method:       http.MethodGet,
		SignedHeader: http.Header{},
	}, nil
}

// S3Presign presigns GETs of a bucket's keys: what an endpoint redirects to.
func S3Presign(ps *s3.PresignClient, bucket string) Presign {
	return func(ctx context.Context, key string, ttl time.Duration) (string, error) {
		req, err := ps.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key}, s3.WithPresignExpires(ttl))
		if err != nil {
			return "", fmt.Errorf("presign s3://%s/%s: %w", bucket, key, err)
		}
		return req.URL, nil
	}
}
