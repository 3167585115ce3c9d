package main

import (
	"bytes"
	"context"
	"io"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// lineWriter collects output and hands over the first line matching re.
type lineWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	re    *regexp.Regexp
	found chan string
	sent  bool
}

func newLineWriter(re string) *lineWriter {
	return &lineWriter{re: regexp.MustCompile(re), found: make(chan string, 1)}
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if m := w.re.FindStringSubmatch(w.buf.String()); m != nil && !w.sent {
		w.sent = true
		w.found <- m[1]
	}
	return len(p), nil
}

func (w *lineWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// startExample runs the command with args on 127.0.0.1:0 until the test
// ends, and returns its address and its log.
func startExample(t *testing.T, args ...string) (string, *lineWriter) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout := newLineWriter(`listening on (\S+)\n`)
	logs := newLineWriter(`(\x00)`) // never matches: a log buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), stdout, logs) }()
	var addr string
	select {
	case addr = <-stdout.found:
	case err := <-done:
		cancel()
		t.Fatalf("run: %v", err)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("no \"listening on\" line within 10s")
	}
	t.Cleanup(func() {
		cancel() // as SIGTERM: drain and exit
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run after the signal: %v\n%s", err, logs)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("no exit within 30s of the signal")
		}
	})
	return addr, logs
}

// TestExample: the example serves the echo service through h2lifecycle with
// a short idle timeout and max connection age; its own client makes every
// kind of call for a second across those rotations, and no RPC fails.
func TestExample(t *testing.T) {
	addr, logs := startExample(t, "-idle-timeout", "50ms", "-max-connection-age", "150ms", "-log-level", "info")
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-client", "-addr", addr, "-duration", "1s", "-workers", "4"}, &out, io.Discard); err != nil {
		t.Fatalf("client: %v: %s", err, out.String())
	}
	t.Logf("client: %s", strings.TrimSpace(out.String()))
	if !strings.Contains(out.String(), " 0 failed") {
		t.Errorf("client: %s, want 0 failed", out.String())
	}
	if n := strings.Count(logs.String(), `"http2 connection drained"`); n < 2 {
		t.Errorf("%d connections drained in a second with max age 150ms; logs:\n%s", n, logs)
	}
}

// TestExampleProxy: with -backend, the example is a gRPC reverse proxy with
// HoldHeaderFlush; calls through it, failing ones included, all get the
// backend's answers.
func TestExampleProxy(t *testing.T) {
	backend, _ := startExample(t, "-idle-timeout", "1s")
	proxy, _ := startExample(t, "-backend", backend, "-idle-timeout", "100ms")
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-client", "-addr", proxy, "-duration", "500ms", "-workers", "4"}, &out, io.Discard); err != nil {
		t.Fatalf("client: %v: %s", err, out.String())
	}
	t.Logf("client through the proxy: %s", strings.TrimSpace(out.String()))
}

// TestFlags: bad flags are errors that name the flag.
func TestFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-tls-cert", "c.pem"},
		{"-grace", "0"},
		{"-workers", "0"},
		{"-hold-header-flush", "-1ms"},
		{"-idle-timeout", "-1s"},
		{"extra"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("parseFlags(%q): no error", args)
		}
	}
	c, err := parseFlags(nil, io.Discard)
	if err != nil || c.policy.IdleTimeout != time.Second || c.policy.MaxConnectionAge != 3*time.Second {
		t.Errorf("defaults: %+v %v, want idle timeout 1s and max age 3s", c.policy, err)
	}
}
