package link

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

// s3Peer stands for S3 and IAM: it serves a presigned GET only if the URL's access key is still
// valid (temporary credentials that expired, or were rotated away, are refused as S3 refuses
// them: 400 ExpiredToken / 403) and the URL's own X-Amz-Expires has not passed.
type s3Peer struct {
	mu    sync.Mutex
	valid map[string]bool // access key id -> still valid
}

func (p *s3Peer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	akid, _, _ := strings.Cut(q.Get("X-Amz-Credential"), "/")
	signed, err := time.Parse("20060102T150405Z", q.Get("X-Amz-Date"))
	if err != nil {
		http.Error(w, "not presigned", http.StatusForbidden)
		return
	}
	expires, _ := time.ParseDuration(q.Get("X-Amz-Expires") + "s")
	p.mu.Lock()
	ok := p.valid[akid]
	p.mu.Unlock()
	switch {
	case !ok:
		http.Error(w, "ExpiredToken: the provided token has expired", http.StatusBadRequest)
	case time.Now().After(signed.Add(expires)):
		http.Error(w, "AccessDenied: Request has expired", http.StatusForbidden)
	default:
		io.WriteString(w, "PNG of "+r.URL.Path)
	}
}

func (p *s3Peer) rotate(from, to string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.valid, from)
	p.valid[to] = true
}

// presigner is the real SDK presigner with the credentials an identity holds now.
func presigner(endpoint string, akid string) Presign {
	client := s3.New(s3.Options{
		Region:       "eu-west-1",
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(akid, "secret-"+akid, "token-"+akid),
	})
	ps := s3.NewPresignClient(client)
	return func(ctx context.Context, key string, ttl time.Duration) (string, error) {
		req, err := ps.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("thumbnails"), Key: aws.String(key)}, s3.WithPresignExpires(ttl))
		if err != nil {
			return "", err
		}
		return req.URL, nil
	}
}

func get(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The test: a link made when the worker held credentials A still works after A expired
// and the endpoint's credentials rotated, where a URL presigned with A for the same 24 h is dead;
// and the link fails after its own expiry.
func TestLinkOutlivesCredentialRotationAndDiesAtItsExpiry(t *testing.T) {
	peer := &s3Peer{valid: map[string]bool{"ASIA-WORKER-A": true, "ASIA-ENDPOINT-1": true}}
	s3srv := httptest.NewServer(peer)
	defer s3srv.Close()

	now := time.Date(2026, 11, 28, 18, 0, 0, 0, time.UTC) // the link's clock
	endpointCreds := "ASIA-ENDPOINT-1"
	var mu sync.Mutex
	h := &Handler{Secret: secret, Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now },
		Presign: func(ctx context.Context, key string, ttl time.Duration) (string, error) {
			mu.Lock()
			akid := endpointCreds
			mu.Unlock()
			return presigner(s3srv.URL, akid)(ctx, key, ttl)
		}}
	endpoint := httptest.NewServer(h)
	defer endpoint.Close()

	signer, err := NewSigner(endpoint.URL, secret)
	if err != nil {
		t.Fatal(err)
	}
	key := "64x64/albums/2026 summer/IMG_0001.jpg.png"
	link := signer.Link(key, now.Add(24*time.Hour))
	// What the worker did before: a URL presigned with its own role credentials for 24 h.
	direct, err := presigner(s3srv.URL, "ASIA-WORKER-A")(context.Background(), key, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	if code, body := get(t, link); code != http.StatusOK || body != "PNG of /thumbnails/"+key {
		t.Fatalf("fresh link: %d %q; want 200 and the thumbnail", code, body)
	}

	// Six hours on: the worker's credentials expired, the endpoint's rotated.
	peer.rotate("ASIA-WORKER-A", "ASIA-WORKER-B")
	peer.rotate("ASIA-ENDPOINT-1", "ASIA-ENDPOINT-2")
	mu.Lock()
	now, endpointCreds = now.Add(6*time.Hour+time.Minute), "ASIA-ENDPOINT-2"
	mu.Unlock()
	if code, _ := get(t, direct); code == http.StatusOK {
		t.Fatalf("a URL presigned with expired credentials still works: the peer does not model the failure")
	}
	if code, body := get(t, link); code != http.StatusOK || body != "PNG of /thumbnails/"+key {
		t.Errorf("link after the credentials rotated: %d %q; want 200 and the thumbnail", code, body)
	}

	// A second before its expiry it works; at its expiry it is gone.
	mu.Lock()
	now = time.Date(2026, 11, 29, 18, 0, 0, 0, time.UTC).Add(-time.Second)
	mu.Unlock()
	if code, _ := get(t, link); code != http.StatusOK {
		t.Errorf("link a second before its expiry: %d; want 200", code)
	}
	mu.Lock()
	now = now.Add(time.Second)
	mu.Unlock()
	if code, _ := get(t, link); code != http.StatusGone {
		t.Errorf("link at its expiry: %d; want 410", code)
	}
}

func TestCheckRefusesWhatIsNotOurs(t *testing.T) {
	s, _ := NewSigner("https://links.example", secret)
	now := time.Unix(1_800_000_000, 0)
	good, _ := url.Parse(s.Link("64x64/a.jpg.png", now.Add(time.Hour)))
	other, _ := url.Parse(s.Link("64x64/b.jpg.png", now.Add(time.Hour)))
	for _, tc := range []struct {
		name  string
		path  string
		query url.Values
		want  error
	}{
		{"a good link passes", good.EscapedPath(), good.Query(), nil},
		{"another key with this signature fails", other.EscapedPath(), good.Query(), ErrSignature},
		{"a later expiry fails", good.EscapedPath(), with(good.Query(), "exp", "1800009999"), ErrSignature},
		{"another secret's signature fails", good.EscapedPath(), with(good.Query(), "sig", sign([]byte("x"), "64x64/a.jpg.png", now.Add(time.Hour).Unix())), ErrSignature},
		{"no signature fails", good.EscapedPath(), with(good.Query(), "sig", ""), ErrSignature},
		{"a path outside /t/ fails", "/x/64x64/a.jpg.png", good.Query(), ErrMalformed},
		{"no expiry fails", good.EscapedPath(), with(good.Query(), "exp", ""), ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Check(secret, tc.path, tc.query, now)
			if err != tc.want {
				t.Errorf("Check = %v; want %v", err, tc.want)
			}
		})
	}
}

func with(q url.Values, k, v string) url.Values {
	out := url.Values{}
	for kk, vv := range q {
		out[kk] = vv
	}
	out.Set(k, v)
	return out
}

func TestNewSignerRefusesAShortSecretOrABadURL(t *testing.T) {
	if _, err := NewSigner("https://links.example", []byte("short")); err == nil {
		t.Error("a 5-byte secret was accepted")
	}
	if _, err := NewSigner("links.example", secret); err == nil {
		t.Error("a URL without a scheme was accepted")
	}
}

// The Lambda adapter: a function URL event for a link becomes a 302 to the presigned URL.
func TestInvokeAnswersAFunctionURLEvent(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	h := &Handler{Secret: secret, Now: func() time.Time { return now },
		Presign: func(_ context.Context, key string, ttl time.Duration) (string, error) {
			return "https://s3.example/" + key + "?ttl=" + ttl.String(), nil
		}}
	s, _ := NewSigner("https://abc.lambda-url.eu-west-1.on.aws", secret)
	u, _ := url.Parse(s.Link("64x64/a b.jpg.png", now.Add(time.Hour)))
	event := `{"rawPath":"` + u.EscapedPath() + `","rawQueryString":"` + u.RawQuery + `","requestContext":{"http":{"method":"GET"}}}`
	out, err := Invoke(context.Background(), h, []byte(event))
	if err != nil {
		t.Fatal(err)
	}
	if s := string(out); !strings.Contains(s, `"statusCode":302`) || !strings.Contains(s, `https://s3.example/64x64/a b.jpg.png?ttl=5m1s`) {
		t.Errorf("Invoke = %s; want a 302 to the presigned URL (5 min)", s)
	}
}

// The Runtime API loop against a fake Lambda runtime: next event, then its response.
func TestServeLambdaPostsEachInvocationsResponse(t *testing.T) {
	var mu sync.Mutex
	var responses []string
	calls := 0
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rt := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/2018-06-01/runtime/invocation/next":
			calls++
			if calls > 2 {
				cancel()
				http.Error(w, "no more", http.StatusGone)
				return
			}
			w.Header().Set("Lambda-Runtime-Aws-Request-Id", fmt.Sprint("req-", calls))
			io.WriteString(w, `{"n":`+fmt.Sprint(calls)+`}`)
		case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/response"):
			b, _ := io.ReadAll(r.Body)
			responses = append(responses, strings.TrimPrefix(r.URL.Path, "/2018-06-01/runtime/invocation/")+" "+string(b))
		}
	}))
	defer rt.Close()
	ServeLambdaFunc(ctx, strings.TrimPrefix(rt.URL, "http://"), func(_ context.Context, event []byte) ([]byte, error) {
		return append([]byte("echo "), event...), nil
	})
	mu.Lock()
	defer mu.Unlock()
	want := []string{`req-1/response echo {"n":1}`, `req-2/response echo {"n":2}`}
	if strings.Join(responses, "|") != strings.Join(want, "|") {
		t.Errorf("responses %q; want %q", responses, want)
	}
}

func TestStartLocalServesItsOwnLinks(t *testing.T) {
	l, err := StartLocal(func(_ context.Context, key string, _ time.Duration) (string, error) {
		return "http://s3.local/thumbnails/" + key, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(l.Signer.Link("64x64/a.jpg.png", time.Now().Add(time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "http://s3.local/thumbnails/64x64/a.jpg.png" {
		t.Errorf("local link: %d to %q; want 302 to the presigned URL", resp.StatusCode, resp.Header.Get("Location"))
	}
}
