package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/thumbq/thumbq/worker/config"
	"github.com/thumbq/thumbq/worker/emulate"
)

// workCommand returns `thumbq work` pointed at the stack, with the environment changed by env.
func workCommand(s *emulate.Stack, env ...string) (*exec.Cmd, *syncBuffer, *syncBuffer) {
	cmd := exec.Command(binary, "work")
	cmd.Env = os.Environ()
	for k, v := range s.Env() {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, env...)
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	return cmd, stdout, stderr
}

// syncBuffer is a bytes.Buffer that a running command writes while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestAWrongQueueURLEndsTheWorkerAtOnceNamingIt(t *testing.T) {
	stack, err := emulate.Start(context.Background(), emulate.Options{Prefix: "preflight"})
	if err != nil {
		t.Fatal(err)
	}
	defer stack.Close()
	wrong := stack.QueueURL + "-typo"
	cmd, _, stderr := workCommand(stack, config.EnvQueueURL+"="+wrong)
	start := time.Now()
	err = cmd.Run()
	took := time.Since(start)
	if err == nil {
		t.Fatal("thumbq work with a wrong queue URL exited 0; want non-zero")
	}
	if !strings.Contains(stderr.String(), wrong) || !strings.Contains(stderr.String(), config.EnvQueueURL) {
		t.Errorf("stderr does not name %s %s:\n%s", config.EnvQueueURL, wrong, stderr.String())
	}
	if took > 10*time.Second {
		t.Errorf("exited after %s; want within 10 s", took.Round(time.Millisecond))
	}
}

func TestAnIdleWorkerStopsWithinASecondOfSIGTERM(t *testing.T) {
	stack, err := emulate.Start(context.Background(), emulate.Options{Prefix: "idle-stop"})
	if err != nil {
		t.Fatal(err)
	}
	defer stack.Close()
	cmd, stdout, stderr := workCommand(stack)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until it is long-polling the empty queue.
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(stdout.String(), "consumer started"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no consumer start in 20 s:\n%s\n%s", stdout.String(), stderr.String())
		}
	}
	time.Sleep(300 * time.Millisecond)
	signalled := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		took := time.Since(signalled)
		if err != nil {
			t.Errorf("exit after SIGTERM: %v; want 0\n%s", err, stderr.String())
		}
		// The figure the issue asks for is 1 s; the bound here leaves room for a loaded CI machine
		// while still failing on the old behaviour (the 20 s long poll waited out).
		if took > 3*time.Second {
			t.Errorf("idle worker took %s to stop after SIGTERM; want under 1 s, not the 20 s poll", took.Round(time.Millisecond))
		}
		t.Logf("idle SIGTERM to exit: %s", took.Round(time.Millisecond))
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("still running 30 s after SIGTERM")
	}
}
