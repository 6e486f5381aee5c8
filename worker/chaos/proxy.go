package main

import (
	"bytes"
	"io"
	"log"
	"math/rand"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// fault is what the proxy does to one request.
type fault int

const (
	pass     fault = iota
	error500       // answer 500 InternalError without forwarding
	error503       // answer 503 SlowDown / ServiceUnavailable without forwarding
	reset          // close the connection before forwarding: the request never arrives
	lost           // forward, let AWS act, then close the connection: the response is lost
	slow           // forward after a delay
	faultKinds
)

var faultNames = [...]string{"pass", "500", "503", "reset before the request", "response lost", "delayed"}

// proxy sits between the workers and the emulated AWS endpoint and injects faults on a seeded
// schedule: each request draws whether it fails (rate) and how.
type proxy struct {
	target   *url.URL
	rate     float64
	maxDelay time.Duration

	mu  sync.Mutex
	rng *rand.Rand

	injected [faultKinds]atomic.Int64
	requests atomic.Int64
	// publishesLost counts SNS Publish calls that reached the topic but whose answer was dropped:
	// the SDK (or the worker) publishes again, and no sender can know it did not need to.
	publishesLost atomic.Int64

	// thumbnailPuts counts, per thumbnail key, the PUTs the endpoint received (lost responses
	// included): more than one for a key is a duplicate thumbnail.
	thumbMu       sync.Mutex
	thumbnailPuts map[string]int
	thumbBucket   string
	rp            *httputil.ReverseProxy
}

func newProxy(target string, rate float64, maxDelay time.Duration, seed int64, thumbBucket string) (*proxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	p := &proxy{target: u, rate: rate, maxDelay: maxDelay, rng: rand.New(rand.NewSource(seed)),
		thumbnailPuts: map[string]int{}, thumbBucket: thumbBucket}
	p.rp = httputil.NewSingleHostReverseProxy(u)
	p.rp.Transport = &http.Transport{MaxIdleConnsPerHost: 64, ResponseHeaderTimeout: 60 * time.Second}
	p.rp.ErrorLog = log.New(io.Discard, "", 0) // the faults it injects make errors; they are counted, not logged
	return p, nil
}

func (p *proxy) draw() (fault, time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.rng.Float64() >= p.rate {
		return pass, 0
	}
	f := fault(1 + p.rng.Intn(int(faultKinds)-1))
	return f, time.Duration(p.rng.Int63n(int64(p.maxDelay)) + 1)
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.requests.Add(1)
	f, delay := p.draw()
	if f != pass {
		p.injected[f].Add(1)
	}
	switch f {
	case error500:
		writeFault(w, r, http.StatusInternalServerError, "InternalError")
		return
	case error503:
		writeFault(w, r, http.StatusServiceUnavailable, "ServiceUnavailable")
		return
	case reset:
		hangUp(w)
		return
	case slow:
		time.Sleep(delay)
	}
	if r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/"+p.thumbBucket+"/") && !strings.Contains(r.URL.Path, "/_thumbq/") {
		defer func() {
			p.thumbMu.Lock()
			p.thumbnailPuts[r.URL.Path]++
			p.thumbMu.Unlock()
		}()
	}
	if f == lost {
		if isPublish(r) {
			p.publishesLost.Add(1)
		}
		rec := &discard{header: http.Header{}}
		p.rp.ServeHTTP(rec, r)
		hangUp(w)
		return
	}
	p.rp.ServeHTTP(w, r)
}

// hangUp closes the client's connection without an answer, as a reset or a dropped response does.
func hangUp(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	c, _, err := hj.Hijack()
	if err != nil {
		return
	}
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0) // RST, not FIN
	}
	c.Close()
}

// writeFault answers as the service would under load: SQS's JSON protocol, or S3/SNS XML.
func writeFault(w http.ResponseWriter, r *http.Request, status int, code string) {
	io.Copy(io.Discard, r.Body)
	if strings.HasPrefix(r.Header.Get("X-Amz-Target"), "AmazonSQS.") {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.WriteHeader(status)
		io.WriteString(w, `{"__type":"`+code+`","message":"injected by make chaos"}`)
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	io.WriteString(w, `<Error><Code>`+code+`</Code><Message>injected by make chaos</Message></Error>`)
}

// isPublish reports whether r is an SNS Publish (a query-protocol form), leaving its body readable.
func isPublish(r *http.Request) bool {
	if r.Method != http.MethodPost || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		return false
	}
	b, err := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(b))
	return err == nil && bytes.Contains(b, []byte("Action=Publish"))
}

type discard struct {
	header http.Header
	body   bytes.Buffer
}

func (d *discard) Header() http.Header         { return d.header }
func (d *discard) Write(b []byte) (int, error) { return d.body.Write(b) }
func (d *discard) WriteHeader(int)             {}

func (p *proxy) duplicateThumbnails() (dups int) {
	p.thumbMu.Lock()
	defer p.thumbMu.Unlock()
	for _, n := range p.thumbnailPuts {
		dups += n - 1
	}
	return dups
}
