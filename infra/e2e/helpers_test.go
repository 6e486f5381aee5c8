package e2e

import (
	"bytes"
	"os"
	"sync"
	"testing"
)

// skipWithoutPeer skips a test whose peer is missing, or fails it when THUMBQ_REQUIRE_PEERS is
// set, as .ci/run sets it: CI must not pass on a skipped peer test.
func skipWithoutPeer(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("THUMBQ_REQUIRE_PEERS") != "" {
		t.Fatal("THUMBQ_REQUIRE_PEERS is set: " + why)
	}
	t.Skip(why)
}

// syncBuffer is a bytes.Buffer the worker's output can be written to while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
