package pipeline

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/smithy-go"

	"github.com/thumbq/thumbq/worker/budget"
	"github.com/thumbq/thumbq/worker/event"
	"github.com/thumbq/thumbq/worker/failure"
	"github.com/thumbq/thumbq/worker/fit"
	"github.com/thumbq/thumbq/worker/thumb"
)

// fakeStore is an in-memory bucket for the error paths; the real S3 protocol is exercised by
// the end-to-end tests through the emulator.
type fakeStore struct {
	objects map[string][]byte
	headErr error
	gets    int
	puts    map[string]*s3.PutObjectInput
}

func (f *fakeStore) HeadObject(_ context.Context, in *s3.HeadObjectInput, _ ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	if f.headErr != nil {
		return nil, f.headErr
	}
	b, ok := f.objects[*in.Key]
	if !ok {
		return nil, &smithy.GenericAPIError{Code: "NotFound"}
	}
	return &s3.HeadObjectOutput{ContentLength: aws.Int64(int64(len(b))), ETag: aws.String(`"abc"`)}, nil
}

func (f *fakeStore) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	if *in.Bucket != "src" {
		return nil, &smithy.GenericAPIError{Code: "NoSuchKey"} // the markers of the thumbnail bucket: none here
	}
	f.gets++
	return &s3.GetObjectOutput{Body: io.NopCloser(bytes.NewReader(f.objects[*in.Key]))}, nil
}

func (f *fakeStore) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	if f.puts == nil {
		f.puts = map[string]*s3.PutObjectInput{}
	}
	f.puts[*in.Key] = in
	return &s3.PutObjectOutput{}, nil
}

func (f *fakeStore) DeleteObject(_ context.Context, in *s3.DeleteObjectInput, _ ...func(*s3.Options)) (*s3.DeleteObjectOutput, error) {
	delete(f.objects, *in.Key)
	return &s3.DeleteObjectOutput{}, nil
}

type fakePresigner struct{ expires time.Duration }

func (f *fakePresigner) PresignGetObject(_ context.Context, in *s3.GetObjectInput, opts ...func(*s3.PresignOptions)) (*v4.PresignedHTTPRequest, error) {
	var o s3.PresignOptions
	for _, fn := range opts {
		fn(&o)
	}
	f.expires = o.Expires
	return &v4.PresignedHTTPRequest{URL: "https://thumbs.example/" + url.PathEscape(*in.Key), Method: http.MethodGet}, nil
}

type fakePublisher struct{ in []*sns.PublishInput }

func (f *fakePublisher) Publish(_ context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
	f.in = append(f.in, in)
	return &sns.PublishOutput{}, nil
}

func pngOf(w, h int) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.NRGBA{uint8(x), uint8(y), 100, 255})
		}
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	return b.Bytes()
}

func newProcessor(objects map[string][]byte) (*Processor, *fakeStore, *fakePresigner) {
	st := &fakeStore{objects: objects}
	pr := &fakePresigner{}
	return &Processor{
		Store: st, Presigner: pr, Publisher: &fakePublisher{},
		SourceBucket: "src", ThumbnailBucket: "thumbs", TopicARN: "arn:aws:sns:us-east-1:1:t",
		MaxBytes: 1 << 20, URLExpiry: 24 * time.Hour,
	}, st, pr
}

var discard = slog.New(slog.DiscardHandler)

func TestProcessOutcomes(t *testing.T) {
	img := pngOf(400, 300)
	tests := []struct {
		name       string
		obj        event.Object
		objects    map[string][]byte
		wantStatus Status // OK or Skipped; Failed means a *failure.Error with wantReason as its code
		wantReason string // skip reason prefix, or failure code
		wantKey    string
	}{
		{"an image becomes a thumbnail", event.Object{Bucket: "src", Key: "a.png"}, map[string][]byte{"a.png": img}, OK, "", "a.png"},
		{"the other reading of the key is tried when the first names nothing",
			event.Object{Bucket: "src", Key: "IMG 0001 (copy) final.png", AltKey: "IMG+0001+(copy)+final.png"},
			map[string][]byte{"IMG+0001+(copy)+final.png": img}, OK, "", "IMG+0001+(copy)+final.png"},
		{"an event for another bucket fails", event.Object{Bucket: "other", Key: "a.png"}, map[string][]byte{"a.png": img}, Failed, "wrong-bucket", "a.png"},
		{"a deleted object is skipped", event.Object{Bucket: "src", Key: "gone.png"}, nil, Skipped, "object no longer exists", "gone.png"},
		{"a folder placeholder is skipped", event.Object{Bucket: "src", Key: "albums/"}, map[string][]byte{"albums/": {}}, Skipped, "folder", "albums/"},
		{"an empty object is skipped", event.Object{Bucket: "src", Key: "empty.jpg"}, map[string][]byte{"empty.jpg": {}}, Skipped, "empty", "empty.jpg"},
		{"text fails as not an image", event.Object{Bucket: "src", Key: "notes.txt"}, map[string][]byte{"notes.txt": []byte("hello, world\n")}, Failed, "not-an-image", "notes.txt"},
		{"an object over the byte cap fails before it is downloaded", event.Object{Bucket: "src", Key: "big.png"}, map[string][]byte{"big.png": make([]byte, 2<<20)}, Failed, "too-large", "big.png"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, st, _ := newProcessor(tt.objects)
			o, err := p.Process(context.Background(), tt.obj, discard)
			if tt.wantStatus == Failed {
				f := failure.As(err)
				if f == nil || string(f.Code) != tt.wantReason || f.Detail() == "" {
					t.Fatalf("Process = %s, %v; want a *failure.Error with code %s and a detail", o.Status, err, tt.wantReason)
				}
			} else if err != nil {
				t.Fatalf("Process: error %v; want %s", err, tt.wantStatus)
			} else if o.Status != tt.wantStatus || !strings.HasPrefix(o.Reason, tt.wantReason) {
				t.Errorf("Process = %s %q; want %s %q...", o.Status, o.Reason, tt.wantStatus, tt.wantReason)
			}
			if o.Object.Key != tt.wantKey {
				t.Errorf("resolved key = %q; want %q", o.Object.Key, tt.wantKey)
			}
			if tt.wantReason == "too-large" && st.gets != 0 {
				t.Errorf("GetObject called %d times for an object over the cap; want 0", st.gets)
			}
			if tt.wantStatus == OK {
				put := st.puts[o.ThumbnailKey]
				if put == nil {
					t.Fatalf("no thumbnail written at %s", o.ThumbnailKey)
				}
				if o.Width != 64 || o.Height != 48 {
					t.Errorf("thumbnail of 400x300 = %dx%d; want 64x48", o.Width, o.Height)
				}
				if put.Metadata["source-bucket"] != "src" || put.Metadata["source-etag"] != "abc" {
					t.Errorf("metadata = %v; want source-bucket src, source-etag abc", put.Metadata)
				}
				if k, _ := url.PathUnescape(put.Metadata["source-key"]); k != tt.wantKey {
					t.Errorf("source-key metadata = %q; want %q escaped", put.Metadata["source-key"], tt.wantKey)
				}
				if *put.ContentType != "image/png" {
					t.Errorf("ContentType = %s; want image/png", *put.ContentType)
				}
			}
		})
	}
}

func TestProcessLeavesS3FailuresTransient(t *testing.T) {
	p, _, _ := newProcessor(map[string][]byte{"a.png": pngOf(10, 10)})
	p.Store.(*fakeStore).headErr = &smithy.GenericAPIError{Code: "SlowDown", Message: "reduce your request rate"}
	_, err := p.Process(context.Background(), event.Object{Bucket: "src", Key: "a.png"}, discard)
	if err == nil || failure.IsPermanent(err) {
		t.Errorf("Process with S3 SlowDown = %v; want a transient error", err)
	}
}

func TestThumbnailKeyIsDeterministic(t *testing.T) {
	b := thumb.Options{}.Boxes()[0]
	if a, c := ThumbnailKey("albums/été/φωτο.jpg", b), ThumbnailKey("albums/été/φωτο.jpg", b); a != c || a != "64x64/albums/été/φωτο.jpg.png" {
		t.Errorf("ThumbnailKey = %q, %q; want 64x64/albums/été/φωτο.jpg.png twice", a, c)
	}
	if a, c := ThumbnailKey("a.jpg", b), ThumbnailKey("a.png", b); a == c {
		t.Errorf("a.jpg and a.png share thumbnail key %q", a)
	}
}

func TestEachSizeHasItsOwnKeyPrefix(t *testing.T) {
	tests := []struct{ name, size, want string }{
		{"contain is the bare size", "64x64", "64x64/a.jpg.png"},
		{"cover adds its mode", "256x256:cover", "256x256-cover/a.jpg.png"},
		{"fill adds its mode", "100x40:fill", "100x40-fill/a.jpg.png"},
		{"pad with enlarge adds both", "32x32:pad:enlarge", "32x32-pad-enlarge/a.jpg.png"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ThumbnailKey("a.jpg", fit.MustParse(tt.size)[0]); got != tt.want {
				t.Errorf("ThumbnailKey(a.jpg, %s) = %q; want %q", tt.size, got, tt.want)
			}
		})
	}
}

func TestPresignNeverOutlivesTheCredentials(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name      string
		expiry    time.Duration
		credsLeft time.Duration // 0: credentials that do not expire
		want      time.Duration
	}{
		{"long-term credentials give the configured lifetime", 24 * time.Hour, 0, 24 * time.Hour},
		{"role credentials expiring sooner cap the lifetime", 24 * time.Hour, 5 * time.Hour, 5 * time.Hour},
		{"role credentials expiring later leave the lifetime", time.Hour, 5 * time.Hour, time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _, pr := newProcessor(nil)
			p.URLExpiry = tt.expiry
			p.Now = func() time.Time { return now }
			p.CredentialsExpire = func(context.Context) (time.Time, bool, error) {
				return now.Add(tt.credsLeft), tt.credsLeft != 0, nil
			}
			_, exp, err := p.presign(context.Background(), "k.png")
			if err != nil {
				t.Fatal(err)
			}
			if pr.expires != tt.want || !exp.Equal(now.Add(tt.want)) {
				t.Errorf("presigned for %s, expiring %s; want %s, %s", pr.expires, exp, tt.want, now.Add(tt.want))
			}
		})
	}
	p, _, _ := newProcessor(nil)
	p.CredentialsExpire = func(context.Context) (time.Time, bool, error) { return time.Now().Add(-time.Minute), true, nil }
	if _, _, err := p.presign(context.Background(), "k.png"); err == nil {
		t.Error("presign with expired credentials succeeded; want an error")
	}
	p.CredentialsExpire = func(context.Context) (time.Time, bool, error) { return time.Time{}, false, errors.New("no role") }
	if _, _, err := p.presign(context.Background(), "k.png"); err == nil || failure.IsPermanent(err) {
		t.Errorf("presign without credentials = %v; want a transient error", err)
	}
}

func TestNotification(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ok := Outcome{Result: Result{Object: event.Object{Bucket: "src", Key: "albums/été/φωτο.jpg"}, Status: OK, Format: "jpeg",
		SourceWidth: 4000, SourceHeight: 3000, Width: 64, Height: 48, ThumbnailKey: "64x64/albums/été/φωτο.jpg.png",
		URL: "https://x/y", URLExpires: now.Add(24 * time.Hour)}}
	n := NewNotification(ok, "thumbs", now)
	for _, want := range []string{"s3://src/albums/été/φωτο.jpg", "64x48", "4000x3000", "https://x/y", "24h0m0s", now.Add(24 * time.Hour).Format(time.RFC1123)} {
		if !strings.Contains(n.Body, want) {
			t.Errorf("body lacks %q:\n%s", want, n.Body)
		}
	}
	if n.Attributes["bucket"] != "src" || n.Attributes["key"] != "albums/été/φωτο.jpg" || n.Attributes["status"] != "ok" {
		t.Errorf("attributes = %v", n.Attributes)
	}
	if n.Subject != "Thumbnail ready: albums/ete/foto.jpg (exact key in the message)" {
		t.Errorf("subject = %q; want the key transliterated, saying so", n.Subject)
	}
	long := ok
	long.Object.Key = strings.Repeat("x", 300) + "\nEvil: header"
	long.Status, long.Err = Failed, failure.New(failure.NotImage, "", "the file starts with text")
	n = NewNotification(long, "thumbs", now)
	if len(n.Subject) >= 100 || strings.ContainsAny(n.Subject, "\r\n") {
		t.Errorf("subject %q is not a valid SNS subject", n.Subject)
	}
	if n.Attributes["status"] != "failed" || n.Attributes["reason"] != "not-an-image" ||
		n.Attributes["detail"] != "the file starts with text" || !strings.Contains(n.Body, "the file starts with text") {
		t.Errorf("failure notification = %+v; want reason the bare code not-an-image, the detail in its attribute and the body", n)
	}
}

func TestAnImageOverTheWholeMemoryBudgetFailsBeforeDecoding(t *testing.T) {
	p, st, _ := newProcessor(map[string][]byte{"big.png": pngOf(400, 300)})
	p.Budget = budget.New(64 << 10) // 64 KiB: less than any decode of 400x300 needs
	_, err := p.Process(context.Background(), event.Object{Bucket: "src", Key: "big.png"}, discard)
	f := failure.As(err)
	if f == nil || f.Code != failure.OverMemoryBudget || !strings.Contains(f.Detail(), "400x300") {
		t.Fatalf("Process = %v; want over-memory-budget naming the image's size", err)
	}
	if len(st.puts) != 0 {
		t.Errorf("a thumbnail was written for an image refused for memory: %v", st.puts)
	}
	p.Budget = budget.New(256 << 20)
	if o, err := p.Process(context.Background(), event.Object{Bucket: "src", Key: "big.png"}, discard); err != nil || o.Status != OK {
		t.Errorf("Process within a 256 MiB budget = %s, %v; want ok", o.Status, err)
	}
}
