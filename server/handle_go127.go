//go:build go1.27

package server

import (
	"context"
	"net"
	"net/http"
	"time"

	"github.com/h2lifecycle/h2lifecycle/internal/h2hook"
)

// connServer serves one supervised connection. On Go 1.27 it is net/http's
// own HTTP/2 server on the connection's throwaway http.Server, reached
// through the hook x/net's ConfigureServer uses (package h2hook) without
// x/net's per-connection wrapper (DESIGN §3; BENCHMARKS.md, Memory).
type connServer struct {
	serveFunc  h2hook.ServeFunc
	ctx        context.Context
	h          http.Handler
	sawPreface bool
}

// configureHandle makes t, the connection's throwaway http.Server, its
// shutdown handle: t.Shutdown sends GOAWAY(last processed stream) on the
// connection served by the returned connServer, and nowhere else.
func (s *Server) configureHandle(t *http.Server) (connServer, error) {
	f, err := h2hook.Register(t, (*hookConfig)(s))
	if err != nil {
		return connServer{}, err
	}
	return connServer{serveFunc: f}, nil
}

// hookConfig answers net/http's questions about the handles' HTTP/2
// servers: the server's own settings, shared by its connections.
type hookConfig Server

// HTTP2Config adds the keepalive of the policy: the server PINGs a silent
// connection and closes it when the ACK does not come; the supervisor
// watches and reports it. http.Server.HTTP2 (copied onto each throwaway)
// takes precedence, as it does with x/net's ConfigureServer.
func (c *hookConfig) HTTP2Config() http.HTTP2Config {
	var conf http.HTTP2Config
	if p := &c.cfg.Policy; p.KeepaliveInterval > 0 {
		conf.SendPingTimeout, conf.PingTimeout = p.KeepaliveInterval, p.KeepaliveTimeoutOrDefault()
	}
	return conf
}

// IdleTimeout is zero: net/http's idle close is the racy single GOAWAY; the
// supervisor owns idleness.
func (*hookConfig) IdleTimeout() time.Duration { return 0 }

// prepare sets what serving the connection needs. The request contexts
// derive from ctx as is: handlers find the user's server under
// http.ServerContextKey, as with the stock server.
func (c *connServer) prepare(hs, _ *http.Server, nc net.Conn, ctx context.Context, h http.Handler, sawPreface bool) {
	if ctx == nil { // net/http always gives one; what it would hold
		ctx = context.WithValue(context.Background(), http.ServerContextKey, hs)
		ctx = context.WithValue(ctx, http.LocalAddrContextKey, nc.LocalAddr())
	}
	c.ctx, c.h, c.sawPreface = ctx, h, sawPreface
}

// serve serves nc (the tapped connection) until it is done.
func (c connServer) serve(nc net.Conn) { c.serveFunc(c.ctx, nc, c.h, c.sawPreface, nil, nil) }

// copyVersionSettings copies the http.Server settings that only some Go
// versions have.
func copyVersionSettings(dst, src *http.Server) {
	dst.DisableClientPriority = src.DisableClientPriority
}
