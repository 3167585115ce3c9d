package conformance

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/h2lifecycle/h2lifecycle/internal/h2test"
	"golang.org/x/net/http2"
)

type ctxKey struct{}

// hookSeen is what a TLSNextProto hook observed about its connection.
type hookSeen struct {
	proto          string
	unencrypted    bool   // tls.Conn.NetConn() has UnencryptedNetConn()
	firstFrame     string // the first frame read from the handed-over conn
	negotiated     string // TLS: ALPN result
	baseContextVal any    // BaseContext().Value(ctxKey{}) of the hook's handler
	err            error
}

// replayConn puts bytes already read back in front of a conn.
type replayConn struct {
	net.Conn
	r io.Reader
}

func (c *replayConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// serveInHook serves nc the way h2lifecycle's TLSNextProto hook does: a
// throwaway per connection, the chosen wiring, the base context from net/http.
func serveInHook(nc net.Conn, h http.Handler, ctx context.Context, sawPreface bool) {
	serveConn, err := register(chosen(), &http.Server{}, &http2.Server{})
	if err != nil {
		nc.Close()
		return
	}
	serveConn(nc, &http2.ServeConnOpts{Context: ctx, Handler: h, SawClientPreface: sawPreface})
}

// hook returns a TLSNextProto function for proto that reports what it saw
// and then serves the connection.
func hook(proto string, seenc chan<- hookSeen) func(*http.Server, *tls.Conn, http.Handler) {
	return func(_ *http.Server, tc *tls.Conn, h http.Handler) {
		s := hookSeen{proto: proto}
		var ctx context.Context
		if bc, ok := h.(interface{ BaseContext() context.Context }); ok {
			ctx = bc.BaseContext()
			s.baseContextVal = ctx.Value(ctxKey{})
		}
		if proto == "h2" {
			s.negotiated = tc.ConnectionState().NegotiatedProtocol
			seenc <- s
			serveInHook(tc, h, ctx, false)
			return
		}
		u, ok := tc.NetConn().(interface{ UnencryptedNetConn() net.Conn })
		s.unencrypted = ok
		if !ok {
			s.err = errors.New("NetConn has no UnencryptedNetConn")
			seenc <- s
			return
		}
		nc := u.UnencryptedNetConn()
		// The preface is gone: the next bytes must be the client's SETTINGS.
		nc.SetReadDeadline(time.Now().Add(h2test.DefaultTimeout))
		var buf bytes.Buffer
		fr := http2.NewFramer(nil, io.TeeReader(nc, &buf))
		f, err := fr.ReadFrame()
		nc.SetReadDeadline(time.Time{})
		if err != nil {
			s.err = fmt.Errorf("reading the first frame after the handover: %w (bytes %q)", err, buf.Bytes())
			seenc <- s
			return
		}
		s.firstFrame = h2test.Summarize(f)
		if sf, ok := f.(*http2.SettingsFrame); !ok || sf.IsAck() {
			s.err = fmt.Errorf("first frame after the handover is %s, want the client's SETTINGS", s.firstFrame)
		}
		seenc <- s
		serveInHook(&replayConn{Conn: nc, r: io.MultiReader(&buf, nc)}, h, ctx, true)
	}
}

func ctxEcho(w http.ResponseWriter, r *http.Request) {
	fmt.Fprintf(w, "ctx=%v", r.Context().Value(ctxKey{}))
}

// startUserServer runs a user-style http.Server on real 127.0.0.1 sockets,
// one h2c and one TLS listener, with ConnContext and the given hooks.
func startUserServer(t *testing.T, nextProto map[string]func(*http.Server, *tls.Conn, http.Handler)) (h2cAddr, tlsAddr string) {
	t.Helper()
	hs := &http.Server{
		Handler:      http.HandlerFunc(ctxEcho),
		Protocols:    new(http.Protocols),
		TLSConfig:    h2test.ServerTLSConfig(),
		TLSNextProto: nextProto,
		ConnContext: func(ctx context.Context, _ net.Conn) context.Context {
			return context.WithValue(ctx, ctxKey{}, "from-ConnContext")
		},
		ErrorLog: newDiscardLogger(),
	}
	hs.Protocols.SetHTTP1(true)
	hs.Protocols.SetHTTP2(true)
	hs.Protocols.SetUnencryptedHTTP2(true)
	plain, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	secure, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 2)
	go func() { errc <- hs.Serve(plain) }()
	go func() { errc <- hs.ServeTLS(secure, "", "") }()
	t.Cleanup(func() {
		hs.Close()
		for range 2 {
			if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
				t.Errorf("Serve: %v", err)
			}
		}
	})
	return plain.Addr().String(), secure.Addr().String()
}

// Fact 12 (DESIGN.md, rule 5; package server): with Protocols
// allowing HTTP/1 and unencrypted HTTP/2 and user-installed
// TLSNextProto["h2"] and ["unencrypted_http2"], net/http calls the hooks (on
// Go 1.27 too: its "legacy TLSNextProto path", taken because net/http's own
// HTTP/2 is not configured when an "h2" entry exists). For h2c the *tls.Conn
// wraps a NetConn with UnencryptedNetConn() and the 24-byte preface is
// already consumed: the next frame is the client's SETTINGS
// (SawClientPreface must be true). The hook's handler has BaseContext(),
// carrying the user's ConnContext value, and handlers see it through
// ServeConnOpts.Context.
func TestTLSNextProtoHooksCalled(t *testing.T) {
	seenc := make(chan hookSeen, 2)
	h2cAddr, tlsAddr := startUserServer(t, map[string]func(*http.Server, *tls.Conn, http.Handler){
		"h2":                hook("h2", seenc),
		"unencrypted_http2": hook("unencrypted_http2", seenc),
	})
	for _, tc := range []struct {
		proto string
		dial  func(testing.TB, string) *h2test.Client
		addr  string
	}{
		{"unencrypted_http2", h2test.Dial, h2cAddr},
		{"h2", h2test.DialTLS, tlsAddr},
	} {
		t.Run(tc.proto, func(t *testing.T) {
			c := tc.dial(t, tc.addr)
			c.Handshake()
			var s hookSeen
			select {
			case s = <-seenc:
			case <-time.After(h2test.DefaultTimeout):
				t.Fatalf("%s: TLSNextProto[%q] was not called; h2lifecycle's server package installs its supervisor there", toolchainName, tc.proto)
			}
			if s.proto != tc.proto || s.err != nil {
				t.Fatalf("%s: hook %q saw %+v", toolchainName, tc.proto, s)
			}
			if tc.proto == "unencrypted_http2" && !s.unencrypted {
				t.Fatalf("%s: h2c *tls.Conn has no UnencryptedNetConn(); x/net's own hook would reject it too", toolchainName)
			}
			if tc.proto == "h2" && s.negotiated != "h2" {
				t.Fatalf("%s: TLS hook's conn negotiated %q", toolchainName, s.negotiated)
			}
			if s.baseContextVal != "from-ConnContext" {
				t.Fatalf("%s: hook's BaseContext() value %v, want the user's ConnContext value: per-connection context would be lost", toolchainName, s.baseContextVal)
			}
			c.WriteHeaders(1, true)
			if res := c.ExpectResponse(1); string(res.Body) != "ctx=from-ConnContext" {
				t.Fatalf("%s: handler context: %q, want ctx=from-ConnContext", toolchainName, res.Body)
			}
		})
	}
}

// Fact 12, corollary: installing only TLSNextProto["unencrypted_http2"] is
// not enough. Without an "h2" entry net/http configures its own HTTP/2 (Go
// 1.26: the bundled ConfigureServer overwrites the entry; Go 1.27: the
// internal server takes h2c before the map is consulted), and the hook is
// never called. The server package must install both.
func TestUnencryptedHookAloneIsBypassed(t *testing.T) {
	seenc := make(chan hookSeen, 2)
	h2cAddr, _ := startUserServer(t, map[string]func(*http.Server, *tls.Conn, http.Handler){
		"unencrypted_http2": hook("unencrypted_http2", seenc),
	})
	c := h2test.Dial(t, h2cAddr)
	c.Handshake()
	c.WriteHeaders(1, true)
	c.ExpectResponse(1)
	select {
	case s := <-seenc:
		t.Fatalf("%s: the unencrypted_http2 hook was called without an h2 entry (%+v): net/http changed how hooks are chosen", toolchainName, s)
	default: // the response proves the connection was served, by someone else
	}
}

// Fact 12 (DESIGN.md; package server): http.Server.Shutdown waits for TLSNextProto
// hooks to return: net/http counts the handed-over conn as active. So the
// user's Shutdown drains supervised connections only if the supervisor's
// hook returns when its connection is done.
func TestShutdownWaitsForTLSNextProtoHook(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		entered := make(chan struct{})
		release := make(chan struct{})
		block := func(_ *http.Server, _ *tls.Conn, _ http.Handler) {
			close(entered)
			<-release
		}
		l := h2test.NewListener()
		hs := &http.Server{
			Protocols: new(http.Protocols),
			TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){
				"h2":                block,
				"unencrypted_http2": block,
			},
		}
		hs.Protocols.SetHTTP1(true)
		hs.Protocols.SetUnencryptedHTTP2(true)
		served := make(chan error, 1)
		go func() { served <- hs.Serve(l) }()
		nc, err := l.Dial()
		if err != nil {
			t.Fatal(err)
		}
		c := h2test.NewClient(t, nc)
		c.WritePreface()
		select {
		case <-entered:
		case <-time.After(h2test.DefaultTimeout):
			t.Fatalf("%s: TLSNextProto[unencrypted_http2] not called", toolchainName)
		}

		start := time.Now()
		shut := make(chan error, 1)
		go func() { shut <- hs.Shutdown(context.Background()) }()
		h2test.Advance(time.Hour) // fake time: Shutdown keeps polling
		synctest.Wait()
		select {
		case err := <-shut:
			t.Fatalf("%s: Shutdown returned %v after %v while a TLSNextProto hook was running; the user's Shutdown would not wait for supervised drains", toolchainName, err, time.Since(start))
		default:
		}
		close(release)
		if err := <-shut; err != nil {
			t.Fatalf("Shutdown after the hook returned: %v", err)
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Fatalf("Serve: %v", err)
		}
	})
}

// Fact 12, and what the tap's interrupt relies on (lifecycle/splice.go):
// net/http hands an HTTP/2 connection to TLSNextProto with no read
// deadline, though ReadTimeout and ReadHeaderTimeout set one before the
// handoff (for the TLS handshake, for reading the h2c preface). The tap
// wakes a blocked reader with a deadline of its own and then clears it: a
// deadline of net/http's still set at the handoff would be lost. The hook
// here reads one byte that the client sends well past both timeouts.
func TestHandoffWithoutReadDeadline(t *testing.T) {
	const timeout = 50 * time.Millisecond
	type readResult struct {
		n   int
		err error
	}
	got := make(chan readResult, 1)
	readOne := func(nc net.Conn) {
		b := make([]byte, 1)
		n, err := nc.Read(b)
		got <- readResult{n, err}
	}
	hs := &http.Server{
		Protocols:         new(http.Protocols),
		TLSConfig:         h2test.ServerTLSConfig(),
		ReadTimeout:       timeout,
		ReadHeaderTimeout: timeout,
		ErrorLog:          newDiscardLogger(),
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){
			"h2": func(_ *http.Server, tc *tls.Conn, _ http.Handler) { readOne(tc) },
			"unencrypted_http2": func(_ *http.Server, tc *tls.Conn, _ http.Handler) {
				readOne(tc.NetConn().(interface{ UnencryptedNetConn() net.Conn }).UnencryptedNetConn())
			},
		},
	}
	hs.Protocols.SetHTTP1(true)
	hs.Protocols.SetHTTP2(true)
	hs.Protocols.SetUnencryptedHTTP2(true)
	plain, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	secure, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go hs.Serve(plain)
	go hs.ServeTLS(secure, "", "")
	t.Cleanup(func() { hs.Close() })
	for _, tc := range []struct {
		proto string
		dial  func() *h2test.Client
	}{
		{"unencrypted_http2", func() *h2test.Client {
			c := h2test.Dial(t, plain.Addr().String())
			c.WritePreface() // net/http reads it to recognize h2c
			return c
		}},
		{"h2", func() *h2test.Client { return h2test.DialTLS(t, secure.Addr().String()) }},
	} {
		t.Run(tc.proto, func(t *testing.T) {
			c := tc.dial()
			<-time.After(4 * timeout) // past ReadTimeout and ReadHeaderTimeout
			if _, err := c.Conn.Write([]byte{0}); err != nil {
				t.Fatal(err)
			}
			select {
			case r := <-got:
				if r.n != 1 || r.err != nil {
					t.Fatalf("%s: the %s hook's first read past ReadTimeout: %d bytes, %v; net/http left a read deadline on the handed-over connection, which the tap's interrupt would clear", toolchainName, tc.proto, r.n, r.err)
				}
			case <-time.After(h2test.DefaultTimeout):
				t.Fatalf("%s: the %s hook read nothing", toolchainName, tc.proto)
			}
		})
	}
}
