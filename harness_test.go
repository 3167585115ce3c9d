package h2lifecycle_test

// The one way the end-to-end tests start a server: startSubject serves an
// http.Server with the stock HTTP/2 server or wrapped by h2lifecycle, over
// h2c or TLS, on 127.0.0.1 or on an in-memory listener in a synctest bubble
// (fake time), optionally through a listener wrapper. One ConnState tracker
// follows net/http's view of the connections; eachSubject runs a test once
// per subject.

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	"golang.org/x/net/http2"

	"github.com/h2lifecycle/h2lifecycle/internal/h2test"
	"github.com/h2lifecycle/h2lifecycle/server"
)

// setup says what startSubject starts.
type setup struct {
	stock  bool // the stock HTTP/2 server (http2.ConfigureServer), else h2lifecycle (server.Wrap)
	tls    bool // TLS with ALPN h2, else h2c with prior knowledge; HTTP/1.1 on both
	bubble bool // an in-memory listener (h2test) in the calling synctest bubble, else 127.0.0.1

	// smallBuffers (real sockets only): the accepted sockets send, and the
	// ones conn and client dial receive, through 4 KiB buffers, so that a
	// peer that does not read stalls the other side after a few KB instead
	// of megabytes.
	smallBuffers bool

	// listener, if not nil, wraps the listener before TLS and before the
	// server accepts from it.
	listener func(net.Listener) net.Listener

	cfg        server.Config   // h2lifecycle's settings (unused by the stock server)
	opts       []server.Option // h2lifecycle's options
	recordLogs bool            // record h2lifecycle's log in subject.logs
}

// subject is a server under test.
type subject struct {
	t                  testing.TB
	name               string // "stock/h2c", "h2lifecycle/tls", ...
	stock, tls, bubble bool   // as in setup
	smallBuffers       bool
	hs                 *http.Server
	srv                *server.Server         // nil for the stock server
	addr               string                 // 127.0.0.1:port; empty in a bubble
	ln                 *h2test.Listener       // the in-memory listener; nil on real sockets
	conns              *connTracker           // net/http's view of the connections
	logs               *observer.ObservedLogs // h2lifecycle's log, if setup.recordLogs

	served  chan error
	stopped sync.Once
}

// startSubject serves hs as o says. hs keeps what the test set in it: its
// ConnState hook is chained after the tracker's; ErrorLog (default: quiet),
// TLSConfig (default: h2test's certificate) and Protocols (default: HTTP/1.1
// and the HTTP/2 of the transport) are set only where nil.
//
// On real sockets the server is stopped, and every connection must be gone
// within 10s, when the test ends. In a bubble the test calls stop before
// the bubble ends.
func startSubject(t testing.TB, hs *http.Server, o setup) *subject {
	t.Helper()
	s := &subject{t: t, name: subjectLabel(o.stock, o.tls), stock: o.stock, tls: o.tls, bubble: o.bubble, smallBuffers: o.smallBuffers, hs: hs, conns: newConnTracker(), served: make(chan error, 1)}
	user := hs.ConnState
	hs.ConnState = func(nc net.Conn, st http.ConnState) {
		s.conns.hook(nc, st)
		if user != nil {
			user(nc, st)
		}
	}
	if hs.ErrorLog == nil {
		hs.ErrorLog = quietLog // attacks and drains make the HTTP/2 server log a lot
	}
	var ln net.Listener
	switch {
	case o.bubble:
		s.ln = h2test.NewListener()
		ln = s.ln
	case o.smallBuffers:
		ln = listenSmallBuffers(t)
	default:
		var err error
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
	}
	if o.listener != nil {
		ln = o.listener(ln)
	}
	if hs.Protocols == nil {
		var p http.Protocols
		p.SetHTTP1(true)
		if o.tls {
			p.SetHTTP2(true)
		} else {
			p.SetUnencryptedHTTP2(true)
		}
		hs.Protocols = &p
	}
	if o.tls {
		if hs.TLSConfig == nil {
			hs.TLSConfig = h2test.ServerTLSConfig()
		}
		ln = tls.NewListener(ln, hs.TLSConfig)
	}
	if o.stock {
		if err := http2.ConfigureServer(hs, &http2.Server{}); err != nil {
			t.Fatal(err)
		}
	} else {
		opts := o.opts
		if o.recordLogs {
			core, logs := observer.New(zap.DebugLevel)
			s.logs = logs
			opts = append([]server.Option{server.WithLogger(zap.New(core))}, opts...)
		}
		srv, err := server.Wrap(hs, o.cfg, opts...)
		if err != nil {
			t.Fatal(err)
		}
		s.srv = srv
	}
	go func() { s.served <- hs.Serve(ln) }()
	if !o.bubble {
		s.addr = ln.Addr().String()
		t.Cleanup(func() {
			s.stop()
			s.conns.waitClosed(t, 10*time.Second)
		})
	}
	return s
}

// stop closes the server (h2lifecycle's Close, or the stock http.Server's)
// and checks what Serve returned; in a bubble it then lets the bubble
// settle. Only the first call does anything.
func (s *subject) stop() {
	s.t.Helper()
	s.stopped.Do(func() {
		if s.srv != nil {
			s.srv.Close()
		} else {
			s.hs.Close()
		}
		if err := <-s.served; !errors.Is(err, http.ErrServerClosed) {
			s.t.Errorf("%s: Serve: %v", s.name, err)
		}
		if s.bubble {
			synctest.Wait()
		}
	})
}

// conn connects, with TLS (ALPN h2) if the subject uses it, and writes
// nothing. The connection is closed when the test ends.
func (s *subject) conn() net.Conn {
	s.t.Helper()
	var c net.Conn
	if s.bubble {
		var err error
		if c, err = s.ln.Dial(); err != nil {
			s.t.Fatal(err)
		}
	} else {
		d := net.Dialer{Timeout: 5 * time.Second}
		if s.smallBuffers {
			d.Control = func(_, _ string, rc syscall.RawConn) error {
				return rc.Control(func(fd uintptr) {
					syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
				})
			}
		}
		var err error
		if c, err = d.Dial("tcp", s.addr); err != nil {
			s.t.Fatal(err)
		}
	}
	s.t.Cleanup(func() { c.Close() })
	if !s.tls {
		return c
	}
	tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}})
	if !s.bubble {
		tc.SetDeadline(time.Now().Add(5 * time.Second))
	}
	if err := tc.Handshake(); err != nil {
		s.t.Fatal(err)
	}
	tc.SetDeadline(time.Time{})
	return tc
}

// client connects a raw-frame client. It has written nothing yet.
func (s *subject) client() *h2test.Client {
	s.t.Helper()
	if s.bubble || s.smallBuffers {
		return h2test.NewClient(s.t, s.conn())
	}
	if s.tls {
		return h2test.DialTLS(s.t, s.addr)
	}
	return h2test.Dial(s.t, s.addr)
}

// transport returns an x/net HTTP/2 client transport for a subject on real
// sockets; each transport has its own connections.
func (s *subject) transport() *http2.Transport {
	tr := &http2.Transport{}
	if s.tls {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	} else {
		tr.AllowHTTP = true
		tr.DialTLSContext = func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}
	}
	s.t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// url is the subject's base URL on real sockets, without a trailing slash.
func (s *subject) url() string {
	if s.tls {
		return "https://" + s.addr
	}
	return "http://" + s.addr
}

// startDrain ends the server's connections the way each server does on a
// deploy, in the background, with a context bounded by d: h2lifecycle
// drains two-phase (the listener stays open), the stock server shuts down
// (one GOAWAY per connection). The result arrives on the channel; an error
// says so if the call outlives d by 5s.
func (s *subject) startDrain(d time.Duration) <-chan error {
	out := make(chan error, 1)
	inner := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		if s.srv != nil {
			inner <- s.srv.Drain(ctx)
		} else {
			inner <- s.hs.Shutdown(ctx)
		}
	}()
	go func() {
		select {
		case err := <-inner:
			out <- err
		case <-time.After(d + 5*time.Second):
			out <- fmt.Errorf("%s: drain blocked %v past its context", s.name, 5*time.Second)
		}
	}()
	return out
}

// afterShutdown shuts h2lifecycle down within d — failing the test if
// Shutdown blocks past its context — and checks that no supervised
// connection is left. It does nothing for the stock server.
func (s *subject) afterShutdown(t *testing.T, d time.Duration) {
	t.Helper()
	if s.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.srv.Shutdown(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			t.Logf("Shutdown: %v", err)
		}
	case <-time.After(d + 5*time.Second):
		t.Fatalf("Shutdown blocked %v past its context", 5*time.Second)
	}
	s.checkEmpty(t)
}

// checkEmpty waits until net/http has let go of every connection, then
// requires the supervised-connection snapshot to be empty.
func (s *subject) checkEmpty(t *testing.T) {
	t.Helper()
	s.conns.waitClosed(t, 15*time.Second)
	if s.srv != nil {
		if snap := s.srv.Snapshot(); len(snap) != 0 {
			t.Errorf("%d supervised connections left after every connection closed: %+v", len(snap), snap)
		}
	}
}

// drainedLine returns the Info line of the one drained connection
// (setup.recordLogs).
func (s *subject) drainedLine() map[string]any {
	s.t.Helper()
	lines := s.logs.FilterMessage("http2 connection drained").All()
	if len(lines) != 1 {
		s.t.Fatalf("%d \"drained\" log lines, want 1: %v", len(lines), s.logs.All())
	}
	return lines[0].ContextMap()
}

// connTracker follows net/http's own view of the connections: StateNew when
// accepted, StateClosed once net/http has let go of it — for an HTTP/2
// connection, after h2lifecycle's serve has returned and untracked it.
type connTracker struct {
	mu      sync.Mutex
	open    map[net.Conn]bool
	changed chan struct{} // a token on every change
}

func newConnTracker() *connTracker {
	return &connTracker{open: map[net.Conn]bool{}, changed: make(chan struct{}, 1)}
}

func (c *connTracker) hook(nc net.Conn, st http.ConnState) {
	c.mu.Lock()
	switch st {
	case http.StateNew:
		c.open[nc] = true
	case http.StateClosed, http.StateHijacked:
		delete(c.open, nc)
	}
	c.mu.Unlock()
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

func (c *connTracker) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.open)
}

// waitClosed waits until net/http has closed every connection it accepted,
// or fails the test after d.
func (c *connTracker) waitClosed(t testing.TB, d time.Duration) {
	t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for c.count() > 0 {
		select {
		case <-c.changed:
		case <-deadline.C:
			t.Fatalf("%d connections still open after %v", c.count(), d)
		}
	}
}

// listenSmallBuffers listens on 127.0.0.1 with a 4 KiB send buffer, which
// accepted sockets inherit.
func listenSmallBuffers(t testing.TB) net.Listener {
	t.Helper()
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF, 4096)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// quietLog discards the servers' logs.
var quietLog = log.New(io.Discard, "", 0)

// Which servers and transports eachSubject runs over.
var (
	bothServers    = []bool{true, false} // stock first
	supervisedOnly = []bool{false}
	bothTransports = []bool{false, true} // h2c first
	h2cOnly        = []bool{false}
	tlsOnly        = []bool{true}
)

// eachSubject runs f as one subtest per server and transport, transports
// outermost, servers in the order given: with bothServers stock runs first,
// so f may compare h2lifecycle with what stock did (when -run left the
// stock subtest out, there is nothing to compare with). A subtest is named
// after what varies: "stock/h2c", "h2c", "stock".
func eachSubject(t *testing.T, servers, transports []bool, f func(t *testing.T, stock, tlsOn bool)) {
	for _, tlsOn := range transports {
		for _, stock := range servers {
			var name []string
			if len(servers) > 1 {
				name = append(name, subjectName(stock))
			}
			if len(transports) > 1 {
				name = append(name, transportName(tlsOn))
			}
			if len(name) == 0 {
				name = []string{subjectName(stock), transportName(tlsOn)}
			}
			t.Run(strings.Join(name, "/"), func(t *testing.T) { f(t, stock, tlsOn) })
		}
	}
}

// subjectName names the server: "stock" or "h2lifecycle".
func subjectName(stock bool) string {
	if stock {
		return "stock"
	}
	return "h2lifecycle"
}

func transportName(tlsOn bool) string {
	if tlsOn {
		return "tls"
	}
	return "h2c"
}

// subjectLabel names server and transport: "stock/h2c".
func subjectLabel(stock, tlsOn bool) string { return subjectName(stock) + "/" + transportName(tlsOn) }
