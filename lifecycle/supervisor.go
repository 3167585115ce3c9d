package lifecycle

import (
	"crypto/tls"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/h2lifecycle/h2lifecycle/drain"
	"github.com/h2lifecycle/h2lifecycle/idle"
	"github.com/h2lifecycle/h2lifecycle/internal/frame"
	"github.com/h2lifecycle/h2lifecycle/ping"
)

// Config describes one connection to supervise.
type Config struct {
	Policy idle.Policy
	Drain  drain.Config

	// GoAway, if set, makes the HTTP/2 server serving the connection send
	// GOAWAY with the last stream it processed and refuse the streams above
	// it: the second phase of the drain. It must not block. Without it (the
	// usual way), the tap gives the server a client GOAWAY between two of
	// the client's frames, on which x/net's and net/http's servers do the
	// same for this connection alone (splice.go): the connection can be
	// served by an HTTP/2 server shared with others.
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
	// SETTINGS_MAX_CONCURRENT_STREAMS of the server's first SETTINGS frame,
	// and the tap refuses streams opened over it: configure the server to
	// enforce one more than this (see limit.go). Zero: no limit of the
	// tap's; values of 2^30 and more, which no client can reach (stream ids
	// have 31 bits), likewise.
	AdvertiseMaxStreams uint32
}

// Validate reports the first setting that is out of range.
func (c Config) Validate() error {
	return settings{c.Policy, c.Drain}.validate()
}

// maxReachableStreams is the first stream limit no client can reach: client
// stream ids are the odd numbers below 2^31.
const maxReachableStreams = 1 << 30

// Supervisor owns the life of one HTTP/2 connection: it hears what its tap
// sees on the wire (events.go), keeps the connection's policy deadlines
// (idle.Clock) and drain (drain.Sequence), and ends the connection with the
// two-phase drain. One mutex owns its state; timers and the tap post
// events under it, and actions that may block run outside it.
type Supervisor struct {
	// Set by New, then read-only.
	conn    conn
	set     *settings // shared with the server's other connections
	goAway  func()    // Config.GoAway; nil: the splice (splice.go)
	id      uint64    // Config.ID
	options           // log, clock, metrics
	created time.Time

	mu           sync.Mutex
	policy       idle.Clock
	dr           *drainState    // nil until the connection starts ending (or measures a round trip)
	enforcer     *ping.Enforcer // nil without ping enforcement; set by New
	serverPing   [8]byte        // the HTTP/2 server's outstanding keepalive PING
	serverPingAt time.Duration  // when it was sent, from created; meaningful while serverPingOut
	streams      streamSet
	marks        *streamMarks // streams whose reset code is special (resetcodes.go); nil if none
	goAwayLast   uint32       // the lowest last-stream-id of the server's GOAWAYs; MaxStreamID before the first
	peerMax      uint32       // highest client stream id processed
	blockStream  uint32       // the stream of the incomplete header block (HeaderTimeout)
	refused      uint32
	opened       uint64
	completed    uint64
	reset        uint64

	timer   *clock.Timer
	timerAt time.Duration // when the timer fires, from created; zero when it is not armed
	done    chan struct{} // Done's, made on first use
	notice  chan struct{} // DrainNotice's, made on first use (notice.go)
	report  *Report       // the final report, once closed (out of line: most of a connection's life has none)

	keepResetCodes bool // a panic could not be placed: deadline resets stay INTERNAL_ERROR
	serverIdle     bool // the server's own view (http.ConnState)
	busy           bool // streams open, as last told to the sequence and the clock
	aborted        bool // ended by an error GOAWAY (ours or the server's), not a drain
	cutIn          bool // ended by an error GOAWAY of ours: the tap gives the server nothing more
	closed         bool
	serverPingOut  bool  // the server's keepalive PING is outstanding (serverPing, serverPingAt)
	state          State // as last reported to LiveMetrics
	remoteLater    bool  // the final report's Remote is filled in by Report (nobody saw it at the close)

	// Set by Handler before the connection is served, then read-only; last,
	// beside the bools above, so that it costs no padding.
	cancelDeadlines bool // Handler is installed with per-stream limits: deadline resets go out as CANCEL
}

// New supervises nc. Serve the connection returned by [Supervisor.Conn],
// never nc itself.
func New(nc net.Conn, cfg Config, opts ...Option) (*Supervisor, error) {
	set, err := intern(settings{cfg.Policy, cfg.Drain})
	if err != nil {
		return nil, err
	}
	s := &Supervisor{
		set:        set,
		goAway:     cfg.GoAway,
		id:         cfg.ID,
		serverIdle: true,
		goAwayLast: frame.MaxStreamID,
	}
	buildOptions(&s.options, opts)
	s.created = s.clock.Now()
	limit := cfg.AdvertiseMaxStreams
	if limit >= maxReachableStreams {
		limit = 0
	}
	p := &set.Policy
	s.conn.init(nc, s, tapConfig{
		sawPreface: cfg.SawClientPreface,
		upgraded:   cfg.Upgraded,
		advertise:  limit,
		blocks:     p.HeaderTimeout > 0,
		pings:      p.PingMinInterval > 0,
	})
	s.policy = idle.NewClock(p, idle.AgeJitter(p.MaxConnectionAge, rand.Int64N))
	if cfg.SawClientPreface {
		s.policy.PrefaceDone(0)
	}
	if cfg.Upgraded {
		// RFC 9113 §3.1 (RFC 7540 §3.2): the upgrade request is stream 1,
		// half-closed from the client; it never appears as HEADERS.
		s.peerMax = 1
		s.streams.add(1, true)
		s.opened = 1
	}
	if e := p.Enforcer(); e.Enabled() {
		s.enforcer = new(ping.Enforcer) // not &e: e would be on the heap even when disabled (64 B)
		*s.enforcer = e
	}
	s.mu.Lock()
	s.updateBusy(0)
	s.rearm(0)
	s.mu.Unlock()
	if s.metrics != nil {
		s.metrics.conn.ConnOpened()
		if cfg.Upgraded {
			s.mu.Lock()
			s.liveOpened()
			s.mu.Unlock()
		}
	}
	return s, nil
}

// Conn returns the connection to hand to the HTTP/2 server.
func (s *Supervisor) Conn() net.Conn {
	if _, ok := s.conn.nc.(interface{ ConnectionState() tls.ConnectionState }); ok {
		return tlsConn{&s.conn}
	}
	return &s.conn
}

// Of returns the supervisor of c, a connection returned by
// [Supervisor.Conn], or nil for any other connection. An HTTP/2 server
// that serves many supervised connections hands its hooks (ConnState) the
// connection it serves: Of finds the supervisor from it.
func Of(c net.Conn) *Supervisor {
	switch c := c.(type) {
	case *conn:
		return c.own
	case tlsConn:
		return c.own
	}
	return nil
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
	if ra := s.conn.nc.RemoteAddr(); ra != nil {
		return ra.String()
	}
	return ""
}

// since is the time since the connection began: the offsets of the policy
// clock.
func (s *Supervisor) since() time.Duration { return s.clock.Since(s.created) }

// ConnState feeds the HTTP/2 server's own view of the connection: call it
// from the http.Server.ConnState hook of the server that serves it
// (StateActive when a stream opens on an idle connection, StateIdle when the
// last one closes). Idleness is judged on it (DESIGN.md, rule 8).
func (s *Supervisor) ConnState(st http.ConnState) {
	var act drain.Action
	s.mu.Lock()
	switch st {
	case http.StateActive:
		s.serverIdle = false
		act = s.updateBusy(-1) // busy only drops deadlines: no timer change
	case http.StateIdle:
		if s.serverIdle {
			break
		}
		s.serverIdle = true
		act = s.updateBusy(-1)
	}
	s.mu.Unlock()
	s.run(act)
}

// Drain starts the two-phase drain for reason; it must end within grace
// (the configured grace when grace <= 0). It returns at once; Done says when
// the connection is gone. A second Drain only brings the deadline forward.
func (s *Supervisor) Drain(reason Reason, grace time.Duration) {
	s.mu.Lock()
	act := s.startDrain(s.since(), reason, grace, true)
	s.mu.Unlock()
	s.run(act)
}

// Close closes the connection at once, cutting the streams still open.
func (s *Supervisor) Close() {
	s.mu.Lock()
	act := s.drainState().seq.Handle(drain.CloseNow, s.clock.Now())
	s.mu.Unlock()
	s.run(act)
}
