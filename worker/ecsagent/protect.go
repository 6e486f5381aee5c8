// Package ecsagent sets ECS task scale-in protection through the ECS agent's endpoint
// (ECS_AGENT_URI, injected into every ECS container): protected while the task has a message in
// hand, so that a scale-in (the service's target tracking, or a deployment) stops only idle tasks,
// and cleared once it has been idle for a moment.
package ecsagent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// EnvAgentURI is the variable the ECS agent sets in every container of a task.
const EnvAgentURI = "ECS_AGENT_URI"

// Defaults of a Protector.
const (
	// DefaultExpiry bounds a protection a crashed worker cannot clear: ECS lifts it by itself
	// then. A busy worker renews it when half of it has passed.
	DefaultExpiry = 60 * time.Minute
	// DefaultIdleDelay is how long the task stays protected after its last message, so that a
	// stream of messages does not set and clear protection for each.
	DefaultIdleDelay = 10 * time.Second
)

// Protector counts the messages a task has in hand and keeps its protection in step.
type Protector struct {
	URI       string // ECS_AGENT_URI
	Client    *http.Client
	Expiry    time.Duration
	IdleDelay time.Duration
	Log       *slog.Logger
	Now       func() time.Time // nil: time.Now

	mu        sync.Mutex
	busy      int
	protected bool
	since     time.Time   // when the protection was last set
	clear     *time.Timer // pending clear after the idle delay
}

// New returns a Protector for the agent at uri with the defaults, or nil when uri is empty (not in
// ECS): a nil Protector's methods do nothing.
func New(uri string, log *slog.Logger) *Protector {
	if uri == "" {
		return nil
	}
	return &Protector{URI: uri, Client: &http.Client{Timeout: 5 * time.Second}, Expiry: DefaultExpiry, IdleDelay: DefaultIdleDelay, Log: log}
}

func (p *Protector) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// Begin records a message taken in hand: the task is protected before its work starts.
func (p *Protector) Begin(ctx context.Context) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.busy++
	if p.clear != nil {
		p.clear.Stop()
		p.clear = nil
	}
	if p.protected && p.now().Sub(p.since) < p.Expiry/2 {
		return
	}
	if err := p.set(ctx, true); err != nil {
		p.Log.Warn("scale-in protection not set", "error", err)
		return
	}
	p.protected, p.since = true, p.now()
}

// End records a message done with; the protection is cleared IdleDelay after the last one.
func (p *Protector) End() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.busy--
	if p.busy > 0 || !p.protected {
		return
	}
	p.clear = time.AfterFunc(p.IdleDelay, func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.busy > 0 || !p.protected {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := p.set(ctx, false); err != nil {
			p.Log.Warn("scale-in protection not cleared (ECS lifts it when it expires)", "error", err)
			return
		}
		p.protected = false
	})
}

// Protected reports whether the task holds protection now, as far as this Protector knows.
func (p *Protector) Protected() bool {
	if p == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.protected
}

// set calls the agent: PUT $ECS_AGENT_URI/task-protection/v1/state.
func (p *Protector) set(ctx context.Context, enabled bool) error {
	in := map[string]any{"ProtectionEnabled": enabled}
	if enabled {
		in["ExpiresInMinutes"] = max(1, int(p.Expiry.Minutes()))
	}
	body, _ := json.Marshal(in)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, p.URI+"/task-protection/v1/state", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.Client.Do(req)
	if err != nil {
		return fmt.Errorf("task protection: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var out struct {
		Protection *struct{ ProtectionEnabled bool }
		Failure    *struct{ Arn, Reason, Detail string }
		Error      *struct{ Arn, Code, Message string }
	}
	_ = json.Unmarshal(b, &out)
	switch {
	case out.Failure != nil:
		return fmt.Errorf("task protection: %s", out.Failure.Reason)
	case out.Error != nil:
		return fmt.Errorf("task protection: %s: %s", out.Error.Code, out.Error.Message)
	case resp.StatusCode != http.StatusOK || out.Protection == nil:
		return fmt.Errorf("task protection: %s: %q", resp.Status, b)
	case out.Protection.ProtectionEnabled != enabled:
		return fmt.Errorf("task protection: asked %v, agent says %v", enabled, out.Protection.ProtectionEnabled)
	}
	return nil
}

// Handler is the work-queue handler the consumer calls (queue.Handler's methods).
type Handler interface {
	Handle(ctx context.Context, body []byte, log *slog.Logger) error
	DeadLettered(ctx context.Context, body []byte, err error, log *slog.Logger)
}

// Protect wraps a handler so that the task is protected while a message is handled. The
// consumer's optional Describe is kept.
func Protect(h Handler, p *Protector) Handler {
	if p == nil {
		return h
	}
	w := &protected{Handler: h, p: p}
	if d, ok := h.(describer); ok {
		return &describing{protected: w, d: d}
	}
	return w
}

type protected struct {
	Handler
	p *Protector
}

func (w *protected) Handle(ctx context.Context, body []byte, log *slog.Logger) error {
	w.p.Begin(ctx)
	defer w.p.End()
	return w.Handler.Handle(ctx, body, log)
}

type describer interface{ Describe(body []byte) []any }

type describing struct {
	*protected
	d describer
}

func (w *describing) Describe(body []byte) []any { return w.d.Describe(body) }
