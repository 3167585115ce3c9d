package conformance

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"testing"
	"testing/synctest"

	"github.com/h2lifecycle/h2lifecycle/internal/h2test"
	"golang.org/x/net/http2"
)

// tlsPair returns both ends of a completed TLS handshake (ALPN h2) over an
// in-memory pipe; net/http also hands over conns only after the handshake.
func tlsPair(t *testing.T) (client, server *tls.Conn) {
	t.Helper()
	cp, sp := h2test.Pipe()
	server = tls.Server(sp, h2test.ServerTLSConfig())
	client = tls.Client(cp, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}})
	errc := make(chan error, 1)
	go func() { errc <- server.Handshake() }()
	if err := client.Handshake(); err != nil {
		t.Fatalf("TLS handshake: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("TLS handshake (server): %v", err)
	}
	return client, server
}

// hidingConn is a wrapper that forgets ConnectionState, like a naive tap.
type hidingConn struct{ net.Conn }

// statingConn forwards ConnectionState, as h2lifecycle's tap must.
type statingConn struct {
	net.Conn
	state func() tls.ConnectionState
}

func (c statingConn) ConnectionState() tls.ConnectionState { return c.state() }

func tlsReport(w http.ResponseWriter, r *http.Request) {
	if r.TLS == nil {
		fmt.Fprint(w, "tls=none")
		return
	}
	fmt.Fprintf(w, "tls=%s", r.TLS.NegotiatedProtocol)
}

// Fact 13 (DESIGN.md, rule 6): handlers see r.TLS only when the conn given
// to ServeConn has ConnectionState() tls.ConnectionState; a wrapper that
// hides it leaves r.TLS nil. So the tap must forward ConnectionState. On Go
// 1.26 x/net also requires :scheme https (tlsOnlyForHTTPS); Go 1.27 sets
// r.TLS whatever the scheme.
func TestRequestTLSNeedsConnectionState(t *testing.T) {
	for _, tc := range []struct {
		name   string
		wrap   func(*tls.Conn) net.Conn
		scheme string
		want   string
	}{
		{"tls.Conn", func(c *tls.Conn) net.Conn { return c }, "https", "tls=h2"},
		{"wrapper forwarding ConnectionState", func(c *tls.Conn) net.Conn { return statingConn{c, c.ConnectionState} }, "https", "tls=h2"},
		{"wrapper hiding ConnectionState", func(c *tls.Conn) net.Conn { return hidingConn{c} }, "https", "tls=none"},
		{"tls.Conn with :scheme http", func(c *tls.Conn) net.Conn { return c }, "http", map[bool]string{true: "tls=none", false: "tls=h2"}[tlsOnlyForHTTPS]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cli, srv := tlsPair(t)
				serve(t, tc.wrap(srv), connConfig{wiring: chosen(), handler: http.HandlerFunc(tlsReport)})
				c := h2test.NewClient(t, cli)
				c.Handshake()
				c.WriteHeaders(1, true, ":scheme", tc.scheme)
				if got := string(c.ExpectResponse(1).Body); got != tc.want {
					t.Fatalf("%s: %s: handler saw %s, want %s: handlers behind the tap would lose (or wrongly gain) r.TLS", toolchainName, tc.name, got, tc.want)
				}
			})
		})
	}
}

// Fact 13, the other half of rule 6: the server's TLS checks (RFC 9113
// §9.2) run only on a ConnectionState it can see. A conn reporting TLS 1.1
// is refused before the server reads anything, with GOAWAY(0,
// INADEQUATE_SECURITY) as its first and only frame (no SETTINGS); hidden
// behind a wrapper, it is served.
func TestTLSChecksNeedConnectionState(t *testing.T) {
	old := func() tls.ConnectionState {
		return tls.ConnectionState{Version: tls.VersionTLS11, HandshakeComplete: true}
	}
	for _, visible := range []bool{true, false} {
		t.Run(map[bool]string{true: "visible", false: "hidden"}[visible], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cp, sp := h2test.Pipe()
				var nc net.Conn = hidingConn{sp}
				if visible {
					nc = statingConn{sp, old}
				}
				serve(t, nc, connConfig{wiring: chosen(), handler: newGates()})
				c := h2test.NewClient(t, cp)
				if !visible {
					c.Handshake()
					c.WriteHeaders(1, true)
					c.ExpectResponse(1)
					return
				}
				// Refused before the server reads anything: write nothing, as
				// the server may already have closed.
				f, err := c.ReadFrame()
				ga, ok := f.(*http2.GoAwayFrame)
				if err != nil || !ok || ga.ErrCode != http2.ErrCodeInadequateSecurity || ga.LastStreamID != 0 {
					t.Fatalf("%s: TLS 1.1 conn: first frame %v (err %v), want GOAWAY(0, INADEQUATE_SECURITY)", toolchainName, f, err)
				}
				if err := c.WaitClosed(); err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}
