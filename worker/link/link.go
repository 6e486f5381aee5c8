// Package link makes and checks thumbq's long-lived thumbnail links. A link names a thumbnail key
// and an expiry and carries an HMAC-SHA256 of both under a secret the stack generates (Secrets
// Manager) and gives to the worker and to the link endpoint only:
//
//	https://<endpoint>/t/<key>?exp=<unix seconds>&sig=<base64url HMAC>
//
// The endpoint (a Lambda function URL in AWS, a path of the emulated endpoint in `thumbq local`)
// checks the link and redirects to a fresh S3 presigned URL that lives a few minutes, signed with
// the endpoint's own current credentials. A link therefore works for its whole lifetime, however
// often the signer's or the endpoint's role credentials rotate (an ECS task role's last at most
// ~6 h, and a URL presigned with them dies with them). Rotating the secret revokes every link.
package link

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Names of the environment variables of the link: the stack sets them on the worker's container
// and on the link endpoint's function.
const (
	EnvBaseURL    = "THUMBQ_LINK_URL"        // the endpoint's URL, e.g. https://abc.lambda-url.eu-west-1.on.aws
	EnvSecret     = "THUMBQ_LINK_SECRET"     // the HMAC secret itself (the worker's container, injected by ECS from Secrets Manager)
	EnvSecretARN  = "THUMBQ_LINK_SECRET_ARN" // the secret's ARN (the endpoint reads the value at start)
	PathPrefix    = "/t/"
	MinSecretSize = 32 // bytes
)

// RedirectLifetime is how long the presigned URL an endpoint redirects to lives: long enough for
// a browser to follow the redirect and download a thumbnail, short enough that a copied one is
// useless soon.
const RedirectLifetime = 5 * time.Minute

// Errors of Check. A link is refused with 403 when it is not ours, 410 when it expired.
var (
	ErrMalformed = errors.New("link: malformed")
	ErrSignature = errors.New("link: bad signature")
	ErrExpired   = errors.New("link: expired")
)

// Signer makes links to thumbnails.
type Signer struct {
	BaseURL string // the endpoint, without a trailing slash
	Secret  []byte
}

// NewSigner checks the settings.
func NewSigner(baseURL string, secret []byte) (*Signer, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("%s: %q is not an http(s) URL", EnvBaseURL, baseURL)
	}
	if len(secret) < MinSecretSize {
		return nil, fmt.Errorf("%s: the secret has %d bytes; want at least %d", EnvSecret, len(secret), MinSecretSize)
	}
	return &Signer{BaseURL: strings.TrimRight(baseURL, "/"), Secret: secret}, nil
}

// Link is the URL of the thumbnail key until expires (to the second).
func (s *Signer) Link(key string, expires time.Time) string {
	exp := expires.Unix()
	return s.BaseURL + PathPrefix + escapePath(key) + "?exp=" + strconv.FormatInt(exp, 10) + "&sig=" + sign(s.Secret, key, exp)
}

// Check returns the key a link's path and query name, if the signature is ours and now is before
// its expiry.
func Check(secret []byte, path string, query url.Values, now time.Time) (string, time.Time, error) {
	if !strings.HasPrefix(path, PathPrefix) {
		return "", time.Time{}, ErrMalformed
	}
	key, err := url.PathUnescape(strings.TrimPrefix(path, PathPrefix))
	if err != nil || key == "" {
		return "", time.Time{}, ErrMalformed
	}
	exp, err := strconv.ParseInt(query.Get("exp"), 10, 64)
	if err != nil {
		return "", time.Time{}, ErrMalformed
	}
	got, err := base64.RawURLEncoding.DecodeString(query.Get("sig"))
	if err != nil {
		return "", time.Time{}, ErrMalformed
	}
	want, _ := base64.RawURLEncoding.DecodeString(sign(secret, key, exp))
	if !hmac.Equal(got, want) {
		return "", time.Time{}, ErrSignature
	}
	expires := time.Unix(exp, 0)
	if !now.Before(expires) {
		return key, expires, ErrExpired
	}
	return key, expires, nil
}

// sign is the MAC of a key and an expiry: "thumbq-link-v1", key and expiry, each on its own line
// (a key cannot hold a newline that makes two messages equal: the expiry is the last line).
func sign(secret []byte, key string, exp int64) string {
	mac := hmac.New(sha256.New, secret)
	fmt.Fprintf(mac, "thumbq-link-v1\n%s\n%d", key, exp)
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// escapePath escapes a key for a URL path, keeping its slashes.
func escapePath(key string) string {
	parts := strings.Split(key, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}
