package server_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/net/http2"

	"github.com/h2lifecycle/h2lifecycle/drain"
	"github.com/h2lifecycle/h2lifecycle/idle"
	"github.com/h2lifecycle/h2lifecycle/internal/h2test"
	"github.com/h2lifecycle/h2lifecycle/server"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func h2cProtocols() *http.Protocols {
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	return &p
}

// serve wraps hs and serves it on 127.0.0.1 (TLS when hs.TLSConfig is set).
func serve(t *testing.T, hs *http.Server, cfg server.Config, opts ...server.Option) (*server.Server, string) {
	t.Helper()
	srv, err := server.Wrap(hs, cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	addr := listen(t, hs, hs.TLSConfig != nil)
	t.Cleanup(func() { srv.Close() }) // before listen's: cleanups run last first
	return srv, addr
}

// listen serves hs as it is (wrapped or not) on 127.0.0.1, over TLS with
// hs.TLSConfig if tlsOn, until the test ends, and returns its address.
func listen(t *testing.T, hs *http.Server, tlsOn bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if tlsOn {
		ln = tls.NewListener(ln, hs.TLSConfig)
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	t.Cleanup(func() {
		hs.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

func TestWrapRejectsBadConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		hs   *http.Server
		cfg  server.Config
		want string
	}{
		{"nil server", nil, server.Config{}, "server: Wrap needs a non-nil *http.Server"},
		{"negative idle timeout", &http.Server{}, server.Config{Policy: idle.Policy{IdleTimeout: -time.Second}}, "idle: idle_timeout must be >= 0, got -1s"},
		{"negative grace", &http.Server{}, server.Config{Drain: drain.Config{Grace: -5 * time.Second}}, "drain: grace must be >= 0, got -5s"},
		{"negative ping timeout", &http.Server{}, server.Config{Drain: drain.Config{PingTimeout: -1}}, "drain: ping_timeout must be >= 0, got -1ns"},
		{"negative linger", &http.Server{}, server.Config{Drain: drain.Config{Linger: -time.Millisecond}}, "drain: linger must be >= 0, got -1ms"},
		{"negative first stream wait", &http.Server{}, server.Config{Drain: drain.Config{FirstStreamWait: -time.Millisecond}}, "drain: first_stream_wait must be >= 0, got -1ms"},
		{"negative header flush hold", &http.Server{}, server.Config{HoldHeaderFlush: -time.Millisecond}, "server: hold_header_flush must be >= 0, got -1ms"},
		{"HTTP/2 configured already", configured(t), server.Config{}, `TLSNextProto["h2"] is already set`},
		{"HTTP/2 disabled", &http.Server{Protocols: http1Only()}, server.Config{}, "enables neither HTTP2 nor UnencryptedHTTP2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := server.Wrap(tc.hs, tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Wrap = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func configured(t *testing.T) *http.Server {
	hs := &http.Server{}
	if err := http2.ConfigureServer(hs, &http2.Server{}); err != nil {
		t.Fatal(err)
	}
	return hs
}

func http1Only() *http.Protocols {
	var p http.Protocols
	p.SetHTTP1(true)
	return &p
}

func TestWrapTwiceFails(t *testing.T) {
	hs := &http.Server{}
	if _, err := server.Wrap(hs, server.Config{}); err != nil {
		t.Fatal(err)
	}
	if _, err := server.Wrap(hs, server.Config{}); !errors.Is(err, server.ErrHTTP2Configured) {
		t.Fatalf("second Wrap = %v", err)
	}
}

// TestZeroConfigServes: the zero Config works over h2c, TLS, and HTTP/1.1
// on the same server, and handlers see r.TLS on TLS.
func TestZeroConfigServes(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tlsProto := "none"
		if r.TLS != nil {
			tlsProto = r.TLS.NegotiatedProtocol
		}
		io.WriteString(w, r.Proto+" tls="+tlsProto)
	})
	_, h2cAddr := serve(t, &http.Server{Handler: h, Protocols: h2cProtocols()}, server.Config{})
	_, tlsAddr := serve(t, &http.Server{Handler: h, TLSConfig: h2test.ServerTLSConfig()}, server.Config{})

	h2c := &http2.Transport{AllowHTTP: true, DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
	defer h2c.CloseIdleConnections()
	h1 := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	defer h1.CloseIdleConnections()
	h2 := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}
	defer h2.CloseIdleConnections()
	h1.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{} // HTTP/1.1 only
	for _, tc := range []struct {
		rt   http.RoundTripper
		url  string
		want string
	}{
		{h2c, "http://" + h2cAddr, "HTTP/2.0 tls=none"},
		{h1, "http://" + h2cAddr, "HTTP/1.1 tls=none"},
		{h2, "https://" + tlsAddr, "HTTP/2.0 tls=h2"},
		{h1, "https://" + tlsAddr, "HTTP/1.1 tls="},
	} {
		resp, err := (&http.Client{Transport: tc.rt}).Get(tc.url)
		if err != nil {
			t.Fatalf("%s: %v", tc.url, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != tc.want {
			t.Errorf("%s: %q, want %q", tc.url, body, tc.want)
		}
	}
}

type ctxKey string

// TestUserSettingsHonoured: ConnContext, BaseContext, ConnState (with the
// connection net/http reported), ErrorLog, MaxHeaderBytes and per-stream
// timeouts keep working on supervised HTTP/2 connections.
func TestUserSettingsHonoured(t *testing.T) {
	var mu sync.Mutex
	states := map[net.Conn][]http.ConnState{}
	closed := make(chan struct{}, 1)
	var logBuf bytes.Buffer
	var logMu sync.Mutex
	var hs *http.Server
	hsOf := func(*http.Request) *http.Server { return hs }
	hs = &http.Server{
		Protocols: h2cProtocols(),
		BaseContext: func(net.Listener) context.Context {
			return context.WithValue(context.Background(), ctxKey("base"), "b")
		},
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, ctxKey("conn"), c.RemoteAddr().String())
		},
		ConnState: func(c net.Conn, st http.ConnState) {
			mu.Lock()
			states[c] = append(states[c], st)
			mu.Unlock()
			if st == http.StateClosed {
				closed <- struct{}{}
			}
		},
		ErrorLog:       log.New(lockedWriter{&logMu, &logBuf}, "", 0),
		MaxHeaderBytes: 1 << 10,
		ReadTimeout:    time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/server" {
				srv, _ := r.Context().Value(http.ServerContextKey).(*http.Server)
				fmt.Fprint(w, srv == hsOf(r), srv != nil)
				return
			}
			if r.URL.Path == "/slow-body" {
				_, err := io.ReadAll(r.Body)
				io.WriteString(w, "read: "+errString(err))
				return
			}
			io.WriteString(w, r.Context().Value(ctxKey("base")).(string)+" "+r.Context().Value(ctxKey("conn")).(string))
		}),
	}
	_, addr := serve(t, hs, server.Config{})
	c := h2test.Dial(t, addr)
	c.Handshake()

	c.WriteHeaders(1, true)
	if res := c.ExpectResponse(1); string(res.Body) != "b "+c.Conn.LocalAddr().String() {
		t.Errorf("context values: %q", res.Body)
	}
	// http.ServerContextKey: the user's server where net/http's own HTTP/2
	// server serves the connection, x/net's throwaway otherwise.
	c.WriteHeaders(3, true, ":path", "/server")
	if res, want := c.ExpectResponse(3), fmt.Sprint(handlersSeeUserServer, true); string(res.Body) != want {
		t.Errorf("ServerContextKey is the user's server, is set: %q, want %q", res.Body, want)
	}
	var many []string
	for _, n := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		many = append(many, "x-"+n, strings.Repeat("h", 200))
	}
	c.WriteHeaders(5, true, many...)
	if res := c.ExpectResponse(5); res.Status != "431" {
		t.Errorf("header list over MaxHeaderBytes: status %s, want 431", res.Status)
	}
	// ReadTimeout bounds the time a handler waits for the request body.
	c.WriteHeaders(7, false, ":method", "POST", ":path", "/slow-body")
	if res := c.ExpectResponse(7); !strings.Contains(string(res.Body), "timeout") {
		t.Errorf("a body that never comes: %q, want a deadline error", res.Body)
	}
	// A connection error: x/net logs it through ErrorLog.
	c.WriteWindowUpdate(99, 1)
	if err := c.WaitClosed(); err != nil {
		t.Fatal(err)
	}
	c.Conn.Close()

	// net/http reports StateClosed once the HTTP/2 handoff returns.
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("no StateClosed")
	}
	mu.Lock()
	if len(states) != 1 {
		t.Errorf("ConnState saw %d connections, want 1: the same conn object throughout: %v", len(states), states)
	}
	for _, seq := range states {
		if seq[0] != http.StateNew || !containsState(seq, http.StateActive) || !containsState(seq, http.StateIdle) || seq[len(seq)-1] != http.StateClosed {
			t.Errorf("ConnState sequence %v", seq)
		}
	}
	mu.Unlock()
	logMu.Lock()
	defer logMu.Unlock()
	if !strings.Contains(logBuf.String(), "PROTOCOL_ERROR") {
		t.Errorf("ErrorLog got %q, want x/net's connection error", logBuf.String())
	}
}

func containsState(seq []http.ConnState, st http.ConnState) bool {
	for _, s := range seq {
		if s == st {
			return true
		}
	}
	return false
}

func errString(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestTLSChecksStillRun: the tap forwards ConnectionState, so x/net still
// refuses TLS below 1.2 with INADEQUATE_SECURITY (RFC 9113 §9.2).
func TestTLSChecksStillRun(t *testing.T) {
	cfg := h2test.ServerTLSConfig()
	cfg.MinVersion = tls.VersionTLS10
	_, addr := serve(t, &http.Server{TLSConfig: cfg, Handler: http.NotFoundHandler()}, server.Config{})
	tc, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"},
		MinVersion: tls.VersionTLS11, MaxVersion: tls.VersionTLS11})
	if err != nil {
		t.Skipf("this Go's crypto/tls will not negotiate TLS 1.1 here: %v", err)
	}
	c := h2test.NewClient(t, tc)
	f, err := c.ReadFrame()
	ga, ok := f.(*http2.GoAwayFrame)
	if err != nil || !ok || ga.ErrCode != http2.ErrCodeInadequateSecurity {
		t.Fatalf("TLS 1.1: first frame %v (%v), want GOAWAY(INADEQUATE_SECURITY)", f, err)
	}
}

func TestSnapshot(t *testing.T) {
	release := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release })
	srv, addr := serve(t, &http.Server{Handler: h, Protocols: h2cProtocols()}, server.Config{})
	c := h2test.Dial(t, addr)
	c.Handshake()
	c.WriteHeaders(1, true)
	c.WriteHeaders(3, true)
	c.Sync()
	snaps := srv.Snapshot()
	close(release)
	if len(snaps) != 1 {
		t.Fatalf("%d snapshots", len(snaps))
	}
	s := snaps[0]
	if s.ID != 1 || s.State != "active" || s.OpenStreams != 2 || s.StreamsOpened != 2 || s.LastStreamID != 3 ||
		s.Remote != c.Conn.LocalAddr().String() || s.Age <= 0 {
		t.Errorf("snapshot %+v", s)
	}
}

func TestDebugHandler(t *testing.T) {
	release := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release })
	srv, addr := serve(t, &http.Server{Handler: h, Protocols: h2cProtocols()}, server.Config{})
	defer close(release)
	c := h2test.Dial(t, addr)
	c.Handshake()
	c.WriteHeaders(1, true)
	c.WriteHeaders(3, true)
	c.Sync()
	rec := httptest.NewRecorder()
	srv.DebugHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/debug/h2", nil))
	var doc struct {
		Ready       bool
		Draining    bool
		Count       int `json:"connections_count"`
		Connections []map[string]any
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatalf("%v: %s", err, rec.Body)
	}
	if rec.Header().Get("Content-Type") != "application/json" || !doc.Ready || doc.Draining || doc.Count != 1 || len(doc.Connections) != 1 {
		t.Fatalf("%s", rec.Body)
	}
	cn := doc.Connections[0]
	if cn["state"] != "active" || cn["open_streams"] != float64(2) || cn["last_stream_id"] != float64(3) ||
		cn["remote"] != c.Conn.LocalAddr().String() || cn["age"] == "" {
		t.Errorf("connection %v", cn)
	}
	if _, err := time.ParseDuration(cn["age"].(string)); err != nil {
		t.Errorf("age %q: %v", cn["age"], err)
	}
}

// TestAdvertisedStreamLimit: clients are told the configured
// MAX_CONCURRENT_STREAMS. The server behind enforces one more, so that a
// client opening a stream the instant it reads another's END_STREAM is not
// refused while the server has not yet counted that stream closed (hazard 1
// in DESIGN.md, golang/go#42777; the root package's TestStreamLimitRace
// reproduces it), and the tap refuses a stream opened over the advertised limit: the server
// resets it with PROTOCOL_ERROR (RFC 9113 §5.1.2), no handler runs, and the
// HPACK state stays in step: a later request that refers to a table entry
// the refused stream's header block made is decoded right.
func TestAdvertisedStreamLimit(t *testing.T) {
	for _, tc := range []struct {
		name string
		h2   *http.HTTP2Config
		want uint32
	}{{"default", nil, 250}, {"configured", &http.HTTP2Config{MaxConcurrentStreams: 3}, 3}} {
		t.Run(tc.name, func(t *testing.T) {
			release := make(chan struct{})
			var started atomic.Int32
			starts := make(chan struct{}, 2*tc.want+2)
			seen := make(chan string, 1)
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/after" {
					seen <- r.Header.Get("X-Refused-Block")
					return
				}
				started.Add(1)
				starts <- struct{}{}
				<-release
			})
			_, addr := serve(t, &http.Server{Handler: h, Protocols: h2cProtocols(), HTTP2: tc.h2}, server.Config{})
			defer close(release)
			c := h2test.Dial(t, addr)
			c.Handshake()
			if got := c.ServerSettings[http2.SettingMaxConcurrentStreams]; got != tc.want {
				t.Fatalf("advertised MAX_CONCURRENT_STREAMS %d, want %d", got, tc.want)
			}
			for id := uint32(1); id < 2*tc.want; id += 2 {
				c.WriteHeaders(id, true)
			}
			over := 2*tc.want + 1
			c.WriteHeaders(over, true, "x-refused-block", "indexed")
			if code := c.ExpectRSTStream(over); code != http2.ErrCodeProtocol {
				t.Errorf("stream %d over the advertised limit: RST_STREAM %v, want PROTOCOL_ERROR", over, code)
			}
			// The streams within the limit all run (x/net starts each
			// handler on its own goroutine: wait for them, within a bound).
			timeout := time.After(10 * time.Second)
			for range tc.want {
				select {
				case <-starts:
				case <-timeout:
					t.Fatalf("%d handlers started within 10s, want %d", started.Load(), tc.want)
				}
			}
			c.Sync()
			if n := started.Load(); n != int32(tc.want) {
				t.Errorf("%d handlers started, want %d", n, tc.want)
			}
			c.WriteRSTStream(1, http2.ErrCodeCancel) // one slot free
			c.WriteHeaders(over+2, true, ":path", "/after", "x-refused-block", "indexed")
			if res := c.ExpectResponse(over + 2); res.Status != "200" {
				t.Errorf("stream %d after the refusal: status %s", over+2, res.Status)
			}
			if v := <-seen; v != "indexed" {
				t.Errorf("stream %d: X-Refused-Block %q, want %q", over+2, v, "indexed")
			}
		})
	}
}
