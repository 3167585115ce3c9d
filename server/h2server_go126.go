//go:build !go1.27

package server

import (
	"context"
	"net"
	"net/http"

	"golang.org/x/net/http2"
)

// connServer serves the supervised connections of one http.Server. On Go
// 1.26 it is x/net's classic HTTP/2 server, registered on the throwaway
// http.Server with ConfigureServer (DESIGN.md, fact 1).
type connServer struct {
	h2 *http2.Server
}

// configureConnServer gives t, the throwaway http.Server, its HTTP/2
// server.
func configureConnServer(t *http.Server) (connServer, error) {
	h2 := &http2.Server{}
	if err := http2.ConfigureServer(t, h2); err != nil {
		return connServer{}, err
	}
	// ConfigureServer copied IdleTimeout (or ReadTimeout) into the HTTP/2
	// server, whose idle close is the racy single GOAWAY. The supervisor
	// owns idleness.
	h2.IdleTimeout = 0
	// The user's server did the handshake: the TLS config and the ALPN
	// table ConfigureServer gave t are for listeners t never has.
	t.TLSConfig, t.TLSNextProto = nil, nil
	return connServer{h2: h2}, nil
}

// serve serves nc (the tapped connection) until it is done. x/net serves it
// with the settings and ConnState of BaseConfig, which must be the
// throwaway t here (pinned by internal/conformance); it puts BaseConfig
// under http.ServerContextKey. x/net keeps a pointer to the options for
// the connection's life: they are the connection's own.
func (c connServer) serve(t *http.Server, nc net.Conn, ctx context.Context, h http.Handler, sawPreface bool) {
	c.h2.ServeConn(nc, &http2.ServeConnOpts{
		Context:          ctx,
		Handler:          h,
		BaseConfig:       t,
		SawClientPreface: sawPreface,
	})
}

// checkConnServer: x/net's classic server needs nothing of net/http's.
func checkConnServer() error { return nil }

// copyVersionSettings copies the http.Server settings that only some Go
// versions have. Go 1.26 has none that HTTP/2 reads.
func copyVersionSettings(dst, src *http.Server) {}

// stockMaxStreams is the SETTINGS_MAX_CONCURRENT_STREAMS the stock server
// advertises for http.HTTP2Config.MaxConcurrentStreams v: x/net takes v's
// low 32 bits, and 250 for zero (internal/conformance pins it).
func stockMaxStreams(v int) uint32 {
	if n := uint32(v); n != 0 {
		return n
	}
	return defaultMaxStreams
}
