package server

import (
	"context"
	"net"
	"net/http"
	"sync/atomic"

	"github.com/h2lifecycle/h2lifecycle/lifecycle"
)

// handle is one connection's shutdown handle (DESIGN.md, fact 1): a
// throwaway http.Server that never serves a listener, carrying the user's
// settings, with its own HTTP/2 server (cs), which serves the connection.
// Shutting the throwaway down makes exactly the connection it serves send
// GOAWAY(last processed stream) and refuse streams above it.
//
// A handle whose connection ended without a Shutdown is reused by a later
// connection of the same Server (at most maxFreeHandles wait): the HTTP/2
// server keeps nothing of a connection once its serve has returned, so the
// reused throwaway's Shutdown reaches its new connection and nothing else
// (internal/conformance pins it on both toolchains). Under connection churn
// no HTTP/2 server is configured per connection (issue 15: x/net's
// ConfigureServer on Go 1.26, net/http's hook registration on Go 1.27). A
// handle whose Shutdown ran is never reused: its server stays shut down.
type handle struct {
	t  *http.Server
	hs *http.Server // the user's server whose settings t carries
	cs connServer

	// The connection being served: set before it is served, read by t's
	// ConnState hook on the connection's own goroutine.
	sup *lifecycle.Supervisor

	// state is gen<<1 | shut: gen counts the connections served (the
	// goAway of an older one does nothing), shut says Shutdown was called
	// (the handle is never reused).
	state atomic.Uint64
}

// maxFreeHandles bounds the handles kept for reuse per Server (about 1 KB
// each).
const maxFreeHandles = 128

// newHandle returns a shutdown handle for a connection of hs: a free one if
// there is one, else a new one.
func (s *Server) newHandle(hs *http.Server) (*handle, error) {
	s.mu.Lock()
	if n := len(s.free); n > 0 && s.free[n-1].hs == hs {
		h := s.free[n-1]
		s.free[n-1] = nil
		s.free = s.free[:n-1]
		s.mu.Unlock()
		return h, nil
	}
	s.mu.Unlock()
	h := &handle{hs: hs}
	h.t = &http.Server{
		ReadTimeout:    hs.ReadTimeout,
		WriteTimeout:   hs.WriteTimeout,
		MaxHeaderBytes: hs.MaxHeaderBytes,
		ErrorLog:       hs.ErrorLog,
		ConnState:      h.connState,
	}
	copyVersionSettings(h.t, hs)
	s.h2once.Do(func() { s.h2conf, s.advertised = handleHTTP2(hs, s.cfg.Policy) })
	h.t.HTTP2 = s.h2conf
	// MaxStreamDuration is the server's own per-stream write deadline,
	// which resets the stream and cancels its handler's context.
	h.t.WriteTimeout = earliestLimit(hs.WriteTimeout, s.cfg.Policy.MaxStreamDuration)
	cs, err := s.configureHandle(h.t)
	if err != nil {
		return nil, err
	}
	h.cs = cs
	return h, nil
}

// connState is the throwaway's ConnState hook.
func (h *handle) connState(_ net.Conn, st http.ConnState) {
	h.sup.ConnState(st)
	if h.hs.ConnState != nil {
		// The conn net/http reported as new: the one the tap wraps.
		h.hs.ConnState(h.sup.Conn().(interface{ NetConn() net.Conn }).NetConn(), st)
	}
}

// goAwayFunc is the connection's lifecycle.Config.GoAway: the throwaway's
// Shutdown, as long as h serves the connection it was made for.
func (h *handle) goAwayFunc() func() {
	gen := h.state.Load() >> 1
	return func() {
		for {
			v := h.state.Load()
			if v>>1 != gen {
				return // that connection is gone; h may serve another
			}
			if h.state.CompareAndSwap(v, v|1) {
				break
			}
		}
		h.t.Shutdown(context.Background())
	}
}

// release takes h back once its connection's serve has returned, for reuse
// if it was never shut down.
func (s *Server) release(h *handle) {
	var v uint64
	for {
		v = h.state.Load()
		if h.state.CompareAndSwap(v, v+2) { // the next connection's gen
			break
		}
	}
	h.sup = nil
	h.cs.reset()
	if v&1 != 0 {
		return // shut down
	}
	s.mu.Lock()
	if len(s.free) < maxFreeHandles {
		s.free = append(s.free, h)
	}
	s.mu.Unlock()
}
