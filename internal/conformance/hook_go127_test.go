//go:build go1.27

package conformance

import (
	"context"
	"net"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/net/http2"

	"github.com/h2lifecycle/h2lifecycle/internal/h2hook"
)

// registerHook configures net/http's own HTTP/2 server on hs with h2's
// settings through package h2hook, and serves connections on it without
// x/net. h2 only carries settings, read at each use; its IdleTimeout is
// first filled from hs as x/net's ConfigureServer does, so that the tests
// that set it keep their meaning.
func registerHook(hs *http.Server, h2 *http2.Server) (func(net.Conn, *http2.ServeConnOpts), error) {
	if h2.IdleTimeout == 0 {
		h2.IdleTimeout = hs.IdleTimeout
		if h2.IdleTimeout == 0 {
			h2.IdleTimeout = hs.ReadTimeout
		}
	}
	serve, err := h2hook.Register(hs, hookSettings{h2})
	if err != nil {
		return nil, err
	}
	return func(nc net.Conn, opts *http2.ServeConnOpts) {
		ctx := opts.Context
		if ctx == nil {
			ctx = context.Background()
		}
		serve(ctx, nc, opts.Handler, opts.SawClientPreface, nil, nil)
	}, nil
}

// hookSettings are the settings of an x/net http2.Server as net/http asks
// for them (the fields the tests set).
type hookSettings struct{ h2 *http2.Server }

func (s hookSettings) HTTP2Config() http.HTTP2Config {
	return http.HTTP2Config{
		MaxConcurrentStreams: int(s.h2.MaxConcurrentStreams),
		SendPingTimeout:      s.h2.ReadIdleTimeout,
		PingTimeout:          s.h2.PingTimeout,
	}
}

func (s hookSettings) IdleTimeout() time.Duration { return s.h2.IdleTimeout }

// Not in DESIGN.md, h2hook's own trimming: h2hook.Register leaves the throwaway
// without a TLS config and an ALPN table, with HTTP/1-only Protocols, and
// net/http serves the connection without configuring HTTP/2 on it a second
// time (which would cost each connection that setup twice: bench/memory
// measured 875 bytes). The control: with the default Protocols, serving does
// configure it again.
func TestHookThrowawayNotReconfigured(t *testing.T) {
	for _, control := range []bool{false, true} {
		name := map[bool]string{false: "h2hook", true: "control: default Protocols"}[control]
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := connConfig{wiring: netHTTPHook, handler: newGates()}
				if control {
					cfg.after = func(hs *http.Server, _ *http2.Server) { hs.Protocols = nil }
				}
				c, s := pipeConn(t, cfg)
				if !control && (s.hs.TLSConfig != nil || s.hs.TLSNextProto != nil || s.hs.Protocols.HTTP2() || s.hs.Protocols.UnencryptedHTTP2()) {
					t.Fatalf("after h2hook.Register: TLSConfig %v, TLSNextProto %v, Protocols %v; want nil, nil, HTTP1 only", s.hs.TLSConfig, s.hs.TLSNextProto, s.hs.Protocols)
				}
				c.Handshake()
				c.WriteHeaders(1, true, ":path", "/1")
				c.ExpectResponse(1)
				s.conn.Close()
				<-s.done
				_, reconfigured := s.hs.TLSNextProto["h2"]
				if reconfigured != control {
					t.Fatalf("%s: net/http configured HTTP/2 on the throwaway again when serving: %v, want %v", toolchainName, reconfigured, control)
				}
			})
		})
	}
}
