package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/h2lifecycle/h2lifecycle/drain"
	"github.com/h2lifecycle/h2lifecycle/idle"
	"github.com/h2lifecycle/h2lifecycle/lifecycle"
)

// Config holds the settings of a supervised server. The zero value works:
// no connection policy beyond http.Server.IdleTimeout, and the drain
// defaults (see drain.Config).
type Config struct {
	// Policy is the connection policy. A zero Policy.IdleTimeout takes
	// http.Server.IdleTimeout, or else its ReadTimeout, as net/http does for
	// HTTP/2.
	Policy idle.Policy

	// Drain holds the grace deadline, ping timeout and linger of drains.
	Drain drain.Config

	// HoldHeaderFlush holds a handler's Flush that comes before any body
	// byte for up to this long, so that a response that turns out to have
	// no body ends on its HEADERS frame rather than with an empty
	// DATA(END_STREAM), which gRPC clients reject; see
	// lifecycle.StreamOptions. Zero means off. A few milliseconds suit a
	// gRPC reverse proxy; it wraps each handler (one allocation per
	// request).
	HoldHeaderFlush time.Duration
}

// Validate reports the first setting that is out of range, naming it.
func (c Config) Validate() error {
	if err := c.Policy.Validate(); err != nil {
		return err
	}
	if err := idle.NonNegative("server", "hold_header_flush", c.HoldHeaderFlush); err != nil {
		return err
	}
	return c.Drain.Validate()
}

// Errors returned by Wrap. Each is wrapped in an error that says what
// happened and what to do; test them with errors.Is.
var (
	ErrNilServer       = errors.New("server: Wrap needs a non-nil *http.Server")
	ErrHTTP2Configured = errors.New(`server: http.Server.TLSNextProto["h2"] is already set; h2lifecycle must be the only HTTP/2 server`)
	ErrHTTP2Disabled   = errors.New("server: HTTP/2 is turned off on this http.Server; there is nothing to supervise")
)

// defaultMaxStreams is the HTTP/2 server's default
// SETTINGS_MAX_CONCURRENT_STREAMS (x/net and net/http).
const defaultMaxStreams = 250

// nextProtoUnencryptedHTTP2 is net/http's TLSNextProto key for h2c with prior
// knowledge; the *tls.Conn it hands over wraps the plain connection.
const nextProtoUnencryptedHTTP2 = "unencrypted_http2"

// Server supervises the HTTP/2 connections of one http.Server.
type Server struct {
	hs   *http.Server
	cfg  Config
	log  *zap.Logger
	lops []lifecycle.Option

	// The HTTP/2 server of hs's connections, built at the first one
	// (h2server.go).
	h2 atomic.Pointer[h2server]

	notReady atomic.Bool // a shutdown began: the readiness handler answers 503

	// What checks that HTTP/2 still comes here (guard.go).
	active       atomic.Bool // Wrap succeeded: the shutdown hook acts
	h2fn         uintptr     // the code of the TLSNextProto["h2"] Wrap installed
	bypassOnce   sync.Once
	unsupervised atomic.Uint64
	bypass       atomic.Bool // another HTTP/2 server took hs's connections over (guard.go)
	foreign      sync.Map    // non-TLS net.Conns another HTTP/2 server reported (guard.go)
	umetrics     UnsupervisedMetrics

	// net/http's connections, as the ConnState hook sees them (httpshutdown.go).
	hookFn    uintptr      // the code of the ConnState hook Wrap installed
	netConns  atomic.Int64 // StateNew seen, StateClosed or StateHijacked not yet
	countOff  atomic.Bool  // a close without its StateNew: netConns cannot be trusted
	quietWant atomic.Bool  // somebody waits for netConns to reach zero
	quietMu   sync.Mutex
	quiet     chan struct{} // closed when netConns reaches zero; nil when nobody waits

	mu         sync.Mutex
	conns      map[*lifecycle.Supervisor]struct{}
	nextID     uint64
	draining   bool            // new connections are drained at once
	deadline   time.Time       // of the drain under way: late connections keep it
	sequenced  bool            // RunShutdown drives the drains; the shutdown hook stays out
	collect    *ShutdownReport // reports of the connections closing during RunShutdown
	empty      chan struct{}   // closed when conns becomes empty; nil when nobody waits
	warned     *ShutdownPlan   // the plan whose termination budget warning was logged (CheckShutdownPlan)
	lateDrains int             // connections tracked while draining (progress.go)
}

// Wrap supervises every HTTP/2 connection hs will serve. Call it before hs
// serves. It installs hs.TLSNextProto["h2"] and
// hs.TLSNextProto["unencrypted_http2"], puts a ConnState hook in front of
// hs.ConnState (which it still calls, first) and registers a shutdown hook,
// so that hs.Shutdown drains every HTTP/2 connection two-phase and waits
// for it.
//
// Wrap fails, saying what to change, rather than supervise nothing: when
// HTTP/2 is already configured on hs (http2.ConfigureServer, a second
// Wrap, or hs already serving: ErrHTTP2Configured), when HTTP/2 is turned
// off (ErrHTTP2Disabled: by hs.Protocols, by a non-nil hs.TLSNextProto
// without "h2", or by GODEBUG=http2server=0), and when hs.Handler is h2c.NewHandler's
// (ErrH2CHandler). An HTTP/1.1 request asking to upgrade to h2c ("Upgrade:
// h2c", removed from HTTP/2 by RFC 9113) is served over HTTP/1.1 and not
// upgraded; h2c is prior knowledge only, through hs.Protocols. If
// http2.ConfigureServer replaces the HTTP/2 server after Wrap, the first
// connection (or hs.Shutdown) logs an error and UnsupervisedHTTP2 counts
// the connections served without supervision.
//
// A failed Wrap leaves hs as it was, except for a shutdown hook that does
// nothing.
func Wrap(hs *http.Server, cfg Config, opts ...Option) (*Server, error) {
	if hs == nil {
		return nil, ErrNilServer
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if isH2CHandler(hs.Handler) {
		return nil, ErrH2CHandler
	}
	s := &Server{hs: hs, cfg: cfg}
	// First, because RegisterOnShutdown takes hs's lock, which Serve also
	// takes once it has set up its own HTTP/2 server: a Wrap after Serve
	// reads that setup without a data race, and reports it below.
	hs.RegisterOnShutdown(s.onShutdown)
	if fn, ok := hs.TLSNextProto["h2"]; ok {
		return nil, configuredErr(fn)
	}
	if err := disabledErr(hs); err != nil {
		return nil, err
	}
	if err := checkConnServer(); err != nil {
		return nil, fmt.Errorf("server: the HTTP/2 server cannot be built with this Go version: %w", err)
	}
	if s.cfg.Policy.IdleTimeout == 0 {
		s.cfg.Policy.IdleTimeout = hs.IdleTimeout
		if s.cfg.Policy.IdleTimeout == 0 {
			s.cfg.Policy.IdleTimeout = hs.ReadTimeout
		}
	}
	var o options
	for _, opt := range opts {
		if opt != nil {
			opt.apply(&o)
		}
	}
	s.log = o.log
	s.lops = o.lifecycle()
	s.conns = make(map[*lifecycle.Supervisor]struct{})
	s.umetrics, _ = o.metrics.(UnsupervisedMetrics)
	if s.log == nil {
		s.log = zap.NewNop()
	}
	if hs.TLSNextProto == nil {
		hs.TLSNextProto = make(map[string]func(*http.Server, *tls.Conn, http.Handler))
	}
	hs.TLSNextProto["h2"] = s.serveTLS
	hs.TLSNextProto[nextProtoUnencryptedHTTP2] = s.serveH2C
	s.h2fn = reflect.ValueOf(hs.TLSNextProto["h2"]).Pointer()
	// Like http2.ConfigureServer: a tls.Config the program passes to its own
	// tls.NewListener must offer h2 (appended, so an explicit preference for
	// http/1.1 stands).
	if tc := hs.TLSConfig; tc != nil && (hs.Protocols == nil || hs.Protocols.HTTP2()) {
		if !slices.Contains(tc.NextProtos, "h2") {
			tc.NextProtos = append(tc.NextProtos, "h2")
		}
		if !slices.Contains(tc.NextProtos, "http/1.1") {
			tc.NextProtos = append(tc.NextProtos, "http/1.1")
		}
	}
	s.watchConns(hs)
	s.active.Store(true)
	return s, nil
}

// onShutdown is the hook hs.Shutdown runs: it drains every connection,
// unless RunShutdown drives the drains.
func (s *Server) onShutdown() {
	if !s.active.Load() {
		return // Wrap failed
	}
	s.checkBypass(s.hs)
	s.mu.Lock()
	sequenced := s.sequenced
	s.mu.Unlock()
	if !sequenced {
		s.drainAll(0, true)
	}
}

func (s *Server) serveTLS(hs *http.Server, tc *tls.Conn, h http.Handler) {
	s.serve(hs, tc, h, false)
}

func (s *Server) serveH2C(hs *http.Server, tc *tls.Conn, h http.Handler) {
	u, ok := tc.NetConn().(interface{ UnencryptedNetConn() net.Conn })
	if !ok {
		s.logf(hs, "h2lifecycle: TLS connection handed over as unencrypted HTTP/2; closing it")
		tc.Close()
		return
	}
	// net/http has read the client preface to recognize h2c.
	s.serve(hs, u.UnencryptedNetConn(), h, true)
}

func (s *Server) logf(hs *http.Server, format string, args ...any) {
	if hs.ErrorLog != nil {
		hs.ErrorLog.Printf(format, args...)
		return
	}
	s.log.Error(fmt.Sprintf(format, args...))
}

// serve serves one HTTP/2 connection under supervision. net/http counts the
// connection as active until serve returns, so http.Server.Shutdown waits
// for it. Its frame stays on the connection's goroutine stack for the
// connection's life, so the setup is in supervise, which has returned by
// then. (This split did not fix the idle stack growth it was first made for;
// that was Conn.Read's frame: BENCHMARKS.md, Memory.)
func (s *Server) serve(hs *http.Server, nc net.Conn, h http.Handler, sawPreface bool) {
	presizeStack(0)
	sup, p, ctx, h := s.supervise(hs, nc, h, sawPreface)
	if sup == nil {
		return
	}
	defer s.untrack(sup)
	conn := sup.Conn()
	p.cs.serve(p.t, conn, ctx, h, sawPreface)
	// The server closes the connection when it is done; make sure the
	// supervisor's end runs even if it did not (a second Close costs the
	// tap nothing). The close may be another goroutine's (the grace
	// deadline's cut), still reporting: the connection leaves the snapshot
	// only once its report is final and Metrics.ConnClosed has returned.
	conn.Close()
	<-sup.Done()
}

// supervise puts nc under a tracked supervisor, and returns it with the
// HTTP/2 server that serves it, the base context and the handler to serve
// it with; a nil Supervisor when nc was closed instead.
//
//go:noinline
func (s *Server) supervise(hs *http.Server, nc net.Conn, h http.Handler, sawPreface bool) (*lifecycle.Supervisor, *h2server, context.Context, http.Handler) {
	p, err := s.h2serverFor(hs)
	if err != nil {
		s.logf(hs, "h2lifecycle: configuring the HTTP/2 server: %v", err)
		nc.Close()
		return nil, nil, nil, nil
	}

	s.mu.Lock()
	s.nextID++
	id := s.nextID
	s.mu.Unlock()
	// No Config.GoAway: the drain's final GOAWAY is spliced in for the
	// shared HTTP/2 server (lifecycle/splice.go).
	sup, err := lifecycle.New(nc, lifecycle.Config{
		Policy:              s.cfg.Policy,
		Drain:               s.cfg.Drain,
		SawClientPreface:    sawPreface,
		ID:                  id,
		AdvertiseMaxStreams: p.advertised,
	}, s.lops...)
	if err != nil { // Wrap validated the configuration
		s.logf(hs, "h2lifecycle: %v", err)
		nc.Close()
		return nil, nil, nil, nil
	}
	s.track(sup)

	// The base of the request contexts: net/http's for the connection,
	// with ConnContext's and BaseContext's values, the user's server and
	// the local address.
	var ctx context.Context
	if bc, ok := h.(interface{ BaseContext() context.Context }); ok {
		ctx = bc.BaseContext()
	} else { // net/http always gives one; what it would hold
		ctx = context.WithValue(context.Background(), http.ServerContextKey, hs)
		ctx = context.WithValue(ctx, http.LocalAddrContextKey, nc.LocalAddr())
	}
	ctx = sup.Context(ctx) // lifecycle.DrainNotice finds the connection there
	h = sup.Handler(lifecycle.WrapStreams(h, lifecycle.StreamOptions{
		IdleTimeout:     s.cfg.Policy.StreamIdleTimeout,
		MaxDuration:     p.t.WriteTimeout,
		HoldHeaderFlush: s.cfg.HoldHeaderFlush,
	}))
	return sup, p, ctx, h
}

// handleHTTP2 returns the HTTP/2 settings of the server of hs's
// connections, and the stream limit the taps
// advertise (zero: none of theirs). The server enforces one stream more
// than clients are told: its count lags the wire by the one frame it may
// be writing off its serve loop, and a client that opens a stream the
// instant it reads another's END_STREAM would otherwise be refused
// (golang/go#42777; lifecycle's limit.go refuses real excess). A limit no
// client can reach (2^30 streams and more: stream ids have 31 bits) is left
// to the server as the user set it, as is every other setting. The
// policy's keepalive makes the server PING a silent connection and close
// it when the ACK does not come (the supervisor watches and reports it),
// unless hs.HTTP2 sets those timeouts itself.
func handleHTTP2(hs *http.Server, p idle.Policy) (*http.HTTP2Config, uint32) {
	var conf http.HTTP2Config
	if hs.HTTP2 != nil {
		conf = *hs.HTTP2
	}
	advertised := stockMaxStreams(conf.MaxConcurrentStreams)
	if advertised < maxReachableStreams {
		conf.MaxConcurrentStreams = int(advertised) + 1
	} else {
		advertised = 0
	}
	if p.KeepaliveInterval > 0 {
		if conf.SendPingTimeout == 0 {
			conf.SendPingTimeout = max(p.KeepaliveInterval, idle.MinKeepaliveInterval)
		}
		if conf.PingTimeout == 0 {
			conf.PingTimeout = p.KeepaliveTimeoutOrDefault()
		}
	}
	return &conf, advertised
}

// maxReachableStreams is the first stream limit no client can reach: client
// stream ids are the odd numbers below 2^31.
const maxReachableStreams = 1 << 30

// earliestLimit is the shorter of two optional durations (zero: none).
func earliestLimit(a, b time.Duration) time.Duration {
	if a == 0 || (b != 0 && b < a) {
		return b
	}
	return a
}

func (s *Server) track(sup *lifecycle.Supervisor) {
	s.mu.Lock()
	s.conns[sup] = struct{}{}
	draining, deadline := s.draining, s.deadline
	if draining {
		s.lateDrains++
	}
	s.mu.Unlock()
	if draining {
		// Accepted while the server drains (or before, and handed over
		// late: a slow TLS handshake or h2c preface): end it the same clean
		// way, by the same deadline.
		sup.Drain(lifecycle.ReasonShutdown, max(time.Until(deadline), time.Nanosecond))
	}
}

func (s *Server) untrack(sup *lifecycle.Supervisor) {
	s.mu.Lock()
	if s.collect != nil {
		// Final: the connection is closed. One that closed before the
		// shutdown began, and is only now let go of, is not the
		// shutdown's (its Metrics.ConnClosed may have run before).
		if r := sup.Report(); r.Timeline.Closed.IsZero() || !r.Timeline.Closed.Before(s.collect.Begin) {
			s.collect.Reports = append(s.collect.Reports, r)
		}
	}
	delete(s.conns, sup)
	if len(s.conns) == 0 && s.empty != nil {
		close(s.empty)
		s.empty = nil
	}
	s.mu.Unlock()
}

// drainAll drains every connection within grace (the configured grace when
// grace <= 0) and returns them. If shutdown is set, connections accepted
// from now on are drained at once too: the server is going away.
func (s *Server) drainAll(grace time.Duration, shutdown bool) []*lifecycle.Supervisor {
	s.mu.Lock()
	if shutdown {
		s.drainBy(grace)
	}
	sups := make([]*lifecycle.Supervisor, 0, len(s.conns))
	for sup := range s.conns {
		sups = append(sups, sup)
	}
	s.mu.Unlock()
	reason := lifecycle.ReasonRequested // Server.Drain: a rotation, the server stays
	if shutdown {
		reason = lifecycle.ReasonShutdown
	}
	for _, sup := range sups {
		sup.Drain(reason, grace)
	}
	return sups
}

// drainBy makes new connections drain at once, by now+grace (the
// configured grace when grace <= 0) or by the deadline of a drain under
// way if that comes first. Call with mu held.
func (s *Server) drainBy(grace time.Duration) {
	if grace <= 0 {
		grace = s.cfg.Drain.GraceOrDefault()
	}
	d := time.Now().Add(grace)
	if !s.draining || d.Before(s.deadline) {
		s.deadline = d
	}
	if !s.draining {
		s.lateDrains = 0
	}
	s.draining = true
}

// waitAll waits until every supervised connection is closed, or ctx is done.
func (s *Server) waitAll(ctx context.Context) error {
	s.mu.Lock()
	if len(s.conns) == 0 {
		s.mu.Unlock()
		return nil
	}
	if s.empty == nil {
		s.empty = make(chan struct{})
	}
	empty := s.empty
	s.mu.Unlock()
	select {
	case <-empty:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// graceFor is the grace of a drain bounded by ctx: its deadline when that
// comes before the configured grace.
func (s *Server) graceFor(ctx context.Context) time.Duration {
	grace := s.cfg.Drain.GraceOrDefault()
	if d, ok := ctx.Deadline(); ok {
		grace = min(grace, max(time.Until(d), time.Nanosecond))
	}
	return grace
}

// Drain drains every supervised HTTP/2 connection open now, two-phase, and
// waits until they are closed or ctx is done. Connections accepted meanwhile
// are not drained (the listener stays open: Drain rotates connections). The
// grace deadline is the configured one, or ctx's deadline if that comes
// first: streams still open then are reset. Drain returns ctx.Err() if ctx
// ends first.
func (s *Server) Drain(ctx context.Context) error {
	if !s.wrapped() {
		return ErrNotWrapped
	}
	grace := s.graceFor(ctx)
	sups := s.drainAll(grace, false)
	defer s.watchDrain(len(sups), time.Now().Add(grace))()
	for _, sup := range sups {
		select {
		case <-sup.Done():
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return deadlineErr(ctx)
}

// Shutdown shuts the http.Server down gracefully (http.Server.Shutdown:
// listeners close, idle HTTP/1.1 connections close) and drains every HTTP/2
// connection two-phase, including any accepted in the meantime, bounded like
// [Server.Drain] by ctx's deadline. It returns once every connection is
// closed (when the last one closes, not at http.Server.Shutdown's next
// poll, which can come 500 ms later), or ctx.Err() if ctx ends first.
func (s *Server) Shutdown(ctx context.Context) error {
	if !s.wrapped() {
		return ErrNotWrapped
	}
	grace := s.graceFor(ctx)
	sups := s.drainAll(grace, true)
	defer s.watchDrain(len(sups), time.Now().Add(grace))()
	if err := s.shutdownHTTP(ctx); err != nil {
		return err
	}
	if err := s.waitAll(ctx); err != nil {
		return err
	}
	// Connections cut at ctx's deadline may have closed just in time: the
	// deadline won all the same.
	return deadlineErr(ctx)
}

// deadlineErr is ctx.Err(), and the deadline's error as soon as the
// deadline has passed, before ctx's own timer has run: connections cut by
// the deadline's grace can close in the same instant.
func deadlineErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return nil
}

// Close closes the http.Server's listeners and every connection at once
// (http.Server.Close), cutting the streams in flight, and returns when the
// HTTP/2 server has let go of every supervised connection. Handlers may
// still be returning: their contexts are cancelled.
func (s *Server) Close() error {
	if !s.wrapped() {
		return ErrNotWrapped
	}
	err := s.hs.Close()
	s.mu.Lock()
	sups := make([]*lifecycle.Supervisor, 0, len(s.conns))
	for sup := range s.conns {
		sups = append(sups, sup)
	}
	s.mu.Unlock()
	for _, sup := range sups {
		sup.Close()
	}
	s.waitAll(context.Background())
	return err
}

// Snapshot returns the live state of every supervised connection, by id.
func (s *Server) Snapshot() []lifecycle.Snapshot {
	if !s.wrapped() {
		return nil
	}
	s.mu.Lock()
	sups := make([]*lifecycle.Supervisor, 0, len(s.conns))
	for sup := range s.conns {
		sups = append(sups, sup)
	}
	s.mu.Unlock()
	snaps := make([]lifecycle.Snapshot, len(sups))
	for i, sup := range sups {
		snaps[i] = sup.Snapshot()
	}
	slices.SortFunc(snaps, func(a, b lifecycle.Snapshot) int { return int(a.ID - b.ID) })
	return snaps
}
