//go:build go1.27

// Package h2hook configures net/http's own HTTP/2 server on an http.Server
// and returns the function that serves one connection on it, with the
// mechanism golang.org/x/net/http2.ConfigureServer itself uses from Go 1.27
// on (x/net's server_wrap.go): http.Server.Serve, given a listener that also
// has the methods of Config and a ServeConnFunc method, takes it as the
// configuration of the server's HTTP/2 side, hands it the function that
// serves a connection, and returns nil instead of serving.
//
// h2lifecycle's HTTP/2 server is a throwaway http.Server configured this
// way (on Go 1.26 it is x/net's; server/h2server.go). Going through x/net instead costs every
// connection an x/net http2.Server, a base context with a cancel func and
// two values, and an empty http.Server that x/net's ServeConn makes for
// http.ServerContextKey: about 1 KB of heap per connection (a heap profile of
// 2,000 idle connections: 1,023 B; BENCHMARKS.md, Memory). The server
// behaves the same; internal/conformance pins it, served both ways.
package h2hook

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"time"
)

// Config answers net/http's questions about the HTTP/2 server, at each
// connection it serves. HTTP2Config's non-zero fields apply where
// http.Server.HTTP2 leaves a field zero; IdleTimeout replaces
// http.Server.IdleTimeout for HTTP/2 (zero: no idle close).
type Config interface {
	HTTP2Config() http.HTTP2Config
	IdleTimeout() time.Duration
}

// ServeFunc serves one HTTP/2 connection on the http.Server it was
// registered on, and returns when the connection is done. ctx is the base of
// the request contexts, as is: net/http adds nothing to it (pass the
// connection's context from net/http to keep http.ServerContextKey and
// http.LocalAddrContextKey). sawClientPreface says the 24-byte client
// preface was already read from nc. upgrade and settings are for h2c
// upgrades (nil otherwise).
type ServeFunc = func(ctx context.Context, nc net.Conn, h http.Handler, sawClientPreface bool, upgrade *http.Request, settings []byte)

// ErrUnsupported is Register's error when net/http did not take the hook
// (a Go version whose net/http no longer offers it).
var ErrUnsupported = errors.New("h2hook: net/http did not take the HTTP/2 server configuration (not Go 1.27's net/http?)")

// Register configures the HTTP/2 server of hs, a throwaway http.Server that
// will never serve a listener, with conf and returns the function that
// serves a connection on it. hs's Shutdown then sends a graceful GOAWAY on
// each connection served through the function. Call it once per
// http.Server, before anything else uses it (net/http panics on a second
// registration).
//
// hs is left without a TLS config and an ALPN table (TLSNextProto), which
// are for listeners, and with HTTP/1-only Protocols: without an "h2" ALPN
// entry net/http would configure HTTP/2 on hs a second time when a
// connection starts, unless its Protocols leave HTTP/2 out, and Protocols
// are not read otherwise once HTTP/2 is configured (internal/conformance
// pins it). net/http's HTTP/2 setup only reads the TLS config it is given,
// so one empty config serves every throwaway (server's
// BenchmarkServeSetup/handle: 816 B in 11 allocations, against 1,296 B in
// 12 with a TLS config of its own).
func Register(hs *http.Server, conf Config) (ServeFunc, error) {
	hs.TLSConfig = noTLS
	l := &listener{Config: conf}
	if err := hs.Serve(l); err != nil || l.serve == nil {
		hs.TLSConfig = nil
		return nil, ErrUnsupported
	}
	hs.TLSConfig, hs.TLSNextProto, hs.Protocols = nil, nil, http1Only
	return l.serve, nil
}

// noTLS and http1Only are shared by every throwaway, read only.
var (
	noTLS     = &tls.Config{}
	http1Only = func() *http.Protocols {
		var p http.Protocols
		p.SetHTTP1(true)
		return &p
	}()
)

// listener is what http.Server.Serve recognizes; net/http keeps it for the
// server's life and asks it for the configuration at each connection.
type listener struct {
	Config
	serve ServeFunc
}

func (l *listener) ServeConnFunc(f func(context.Context, net.Conn, http.Handler, bool, *http.Request, []byte)) {
	l.serve = f
}

// The net.Listener methods: Serve only calls them if it did not take the
// hook, and then fails on Accept.
func (*listener) Accept() (net.Conn, error) { return nil, ErrUnsupported }
func (*listener) Close() error              { return nil }
func (*listener) Addr() net.Addr            { return nil }
