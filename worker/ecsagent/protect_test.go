package ecsagent

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// agent is a fake ECS agent endpoint: it records each protection request and answers as the
// agent does ({"protection": {...}}, or {"failure": {...}} when told to fail).
type agent struct {
	mu    sync.Mutex
	calls []map[string]any
	fail  bool
}

func (a *agent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPut || r.URL.Path != "/task-protection/v1/state" || r.Header.Get("Content-Type") != "application/json" {
		http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusNotFound)
		return
	}
	var in map[string]any
	json.NewDecoder(r.Body).Decode(&in)
	a.mu.Lock()
	a.calls = append(a.calls, in)
	fail := a.fail
	a.mu.Unlock()
	if fail {
		io.WriteString(w, `{"failure":{"Arn":"arn:aws:ecs:eu-west-1:1:task/c/t","Reason":"TASK_NOT_FOUND"}}`)
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"protection": map[string]any{"ProtectionEnabled": in["ProtectionEnabled"], "TaskArn": "arn:aws:ecs:eu-west-1:1:task/c/t"}})
}

func (a *agent) got() []map[string]any {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]map[string]any(nil), a.calls...)
}

func newProtector(t *testing.T, a *agent) *Protector {
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	p := New(srv.URL, slog.New(slog.NewTextHandler(io.Discard, nil)))
	p.IdleDelay = 20 * time.Millisecond
	return p
}

type handler struct{ during func() }

func (h *handler) Handle(context.Context, []byte, *slog.Logger) error        { h.during(); return nil }
func (h *handler) DeadLettered(context.Context, []byte, error, *slog.Logger) {}

func TestProtectedWhileAMessageIsInHandClearedWhenIdle(t *testing.T) {
	a := &agent{}
	p := newProtector(t, a)
	var during bool
	h := Protect(&handler{during: func() { during = p.Protected() }}, p)
	for range 3 { // three messages in a row: one set, one clear
		if err := h.Handle(context.Background(), nil, nil); err != nil {
			t.Fatal(err)
		}
		if !during {
			t.Fatal("not protected while handling a message")
		}
	}
	time.Sleep(100 * time.Millisecond)
	calls := a.got()
	if len(calls) != 2 || calls[0]["ProtectionEnabled"] != true || calls[0]["ExpiresInMinutes"] != float64(60) || calls[1]["ProtectionEnabled"] != false {
		t.Errorf("agent calls %v; want protect for 60 min once, then clear once", calls)
	}
	if p.Protected() {
		t.Error("still protected when idle")
	}
}

func TestOverlappingMessagesKeepProtectionUntilTheLastEnds(t *testing.T) {
	a := &agent{}
	p := newProtector(t, a)
	p.Begin(context.Background())
	p.Begin(context.Background())
	p.End()
	time.Sleep(60 * time.Millisecond)
	if !p.Protected() || len(a.got()) != 1 {
		t.Fatalf("after one of two messages ended: protected %v, calls %v; want still protected, one call", p.Protected(), a.got())
	}
	p.End()
	time.Sleep(60 * time.Millisecond)
	if p.Protected() || len(a.got()) != 2 {
		t.Errorf("after both ended: protected %v, calls %v; want cleared", p.Protected(), a.got())
	}
}

func TestAFailingAgentLeavesTheTaskUnprotectedAndWorking(t *testing.T) {
	a := &agent{fail: true}
	p := newProtector(t, a)
	worked := false
	if err := Protect(&handler{during: func() { worked = true }}, p).Handle(context.Background(), nil, nil); err != nil || !worked {
		t.Fatalf("Handle: %v, worked %v; want the work done", err, worked)
	}
	if p.Protected() {
		t.Error("protected although the agent refused")
	}
}

func TestOutsideECSNothingIsCalled(t *testing.T) {
	var h Handler = &handler{during: func() {}}
	if got := Protect(h, New("", nil)); got != h {
		t.Error("without ECS_AGENT_URI the handler is wrapped")
	}
}
