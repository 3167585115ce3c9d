package server

import (
	"net"
	"net/http"

	"github.com/h2lifecycle/h2lifecycle/lifecycle"
)

// h2server is the HTTP/2 server of the supervised connections of one
// http.Server: a throwaway http.Server that never serves a listener,
// carrying the user's settings, with one HTTP/2 server (cs) that serves
// every connection, as the stock wiring has one per http.Server. A
// connection's drain ends with the client GOAWAY its tap gives the server
// (lifecycle/splice.go), on which the HTTP/2 server drains that connection
// alone: no connection needs a server or a shutdown hook of its own (issue
// 15: the per-connection handle this replaces cost about 1.2 KB per idle
// connection, BENCHMARKS.md, Memory).
//
// The throwaway is never shut down: the user's Shutdown reaches the
// connections through the supervisors' drains (onShutdown).
type h2server struct {
	t  *http.Server
	hs *http.Server // the user's server whose settings t carries
	cs connServer

	// The stream limit the taps advertise (zero: none of theirs).
	advertised uint32
}

// h2serverFor returns the HTTP/2 server of hs's connections, building it at
// the first connection.
func (s *Server) h2serverFor(hs *http.Server) (*h2server, error) {
	if p := s.h2.Load(); p != nil && p.hs == hs {
		return p, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.h2.Load(); p != nil && p.hs == hs {
		return p, nil
	}
	p := &h2server{hs: hs}
	p.t = &http.Server{
		ReadTimeout:    hs.ReadTimeout,
		MaxHeaderBytes: hs.MaxHeaderBytes,
		ErrorLog:       hs.ErrorLog,
		ConnState:      p.connState,
		// MaxStreamDuration is the server's own per-stream write deadline,
		// which resets the stream and cancels its handler's context.
		WriteTimeout: earliestLimit(hs.WriteTimeout, s.cfg.Policy.MaxStreamDuration),
	}
	copyVersionSettings(p.t, hs)
	p.t.HTTP2, p.advertised = handleHTTP2(hs, s.cfg.Policy)
	cs, err := configureConnServer(p.t)
	if err != nil {
		return nil, err
	}
	p.cs = cs
	// Connections of another http.Server sharing hs's TLSNextProto (a
	// copy of hs) replace it here; those already served keep theirs.
	s.h2.Store(p)
	return p, nil
}

// connState is the throwaway's ConnState hook: the HTTP/2 server's own
// view of a connection (idle or active), for its supervisor and for the
// user's hook.
func (p *h2server) connState(c net.Conn, st http.ConnState) {
	sup := lifecycle.Of(c)
	if sup == nil {
		return // not a tap: nothing this server serves
	}
	sup.ConnState(st)
	if p.hs.ConnState != nil {
		// The conn net/http reported as new: the one the tap wraps.
		p.hs.ConnState(sup.Conn().(interface{ NetConn() net.Conn }).NetConn(), st)
	}
}
