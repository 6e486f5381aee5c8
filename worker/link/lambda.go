package link

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
)

// EnvRuntimeAPI is set by Lambda to the host:port of its Runtime API: when it is set, `thumbq link`
// serves invocations instead of HTTP.
const EnvRuntimeAPI = "AWS_LAMBDA_RUNTIME_API"

// functionURLRequest is the part of a Lambda function URL event (payload format 2.0) a link needs.
type functionURLRequest struct {
	RawPath        string `json:"rawPath"`
	RawQueryString string `json:"rawQueryString"`
	RequestContext struct {
		HTTP struct {
			Method string `json:"method"`
		} `json:"http"`
	} `json:"requestContext"`
}

type functionURLResponse struct {
	StatusCode int               `json:"statusCode"`
	Headers    map[string]string `json:"headers"`
	Body       string            `json:"body"`
}

// ServeLambda runs h on Lambda's Runtime API (the custom-runtime protocol: fetch the next event,
// post its response) until ctx ends, so that the container image needs no Lambda library.
func ServeLambda(ctx context.Context, runtimeAPI string, h http.Handler) error {
	return ServeLambdaFunc(ctx, runtimeAPI, func(ctx context.Context, event []byte) ([]byte, error) {
		return Invoke(ctx, h, event)
	})
}

// ServeLambdaFunc runs f on each invocation's event until ctx ends; an error of f is reported as
// the invocation's error.
func ServeLambdaFunc(ctx context.Context, runtimeAPI string, f func(ctx context.Context, event []byte) ([]byte, error)) error {
	base := "http://" + runtimeAPI + "/2018-06-01/runtime/invocation/"
	client := &http.Client{} // no timeout: /next blocks until an invocation arrives
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"next", nil)
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("lambda runtime next: %w", err)
		}
		id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("lambda runtime next: %w", err)
		}
		out, err := f(ctx, body)
		path := base + id + "/response"
		if err != nil {
			path = base + id + "/error"
			out, _ = json.Marshal(map[string]string{"errorMessage": err.Error(), "errorType": "Error"})
		}
		post, _ := http.NewRequestWithContext(ctx, http.MethodPost, path, bytes.NewReader(out))
		if resp, err := client.Do(post); err != nil {
			return fmt.Errorf("lambda runtime response: %w", err)
		} else {
			resp.Body.Close()
		}
	}
	return ctx.Err()
}

// Invoke turns one function URL event into a request to h and its answer into the response.
func Invoke(ctx context.Context, h http.Handler, event []byte) ([]byte, error) {
	var in functionURLRequest
	if err := json.Unmarshal(event, &in); err != nil {
		return nil, fmt.Errorf("function URL event: %w", err)
	}
	u := &url.URL{Path: in.RawPath, RawQuery: in.RawQueryString}
	if p, err := url.PathUnescape(in.RawPath); err == nil {
		u.Path, u.RawPath = p, in.RawPath
	}
	req := httptest.NewRequestWithContext(ctx, in.RequestContext.HTTP.Method, u.RequestURI(), nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	out := functionURLResponse{StatusCode: rec.Code, Headers: map[string]string{}, Body: rec.Body.String()}
	for k := range rec.Header() {
		out.Headers[k] = rec.Header().Get(k)
	}
	return json.Marshal(out)
}

// RuntimeAPI is the Runtime API's address when running in Lambda, or "".
func RuntimeAPI() string { return os.Getenv(EnvRuntimeAPI) }
