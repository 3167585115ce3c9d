package server_test

// One test per setup in which h2lifecycle used to supervise nothing
// without a word (issue 13): each is now an error that names the fix, or,
// for http2.ConfigureServer after Wrap, an error logged once and a count.

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"

	"github.com/h2lifecycle/h2lifecycle/internal/h2test"
	"github.com/h2lifecycle/h2lifecycle/lifecycle"
	"github.com/h2lifecycle/h2lifecycle/server"
)

func okHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
}

// wantErr fails unless err is target and its text holds every hint.
func wantErr(t *testing.T, err, target error, hints ...string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("err = %v, want %v", err, target)
	}
	for _, h := range hints {
		if !strings.Contains(err.Error(), h) {
			t.Errorf("error %q does not say %q", err, h)
		}
	}
}

// TestWrapRejectsH2CHandler: h2c.NewHandler serves h2c itself (prior
// knowledge and Upgrade), around h2lifecycle: Wrap says how to migrate.
func TestWrapRejectsH2CHandler(t *testing.T) {
	for _, hs := range []*http.Server{
		{Handler: h2c.NewHandler(okHandler(), &http2.Server{})},
		{Handler: h2c.NewHandler(okHandler(), &http2.Server{}), Protocols: h2cProtocols()},
	} {
		_, err := server.Wrap(hs, server.Config{})
		wantErr(t, err, server.ErrH2CHandler, "Remove h2c.NewHandler", "SetUnencryptedHTTP2(true)")
		if _, ok := hs.TLSNextProto["h2"]; ok {
			t.Error("a failed Wrap installed its HTTP/2 server")
		}
	}
}

// TestWrapRespectsTLSNextProtoOff: a non-nil TLSNextProto without "h2" is
// net/http's documented way to turn HTTP/2 off; Wrap must not turn it back
// on. Explicit Protocols win over it, as in net/http.
func TestWrapRespectsTLSNextProtoOff(t *testing.T) {
	hs := &http.Server{TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){}}
	_, err := server.Wrap(hs, server.Config{})
	wantErr(t, err, server.ErrHTTP2Disabled, "TLSNextProto is a non-nil map without \"h2\"", "leave TLSNextProto nil")
	if len(hs.TLSNextProto) != 0 {
		t.Errorf("a failed Wrap changed TLSNextProto: %d entries", len(hs.TLSNextProto))
	}

	hs = &http.Server{TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){}, Protocols: h2cProtocols()}
	if _, err := server.Wrap(hs, server.Config{}); err != nil {
		t.Fatalf("Wrap with explicit Protocols: %v", err)
	}
}

// TestWrapExplainsConfigured: each way HTTP/2 can already be on the server
// gets its own explanation and fix.
func TestWrapExplainsConfigured(t *testing.T) {
	t.Run("ConfigureServer before Wrap", func(t *testing.T) {
		_, err := server.Wrap(configured(t), server.Config{})
		// Go 1.26: x/net's own entry; Go 1.27: net/http's, which x/net
		// configures: both name ConfigureServer and the migration.
		wantErr(t, err, server.ErrHTTP2Configured, "http2.ConfigureServer", "http.Server.HTTP2")
	})
	t.Run("second Wrap", func(t *testing.T) {
		hs := &http.Server{}
		if _, err := server.Wrap(hs, server.Config{}); err != nil {
			t.Fatal(err)
		}
		_, err := server.Wrap(hs, server.Config{})
		wantErr(t, err, server.ErrHTTP2Configured, "server.Wrap was already called")
	})
}

// TestWrapAfterServe: Wrap on a server that already serves says so, and
// reads its HTTP/2 setup without a data race (run with -race).
func TestWrapAfterServe(t *testing.T) {
	for _, tlsOn := range []bool{false, true} {
		hs := &http.Server{Handler: okHandler(), ErrorLog: quietLog()}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		served := make(chan error, 1)
		url := "http://" + ln.Addr().String()
		client := &http.Client{Timeout: 10 * time.Second}
		if tlsOn {
			hs.TLSConfig = h2test.ServerTLSConfig()
			url = "https://" + ln.Addr().String()
			client.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
			go func() { served <- hs.ServeTLS(ln, "", "") }()
		} else {
			go func() { served <- hs.Serve(ln) }()
		}
		// A response: Serve has set up and is accepting.
		resp, err := client.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		client.CloseIdleConnections()

		_, err = server.Wrap(hs, server.Config{})
		wantErr(t, err, server.ErrHTTP2Configured, "already started serving", "Call server.Wrap before the server serves")
		hs.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Fatalf("Serve: %v", err)
		}
	}
}

func quietLog() *log.Logger { return log.New(io.Discard, "", 0) }

// unsupervisedMetrics is a lifecycle.Metrics with the optional
// ConnUnsupervised.
type unsupervisedMetrics struct {
	mu                   sync.Mutex
	opened, unsupervised int
}

func (m *unsupervisedMetrics) ConnOpened()                  { m.mu.Lock(); m.opened++; m.mu.Unlock() }
func (m *unsupervisedMetrics) ConnClosed(*lifecycle.Report) {}
func (m *unsupervisedMetrics) ConnUnsupervised()            { m.mu.Lock(); m.unsupervised++; m.mu.Unlock() }

// TestConfigureServerAfterWrap: http2.ConfigureServer after Wrap takes the
// HTTP/2 connections away from h2lifecycle (on Go 1.26 by replacing
// TLSNextProto["h2"] and ["unencrypted_http2"], on 1.27 by configuring
// net/http's own server). The first connection logs an error, once; the
// HTTP/2 connections, TLS and h2c, are counted in UnsupervisedHTTP2, in the
// debug handler and by the metrics hook, and HTTP/1.1 ones are not.
func TestConfigureServerAfterWrap(t *testing.T) {
	for _, tr := range []string{"tls", "h2c"} {
		t.Run(tr, func(t *testing.T) { testConfigureServerAfterWrap(t, tr == "tls") })
	}
}

func testConfigureServerAfterWrap(t *testing.T, tlsOn bool) {
	core, logs := observer.New(zapcore.ErrorLevel)
	closed := make(chan struct{}, 4)
	var snaps []int
	var srv *server.Server
	hs := &http.Server{
		ErrorLog: quietLog(),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			snaps = append(snaps, len(srv.Snapshot())) // one request at a time
			io.WriteString(w, r.Proto)
		}),
		ConnState: func(_ net.Conn, st http.ConnState) {
			if st == http.StateClosed {
				closed <- struct{}{}
			}
		},
	}
	scheme := "http"
	if tlsOn {
		hs.TLSConfig, scheme = h2test.ServerTLSConfig(), "https"
	} else {
		hs.Protocols = h2cProtocols()
	}
	fm := &unsupervisedMetrics{}
	var err error
	srv, err = server.Wrap(hs, server.Config{}, server.WithLogger(zap.New(core)), server.WithMetrics(fm))
	if err != nil {
		t.Fatal(err)
	}
	if err := http2.ConfigureServer(hs, &http2.Server{}); err != nil {
		t.Fatal(err)
	}
	addr := listen(t, hs, tlsOn)

	// Two HTTP/2 connections, then one HTTP/1.1 connection, each with one
	// request, each closed before the next.
	const conns = 2
	for i := range conns + 1 {
		var p http.Protocols
		want := "HTTP/2.0"
		switch {
		case i == conns:
			p.SetHTTP1(true)
			want = "HTTP/1.1"
		case tlsOn:
			p.SetHTTP2(true)
		default:
			p.SetUnencryptedHTTP2(true)
		}
		tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, Protocols: &p}
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get(scheme + "://" + addr)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != want {
			t.Fatalf("served over %q, want %s", body, want)
		}
		tr.CloseIdleConnections()
		select {
		case <-closed:
		case <-time.After(10 * time.Second):
			t.Fatal("the connection did not close within 10s of the client closing it")
		}
	}
	if got := srv.UnsupervisedHTTP2(); got != conns {
		t.Errorf("UnsupervisedHTTP2 = %d, want %d", got, conns)
	}
	for i, n := range snaps {
		if n != 0 {
			t.Errorf("request %d: %d connections supervised, want 0 (they bypass it)", i, n)
		}
	}
	fm.mu.Lock()
	if fm.unsupervised != conns || fm.opened != 0 {
		t.Errorf("metrics: %d unsupervised, %d opened; want %d, 0", fm.unsupervised, fm.opened, conns)
	}
	fm.mu.Unlock()
	if n := logs.FilterMessageSnippet("http2.ConfigureServer called after Wrap").Len(); n != 1 {
		t.Errorf("%d error lines about ConfigureServer after Wrap, want 1 (once): %v", n, logs.All())
	}
	rec := httptest.NewRecorder()
	srv.DebugHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/debug/h2", nil))
	if !strings.Contains(rec.Body.String(), `"unsupervised_http2_connections": 2`) {
		t.Errorf("debug handler does not show the count:\n%s", rec.Body)
	}
}

// TestSupervisedH2CNotCountedWhileTLSBypassed: when only the "h2" entry is
// replaced after Wrap, TLS connections bypass supervision but h2c ones are
// still supervised: their states reach hs.ConnState through the handle,
// and they are not counted as unsupervised.
func TestSupervisedH2CNotCountedWhileTLSBypassed(t *testing.T) {
	var snaps []int
	var srv *server.Server
	closed := make(chan struct{}, 4)
	hs := &http.Server{
		Protocols: h2cProtocols(),
		ErrorLog:  quietLog(),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			snaps = append(snaps, len(srv.Snapshot()))
			io.WriteString(w, r.Proto)
		}),
		ConnState: func(_ net.Conn, st http.ConnState) {
			if st == http.StateClosed {
				closed <- struct{}{}
			}
		},
	}
	var err error
	srv, err = server.Wrap(hs, server.Config{})
	if err != nil {
		t.Fatal(err)
	}
	hs.TLSNextProto["h2"] = func(*http.Server, *tls.Conn, http.Handler) {} // someone else's
	addr := listen(t, hs, false)
	for range 2 {
		var p http.Protocols
		p.SetUnencryptedHTTP2(true)
		tr := &http.Transport{Protocols: &p}
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("http://" + addr)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		tr.CloseIdleConnections()
		if string(body) != "HTTP/2.0" {
			t.Fatalf("served over %q", body)
		}
		select {
		case <-closed:
		case <-time.After(10 * time.Second):
			t.Fatal("the connection did not close within 10s of the client closing it")
		}
	}
	if got := srv.UnsupervisedHTTP2(); got != 0 {
		t.Errorf("UnsupervisedHTTP2 = %d, want 0: the h2c connections were supervised", got)
	}
	for i, n := range snaps {
		if n != 1 {
			t.Errorf("request %d: %d connections supervised, want 1", i, n)
		}
	}
}

// TestH2CUpgradeNotSupported pins the decision on h2c Upgrade (RFC 7540
// §3.2, removed by RFC 9113): an HTTP/1.1 request with "Upgrade: h2c" is
// served over HTTP/1.1, never switched to an HTTP/2 connection that would
// escape supervision; h2c is prior knowledge only (Protocols). Both
// toolchains.
func TestH2CUpgradeNotSupported(t *testing.T) {
	var protos []string
	var mu sync.Mutex
	hs := &http.Server{Protocols: h2cProtocols(), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		protos = append(protos, r.Proto)
		mu.Unlock()
		io.WriteString(w, "ok")
	})}
	srv, addr := serve(t, hs, server.Config{})
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(nc)
	for i := range 2 { // the connection stays HTTP/1.1
		io.WriteString(nc, "GET / HTTP/1.1\r\nHost: "+addr+"\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 1 || string(body) != "ok" {
			t.Fatalf("request %d: %s %s %q, want HTTP/1.1 200 ok (no 101 Switching Protocols)", i, resp.Proto, resp.Status, body)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(protos) != 2 || protos[0] != "HTTP/1.1" || protos[1] != "HTTP/1.1" {
		t.Errorf("handler saw %q, want two HTTP/1.1 requests", protos)
	}
	if n := srv.UnsupervisedHTTP2(); n != 0 {
		t.Errorf("UnsupervisedHTTP2 = %d", n)
	}
}

// TestZeroServer: every method of a Server that Wrap did not make returns
// an error or an answer saying so, never a panic; nil too.
func TestZeroServer(t *testing.T) {
	for name, s := range map[string]*server.Server{"zero": {}, "nil": nil} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			for what, err := range map[string]error{
				"Drain":    s.Drain(ctx),
				"Shutdown": s.Shutdown(ctx),
				"Close":    s.Close(),
			} {
				if !errors.Is(err, server.ErrNotWrapped) {
					t.Errorf("%s = %v, want ErrNotWrapped", what, err)
				}
			}
			if _, err := s.RunShutdown(ctx, server.ShutdownPlan{}); !errors.Is(err, server.ErrNotWrapped) {
				t.Errorf("RunShutdown = %v", err)
			}
			if _, err := s.ShutdownOnSignal(ctx, server.ShutdownPlan{}); !errors.Is(err, server.ErrNotWrapped) {
				t.Errorf("ShutdownOnSignal = %v", err)
			}
			if snaps := s.Snapshot(); snaps != nil {
				t.Errorf("Snapshot = %v", snaps)
			}
			if n := s.UnsupervisedHTTP2(); n != 0 {
				t.Errorf("UnsupervisedHTTP2 = %d", n)
			}
			for what, h := range map[string]http.Handler{"ReadinessHandler": s.ReadinessHandler(), "DebugHandler": s.DebugHandler()} {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
				if rec.Code < 500 || !strings.Contains(rec.Body.String(), "not made by server.Wrap") {
					t.Errorf("%s: %d %q, want a 5xx naming the mistake", what, rec.Code, rec.Body)
				}
			}
		})
	}
}

// TestWrapRespectsGODEBUGHTTP2ServerOff: GODEBUG=http2server=0 turns the
// stock server's HTTP/2 off, with or without Protocols (checked here against
// a stock server, so that the test fails if net/http stops reading it at
// run time: it then serves an h2-offering TLS client over HTTP/1.1, or,
// with Protocols offering h2 in ALPN, not at all); Wrap must not turn it
// back on. The last http2server entry wins and no space is trimmed, as in
// the runtime.
func TestWrapRespectsGODEBUGHTTP2ServerOff(t *testing.T) {
	for _, tc := range []struct {
		godebug string
		off     bool
	}{
		{"http2server=0", true},
		{"http2server=1,http2server=0", true},
		{"panicnil=1,http2server=0", true},
		{"panicnil=1, http2server=0", false}, // the key is " http2server"
		{"http2server=0,http2server=1", false},
		{"http2server=1", false},
		{"xhttp2server=0", false},
	} {
		t.Run(tc.godebug, func(t *testing.T) {
			t.Setenv("GODEBUG", tc.godebug)
			for _, protos := range []*http.Protocols{nil, h2cProtocols()} {
				if protos != nil {
					protos.SetHTTP2(true)
				}
				if got := stockServesHTTP2(t, protos); got == tc.off {
					t.Fatalf("stock server, Protocols %v: HTTP/2 served %v", protos, got)
				}
				hs := &http.Server{Protocols: protos}
				_, err := server.Wrap(hs, server.Config{})
				if !tc.off {
					if err != nil {
						t.Fatalf("Protocols %v: Wrap: %v", protos, err)
					}
					continue
				}
				wantErr(t, err, server.ErrHTTP2Disabled, "GODEBUG=http2server=0", "remove that setting")
				if hs.TLSNextProto != nil {
					t.Errorf("a failed Wrap set TLSNextProto: %d entries", len(hs.TLSNextProto))
				}
			}
		})
	}
}

// stockServesHTTP2 reports whether a stock TLS server with protos answers
// an h2-offering client over HTTP/2.
func stockServesHTTP2(t *testing.T, protos *http.Protocols) bool {
	t.Helper()
	hs := &http.Server{Handler: okHandler(), Protocols: protos, TLSConfig: h2test.ServerTLSConfig(), ErrorLog: quietLog()}
	addr := listen(t, hs, true)
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("https://" + addr)
	if err != nil {
		return false // h2 in ALPN, no HTTP/2 server behind it
	}
	resp.Body.Close()
	return resp.ProtoMajor == 2
}

// TestWrapRespectsGoDebugDirective: a //go:debug http2server=0 line in the
// main package turns HTTP/2 off as the environment does; it reaches the
// binary's build info, where Wrap reads it.
func TestWrapRespectsGoDebugDirective(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program")
	}
	t.Setenv("GODEBUG", "")
	out, err := exec.Command("go", "run", "./testdata/godebugoff").CombinedOutput()
	if err != nil {
		t.Fatalf("go run: %v\n%s", err, out)
	}
	if got := string(out); !strings.Contains(got, server.ErrHTTP2Disabled.Error()) || !strings.Contains(got, "GODEBUG=http2server=0") {
		t.Fatalf("Wrap in a binary with //go:debug http2server=0 said %q, want ErrHTTP2Disabled naming GODEBUG", got)
	}
}
