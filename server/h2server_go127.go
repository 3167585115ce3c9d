//go:build go1.27

package server

import (
	"context"
	"math"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/h2lifecycle/h2lifecycle/internal/h2hook"
)

// connServer serves the supervised connections of one http.Server. On Go
// 1.27 it is net/http's own HTTP/2 server on the throwaway http.Server,
// reached through the hook x/net's ConfigureServer uses (package h2hook)
// without x/net's per-connection wrapper (DESIGN.md, fact 1, describes the
// x/net wiring this replaces; BENCHMARKS.md, Memory).
type connServer struct {
	serveFunc h2hook.ServeFunc
}

// configureConnServer gives t, the throwaway http.Server, its HTTP/2
// server.
func configureConnServer(t *http.Server) (connServer, error) {
	f, err := h2hook.Register(t, hookConfig{})
	if err != nil {
		return connServer{}, err
	}
	return connServer{serveFunc: f}, nil
}

// checkConnServer reports once per process whether net/http takes the
// HTTP/2 server hook, so that Wrap fails up front rather than at the first
// connection.
var checkConnServer = sync.OnceValue(func() error {
	_, err := h2hook.Register(&http.Server{}, hookConfig{})
	return err
})

// hookConfig answers net/http's questions about a handle's HTTP/2 server.
// Every setting is on the throwaway's HTTP2 (handleHTTP2), which net/http
// prefers field by field; the hook adds nothing but the idle timeout.
type hookConfig struct{}

func (hookConfig) HTTP2Config() http.HTTP2Config { return http.HTTP2Config{} }

// IdleTimeout is zero: net/http's idle close is the racy single GOAWAY; the
// supervisor owns idleness.
func (hookConfig) IdleTimeout() time.Duration { return 0 }

// serve serves nc (the tapped connection) until it is done. The request
// contexts derive from ctx as is: handlers find the user's server under
// http.ServerContextKey, as with the stock server.
func (c connServer) serve(_ *http.Server, nc net.Conn, ctx context.Context, h http.Handler, sawPreface bool) {
	c.serveFunc(ctx, nc, h, sawPreface, nil, nil)
}

// copyVersionSettings copies the http.Server settings that only some Go
// versions have: Go 1.27's two, which its HTTP/2 server reads from the
// throwaway.
func copyVersionSettings(dst, src *http.Server) {
	dst.DisableClientPriority = src.DisableClientPriority
	dst.MaxHeaderValueCount = src.MaxHeaderValueCount
}

// stockMaxStreams is the SETTINGS_MAX_CONCURRENT_STREAMS the stock server
// advertises for http.HTTP2Config.MaxConcurrentStreams v: net/http takes v
// from 1 to 2^31-1, and 250 for anything else (internal/conformance pins
// it).
func stockMaxStreams(v int) uint32 {
	if v >= 1 && v <= math.MaxInt32 {
		return uint32(v)
	}
	return defaultMaxStreams
}
