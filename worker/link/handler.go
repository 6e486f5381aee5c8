package link

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"
)

// Presign returns a GET URL of a thumbnail key that lives ttl, signed with the caller's current
// credentials (s3.PresignClient.PresignGetObject behind it).
type Presign func(ctx context.Context, key string, ttl time.Duration) (string, error)

// Handler is the link endpoint: it checks a link and redirects (302) to a fresh presigned URL.
// 403 for a link that is not ours, 410 for one that expired, 502 when presigning fails.
type Handler struct {
	Secret  []byte
	Presign Presign
	Log     *slog.Logger
	Now     func() time.Time // nil: time.Now
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now
	if h.Now != nil {
		now = h.Now
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "GET only", http.StatusMethodNotAllowed)
		return
	}
	key, expires, err := Check(h.Secret, r.URL.EscapedPath(), r.URL.Query(), now())
	switch {
	case errors.Is(err, ErrExpired):
		http.Error(w, "this link expired at "+expires.UTC().Format(time.RFC1123), http.StatusGone)
		return
	case err != nil:
		http.Error(w, "not a thumbq link", http.StatusForbidden)
		return
	}
	ttl := min(RedirectLifetime, expires.Sub(now()))
	u, err := h.Presign(r.Context(), key, ttl.Truncate(time.Second)+time.Second)
	if err != nil {
		if h.Log != nil {
			h.Log.Error("presign", "key", key, "error", err)
		}
		http.Error(w, "the thumbnail cannot be served now", http.StatusBadGateway)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u, http.StatusFound)
}
