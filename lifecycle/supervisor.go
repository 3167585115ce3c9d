package lifecycle

import (
	"crypto/tls"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/benbjohnson/clock"
	"go.uber.org/zap"

	"github.com/h2lifecycle/h2lifecycle/drain"
	"github.com/h2lifecycle/h2lifecycle/idle"
	"github.com/h2lifecycle/h2lifecycle/internal/frame"
	"github.com/h2lifecycle/h2lifecycle/ping"
)

// Config describes one connection to supervise.
type Config struct {
	Policy idle.Policy
	Drain  drain.Config

	// GoAway makes the HTTP/2 server serving the connection send GOAWAY with
	// the last stream it processed and refuse the streams above it: the
	// second phase of the drain. It must not block. Required.
	GoAway func()

	// SawClientPreface says the client preface was consumed before the
	// connection reached the supervisor (net/http's h2c prior-knowledge
	// path). It must match http2.ServeConnOpts.SawClientPreface.
	SawClientPreface bool

	// Upgraded says the connection came from an h2c Upgrade: stream 1 is the
	// upgrade request, open without a HEADERS frame.
	Upgraded bool

	// ID identifies the connection in logs, snapshots and reports.
	ID uint64

	// AdvertiseMaxStreams, when set, replaces the
	// SETTINGS_MAX_CONCURRENT_STREAMS of the server's first SETTINGS frame:
	// configure the server to enforce one more than this (see Conn.advertise).
	AdvertiseMaxStreams uint32
}

// ErrNoGoAway is returned by New when Config.GoAway is nil.
var ErrNoGoAway = errors.New("lifecycle: Config.GoAway is required")

// Validate reports the first setting that is out of range.
func (c Config) Validate() error {
	if c.GoAway == nil {
		return ErrNoGoAway
	}
	return settings{c.Policy, c.Drain}.validate()
}

// Supervisor owns the life of one HTTP/2 connection: it watches the frames
// through its [Conn], enforces the policy, and ends the connection with the
// two-phase drain. One mutex owns its state; timers and the tap post events
// under it, and actions that may block run outside it.
type Supervisor struct {
	// Set by New, then read-only.
	conn      Conn
	set       *settings // shared with the server's other connections
	goAway    func()    // Config.GoAway
	id        uint64    // Config.ID
	advertise uint32    // Config.AdvertiseMaxStreams
	log       *zap.Logger
	metrics   Metrics
	clock     clock.Clock
	created   time.Time
	ageAt     time.Time // MaxConnectionAge, with jitter; zero if none

	mu           sync.Mutex
	dr           *drainState    // nil until the connection starts ending (or measures a round trip)
	enforcer     *ping.Enforcer // nil without ping enforcement; set by New
	serverPing   [8]byte        // the HTTP/2 server's outstanding keepalive PING
	serverPingAt time.Time      // zero if none is outstanding
	streams      streamSet
	panicked     []uint32 // streams whose handler panicked, their reset not yet written
	idleSince    time.Time
	goAwayLast   uint32 // last-stream-id of the server's GOAWAY
	peerMax      uint32 // highest client stream id processed
	opened       uint64
	completed    uint64
	reset        uint64

	timer         *clock.Timer
	timerAt       time.Duration // when the timer fires, from created; zero when it is not armed
	headerCheckAt time.Duration // the next periodic HeaderTimeout check, from created; zero if none
	done          chan struct{} // Done's, made on first use
	report        *Report       // the final report, once closed (kept out of line: most of a connection's life has none)

	// Set by New, then read-only (with the bools below, to pack them).
	headerTimeout   bool // Policy.HeaderTimeout is set: the tap follows header blocks
	cancelDeadlines bool // Handler installed with per-stream limits: deadline resets go out as CANCEL (deadlines.go)

	// Under mu.
	keepResetCodes bool // a panic could not be placed: deadline resets stay INTERNAL_ERROR
	serverIdle     bool // the server's own view (http.ConnState)
	busy           bool // streams open, as last told to seq
	goneAway       bool
	aborted        bool // ended by an error GOAWAY (ours or the server's), not a drain
	closed         bool
}

// New supervises nc. Serve the connection returned by [Supervisor.Conn],
// never nc itself.
func New(nc net.Conn, cfg Config, opts ...Option) (*Supervisor, error) {
	if cfg.GoAway == nil {
		return nil, ErrNoGoAway
	}
	set, err := intern(settings{cfg.Policy, cfg.Drain})
	if err != nil {
		return nil, err
	}
	o := buildOptions(opts)
	s := &Supervisor{
		set:        set,
		goAway:     cfg.GoAway,
		id:         cfg.ID,
		advertise:  cfg.AdvertiseMaxStreams,
		log:        o.log,
		metrics:    o.metrics,
		clock:      o.clock,
		serverIdle: true,
	}
	s.created = s.clock.Now()
	s.idleSince = s.created
	s.conn = Conn{Conn: nc, s: s}
	if !cfg.SawClientPreface {
		s.conn.in.ExpectPreface()
	}
	if cfg.Upgraded {
		// RFC 9113 §3.1 (RFC 7540 §3.2): the upgrade request is stream 1,
		// half-closed from the client; it never appears as HEADERS.
		s.conn.inMax, s.peerMax = 1, 1
		s.streams.add(1)
		s.opened = 1
	}
	s.headerTimeout = cfg.Policy.HeaderTimeout > 0
	if e := cfg.Policy.Enforcer(); e.Enabled() {
		s.enforcer = &e
	}
	if age := cfg.Policy.MaxConnectionAge; age > 0 {
		// ±10% jitter spreads the reconnects of connections made together.
		jitter := time.Duration(rand.Int64N(int64(age)/5+1)) - age/10
		s.ageAt = s.created.Add(age + jitter)
	}
	s.mu.Lock()
	s.updateBusy(s.created)
	s.rearm(s.created)
	s.mu.Unlock()
	if s.metrics != nil {
		s.metrics.ConnOpened()
	}
	return s, nil
}

// settings are the parts of Config that the connections of a server share.
type settings struct {
	Policy idle.Policy
	Drain  drain.Config
}

func (v settings) validate() error {
	if err := v.Policy.Validate(); err != nil {
		return err
	}
	return v.Drain.Validate()
}

// interned holds one copy of each settings value seen, so that 10,000
// connections of a server point to one (bench/memory). It keeps at most
// maxInterned values, for the life of the process; past that, a
// supervisor gets a copy of its own.
var interned struct {
	sync.Mutex
	m map[settings]*settings
}

const maxInterned = 32

// intern returns the shared copy of v, validating v the first time it is
// seen: a server's connections check their settings once.
func intern(v settings) (*settings, error) {
	interned.Lock()
	p, ok := interned.m[v]
	interned.Unlock()
	if ok {
		return p, nil
	}
	if err := v.validate(); err != nil {
		return nil, err
	}
	p = &v
	interned.Lock()
	defer interned.Unlock()
	if q, ok := interned.m[v]; ok {
		return q, nil // interned meanwhile
	}
	if len(interned.m) < maxInterned {
		if interned.m == nil {
			interned.m = make(map[settings]*settings)
		}
		interned.m[v] = p
	}
	return p, nil
}

// drainState is what a connection needs once it starts ending: the drain
// sequence and our PINGs' bookkeeping (also fed by the server's keepalive
// PINGs, so a connection with keepalive makes it at its first ACK).
// Allocated then, it costs nothing to the many connections that spend most
// of their life idle without keepalive.
type drainState struct {
	seq        drain.Sequence
	pings      ping.Tracker
	reason     string  // why the connection is ending
	noticePing [8]byte // opaque data of the drain's PING
	rtt        time.Duration

	deferred    bool // a drain waits for the first stream (drain.Config.FirstStreamWait)
	deferReason string
	deferUntil  time.Time // when the deferred drain starts anyway
	deferGrace  time.Time // its grace deadline, counted from the request
}

// drainState returns the connection's drain state, allocating it with the
// default timing, the current busy level, and closed if the connection is.
// Call with mu held.
func (s *Supervisor) drainState() *drainState {
	if s.dr == nil {
		s.dr = &drainState{}
		s.dr.seq.Timing = s.set.Drain.Timing(nil)
		if s.busy {
			s.dr.seq.Handle(drain.StreamsOpen, time.Time{}) // a level: no actions, no time
		}
		if s.closed { // late events after a close without a drain: nothing starts
			s.dr.seq.Handle(drain.ConnGone, time.Time{})
		}
	}
	return s.dr
}

// phase is the drain phase: Active until the connection starts ending.
// Call with mu held.
func (s *Supervisor) phase() drain.Phase {
	if s.dr == nil {
		if s.closed {
			return drain.Closed
		}
		return drain.Active
	}
	return s.dr.seq.Phase()
}

// Conn returns the connection to hand to the HTTP/2 server.
func (s *Supervisor) Conn() net.Conn {
	if _, ok := s.conn.Conn.(interface{ ConnectionState() tls.ConnectionState }); ok {
		return tlsConn{&s.conn}
	}
	return &s.conn
}

// Done is closed when the connection is closed.
// It is made on first use: most connections are never waited for.
func (s *Supervisor) Done() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done == nil {
		s.done = make(chan struct{})
	}
	return s.done
}

// closedChan is Done's channel for a connection that was done before anyone
// asked.
var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// remote is the peer's address, for logs and reports; not kept, as the
// connection has it.
func (s *Supervisor) remote() string {
	if ra := s.conn.Conn.RemoteAddr(); ra != nil {
		return ra.String()
	}
	return ""
}

// ConnState feeds the HTTP/2 server's own view of the connection: call it
// from the http.Server.ConnState hook of the server that serves it
// (StateActive when a stream opens on an idle connection, StateIdle when the
// last one closes). Idleness is judged on it (DESIGN rule 8).
func (s *Supervisor) ConnState(st http.ConnState) {
	var act drain.Action
	s.mu.Lock()
	switch st {
	case http.StateActive:
		s.serverIdle = false
		act = s.updateBusy(time.Time{}) // busy only drops deadlines: no timer change
	case http.StateIdle:
		if s.serverIdle {
			break
		}
		s.serverIdle = true
		var now time.Time
		if s.set.Policy.IdleTimeout > 0 {
			now = s.clock.Now() // the only clock read per request, with an idle timeout
			s.idleSince = now
		}
		act = s.updateBusy(now)
		s.rearm(now)
	}
	s.mu.Unlock()
	s.run(act)
}

// Drain starts the two-phase drain for reason (a fixed, greppable string;
// see package idle); it must end within grace (the configured grace when
// grace <= 0). It returns at once; Done says when the connection is gone. A
// second Drain only brings the deadline forward.
func (s *Supervisor) Drain(reason string, grace time.Duration) {
	s.mu.Lock()
	act := s.startDrain(s.clock.Now(), reason, grace)
	s.mu.Unlock()
	s.run(act)
}

// Close closes the connection at once, cutting the streams still open.
func (s *Supervisor) Close() error {
	s.mu.Lock()
	act := s.drainState().seq.Handle(drain.CloseNow, s.clock.Now())
	s.mu.Unlock()
	s.run(act)
	return nil
}

// startDrain starts (or tightens) a drain. A connection that has carried no
// stream and is younger than FirstStreamWait waits for its first stream
// first: its client is about to send it. Call with mu held.
func (s *Supervisor) startDrain(now time.Time, reason string, grace time.Duration) drain.Action {
	if grace <= 0 {
		grace = s.set.Drain.GraceOrDefault()
	}
	if s.phase() == drain.Active && s.opened == 0 {
		if until := s.created.Add(s.set.Drain.FirstStreamWaitOrDefault()); now.Before(until) {
			dr := s.drainState()
			if d := now.Add(grace); !dr.deferred || d.Before(dr.deferGrace) {
				dr.deferGrace = d
			}
			if !dr.deferred {
				dr.deferred, dr.deferReason, dr.deferUntil = true, reason, until
			}
			s.rearm(now)
			return 0
		}
	}
	d := s.drainState()
	if d.seq.Phase() == drain.Active {
		d.reason = reason
		d.seq.Timing = s.set.Drain.Timing(d.pings.Timeout)
	}
	act := d.seq.Start(now, grace)
	if act&drain.InjectNotice != 0 {
		d.noticePing = d.pings.Next(now)
	}
	s.rearm(now)
	return act
}

// startDeferred starts the drain that waited for the first stream. Call with
// mu held.
func (s *Supervisor) startDeferred(now time.Time) drain.Action {
	dr := s.dr
	if dr == nil || !dr.deferred {
		return 0
	}
	dr.deferred = false
	if s.phase() != drain.Active {
		return 0 // the connection started ending by other means
	}
	return s.startDrain(now, dr.deferReason, max(dr.deferGrace.Sub(now), time.Nanosecond))
}

// run carries out actions outside the lock. Actions that may block on the
// network run on their own goroutine; they happen once per connection.
func (s *Supervisor) run(act drain.Action) {
	if act == 0 {
		return
	}
	s.mu.Lock()
	var reason string
	var data [8]byte
	if s.dr != nil {
		reason, data = s.dr.reason, s.dr.noticePing
	}
	var cut []uint32
	if act&drain.ResetStreams != 0 {
		cut = s.streams.snapshot()
	}
	s.mu.Unlock()
	if act&drain.InjectNotice != 0 {
		s.debug("http2 drain: GOAWAY(2147483647) and PING queued", zap.String("reason", reason))
		notice := frame.AppendGoAway(make([]byte, 0, 2*frame.HeaderLen+16+len(reason)), frame.MaxStreamID, frame.ErrCodeNo, reason)
		notice = frame.AppendPing(notice, false, data)
		s.conn.postNotice(notice)
	}
	if act&drain.FinalGoAway != 0 {
		s.debug("http2 drain: final GOAWAY requested", zap.String("reason", reason))
		s.goAway()
	}
	if act&drain.HalfClose != 0 {
		s.debug("http2 connection: FIN after the last GOAWAY", zap.String("reason", reason))
		s.conn.postShut()
	}
	switch {
	case act&drain.ResetStreams != 0:
		s.debug("http2 drain: grace deadline; resetting the streams left and closing", zap.Int("streams", len(cut)))
		go s.conn.resetAndClose(cut)
	case act&drain.CloseConn != 0:
		s.conn.closeRaw()
	}
}

// streamOpened notes a stream the peer (or a server push) opened.
func (s *Supervisor) streamOpened(id uint32) drain.Action {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.goneAway && id%2 == 1 && id > s.goAwayLast {
		return 0 // RFC 9113 §6.8: ignored by the server, never processed
	}
	s.streams.add(id)
	s.opened++
	if id%2 == 1 && id > s.peerMax {
		s.peerMax = id
	}
	act := s.updateBusy(time.Time{})
	draining := s.dr != nil && s.dr.seq.Draining()
	deferred := s.dr != nil && s.dr.deferred
	if !deferred && !draining && s.set.Policy.MaxStreamsPerConnection == 0 {
		return act // the common case reads no clock
	}
	now := s.clock.Now()
	if deferred {
		act |= s.startDeferred(now) // the stream is served: it opened before the notice
	}
	if draining {
		act |= s.dr.seq.Handle(drain.StreamOpened, now)
		s.rearm(now)
	}
	if max := s.set.Policy.MaxStreamsPerConnection; max > 0 && s.opened == uint64(max) && s.phase() == drain.Active {
		act |= s.startDrain(now, idle.ReasonMaxStreams, 0)
	}
	return act
}

// streamEnded notes a stream that ended on the wire: the server's
// END_STREAM (completed) or a RST_STREAM either way.
func (s *Supervisor) streamEnded(id uint32, completed bool) drain.Action {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.endStream(id, completed)
}

// endStream is streamEnded with mu held.
func (s *Supervisor) endStream(id uint32, completed bool) drain.Action {
	if !s.streams.remove(id) {
		return 0
	}
	if len(s.panicked) > 0 {
		s.forgetPanic(id)
	}
	if completed {
		s.completed++
	} else {
		s.reset++
	}
	if s.streams.len() > 0 {
		return 0
	}
	return s.updateBusy(time.Time{})
}

// pingAcked notes the ACK of one of our PINGs.
func (s *Supervisor) pingAcked(data [8]byte) drain.Action {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	if s.dr == nil {
		return 0 // none of ours is outstanding
	}
	rtt, ok := s.dr.pings.Ack(data, now)
	if !ok {
		return 0
	}
	s.dr.rtt = rtt
	var act drain.Action
	if data == s.dr.noticePing {
		act = s.dr.seq.Handle(drain.PingAcked, now)
		s.rearm(now)
	}
	return act
}

// noticeWritten notes that GOAWAY(2^31-1)+PING reached the socket.
func (s *Supervisor) noticeWritten() drain.Action {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	act := s.drainState().seq.Handle(drain.NoticeWritten, now)
	s.rearm(now)
	return act
}

// serverGoAway notes a GOAWAY the server wrote.
func (s *Supervisor) serverGoAway(last uint32, code frame.ErrCode) drain.Action {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	if code != frame.ErrCodeNo {
		s.aborted = true
		// x/net names the stream of the offending frame in an error GOAWAY,
		// processed or not; it serves nothing more either way.
		last = min(last, s.peerMax)
	}
	if !s.goneAway || last < s.goAwayLast {
		s.goAwayLast = last
	}
	s.goneAway = true
	// Streams above last were read before the server decided on it and are
	// ignored by it (RFC 9113 §6.8): they will never end on the wire.
	s.streams.dropAbove(last)
	ev := drain.ServerGoAway
	reason := idle.ReasonServer
	if code != frame.ErrCodeNo {
		ev, reason = drain.ServerError, idle.ReasonError
		s.log.Warn("http2 server sent GOAWAY with an error",
			zap.Uint64("conn", s.id), zap.String("remote", s.remote()),
			zap.Uint32("last_stream_id", last), zap.Uint32("code", uint32(code)))
	}
	dr := s.drainState()
	if dr.reason == "" {
		dr.reason = reason
	}
	act := s.updateBusy(now)
	act |= dr.seq.Handle(ev, now)
	s.rearm(now)
	return act
}

// peerGoAway notes a GOAWAY from the peer.
func (s *Supervisor) peerGoAway() drain.Action {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	d := s.drainState()
	if d.seq.Phase() == drain.Active {
		d.reason = idle.ReasonPeer
		d.seq.Timing = s.set.Drain.Timing(d.pings.Timeout)
	}
	act := d.seq.Handle(drain.PeerGoAway, now)
	s.rearm(now)
	return act
}

// updateBusy tells the sequence when the connection goes from idle to busy
// and back. Busy means a stream is open on the wire or in the server's own
// view: a drain ends only when both agree that nothing is left. now may be
// zero: the clock is read only if a drain is under way, which the
// transition may move on. Call with mu held.
func (s *Supervisor) updateBusy(now time.Time) drain.Action {
	busy := s.streams.len() > 0 || !s.serverIdle
	if busy == s.busy {
		return 0
	}
	s.busy = busy
	ev := drain.StreamsIdle
	if busy {
		ev = drain.StreamsOpen
	}
	if s.dr == nil || s.dr.seq.Phase() == drain.Active {
		if s.dr != nil {
			s.dr.seq.Handle(ev, now) // only a level to remember: no actions, no time
		}
		if !busy {
			// The idle deadline exists from now on, whichever signal came
			// last: the server's idle state or the end on the wire.
			s.rearm(now)
		}
		return 0
	}
	if now.IsZero() {
		now = s.clock.Now()
	}
	act := s.dr.seq.Handle(ev, now)
	if act != 0 {
		s.rearm(now)
	}
	return act
}

// rearm makes sure the timer fires no later than the earliest deadline. A
// timer that fires early finds nothing due and re-arms itself, so the busy
// path never resets it. now may be zero: the clock is read only to arm the
// timer. Call with mu held.
func (s *Supervisor) rearm(now time.Time) {
	if s.closed {
		return
	}
	var at time.Time
	if s.dr != nil {
		at = s.dr.seq.Deadline()
	}
	if d, ok := s.idleDeadline(); ok && (at.IsZero() || d.Before(at)) {
		at = d
	}
	if s.dr != nil && s.dr.deferred && (at.IsZero() || s.dr.deferUntil.Before(at)) {
		at = s.dr.deferUntil
	}
	if !s.ageAt.IsZero() && s.phase() == drain.Active && (at.IsZero() || s.ageAt.Before(at)) {
		at = s.ageAt
	}
	if d, ok := s.headerDeadline(); ok && (at.IsZero() || d.Before(at)) {
		at = d
	}
	if s.headerTimeout && s.phase() < drain.Closing {
		// A header block that starts later is due no sooner than a
		// timeout from now: check once per timeout.
		if s.headerCheckAt == 0 {
			if now.IsZero() {
				now = s.clock.Now()
			}
			s.headerCheckAt = now.Add(s.set.Policy.HeaderTimeout).Sub(s.created)
		}
		if check := s.created.Add(s.headerCheckAt); at.IsZero() || check.Before(at) {
			at = check
		}
	}
	if at.IsZero() || (s.timerAt != 0 && !at.Before(s.created.Add(s.timerAt))) {
		return
	}
	if now.IsZero() {
		now = s.clock.Now()
	}
	s.timerAt = max(at.Sub(s.created), 1) // never zero: armed
	d := max(at.Sub(now), 0)
	if s.timer == nil {
		s.timer = s.clock.AfterFunc(d, s.onTimer)
		return
	}
	s.timer.Reset(d)
}

// clientSpoke notes the client's first SETTINGS: a connection is new, not
// idle, until its client has spoken; its idle time starts now. (A client can
// be slow to send its preface after the TLS handshake; draining it then
// makes it abandon the request it opened the connection for.)
func (s *Supervisor) clientSpoke() drain.Action {
	if s.set.Policy.IdleTimeout <= 0 {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.busy {
		s.idleSince = s.clock.Now()
		s.rearm(s.idleSince)
	}
	return 0
}

// idleDeadline returns when the idle timeout drains the connection, if it
// can: not before the client has spoken. Call with mu held.
func (s *Supervisor) idleDeadline() (time.Time, bool) {
	t := s.set.Policy.IdleTimeout
	if t <= 0 || s.busy || s.phase() != drain.Active || !s.conn.settingsSeen.Load() {
		return time.Time{}, false
	}
	return s.idleSince.Add(t), true
}

func (s *Supervisor) onTimer() {
	s.mu.Lock()
	now := s.clock.Now()
	s.timerAt = 0
	if s.headerCheckAt != 0 && !now.Before(s.created.Add(s.headerCheckAt)) {
		s.headerCheckAt = 0
	}
	var act drain.Action
	if s.dr != nil {
		act = s.dr.seq.Tick(now)
	}
	if s.dr != nil && s.dr.deferred && !now.Before(s.dr.deferUntil) {
		act |= s.startDeferred(now)
	}
	if d, ok := s.idleDeadline(); ok && !now.Before(d) {
		act |= s.startDrain(now, idle.ReasonIdle, 0)
	}
	if !s.ageAt.IsZero() && !now.Before(s.ageAt) && s.phase() == drain.Active {
		act |= s.startDrain(now, idle.ReasonMaxAge, s.set.Policy.MaxConnectionAgeGrace)
	}
	if d, ok := s.headerDeadline(); ok && !now.Before(d) {
		act |= s.headerTimedOut(now)
	}
	s.rearm(now)
	s.mu.Unlock()
	s.run(act)
}

// connGone runs once, when the connection is closed.
func (s *Supervisor) connGone() {
	s.mu.Lock()
	now := s.clock.Now()
	if s.dr != nil {
		s.dr.seq.Handle(drain.ConnGone, now)
	}
	s.closed = true
	if s.timer != nil {
		s.timer.Stop()
	}
	r := s.buildReport(now)
	if r.Reason == "" && !s.serverPingAt.IsZero() && now.Sub(s.serverPingAt) >= s.set.Policy.KeepaliveTimeoutOrDefault() {
		// The HTTP/2 server closes a connection whose keepalive PING went
		// unanswered for its PingTimeout.
		r.Reason = idle.ReasonKeepaliveTimeout
	}
	if r.Reason == "" {
		r.Reason = idle.ReasonClosed
	}
	if s.dr == nil {
		r.Timeline.Closed = now // the sequence, had it existed, would say so
	}
	s.report = &r
	s.mu.Unlock()
	s.logReport(&r)
	if s.metrics != nil {
		s.metrics.ConnClosed(&r)
	}
	s.mu.Lock()
	if s.done != nil {
		close(s.done)
	} else {
		s.done = closedChan
	}
	s.mu.Unlock()
}
