package lifecycle

import (
	"encoding/json"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/h2lifecycle/h2lifecycle/drain"
)

// Snapshot is the live state of a supervised connection. Its JSON form
// (for operators' debug endpoints) writes durations in Go syntax ("1.5s").
type Snapshot struct {
	ID            uint64
	Remote        string
	State         string // active, draining(notice), draining(final), closing, closed
	Reason        Reason // why it is ending, once it is
	Age           time.Duration
	OpenStreams   int
	StreamsOpened uint64
	LastStreamID  uint32 // highest client stream id processed
	RTT           time.Duration
}

// MarshalJSON writes the snapshot with snake_case keys and readable
// durations.
func (s Snapshot) MarshalJSON() ([]byte, error) {
	type view struct {
		ID            uint64 `json:"id"`
		Remote        string `json:"remote"`
		State         string `json:"state"`
		Reason        Reason `json:"reason,omitempty"`
		Age           string `json:"age"`
		OpenStreams   int    `json:"open_streams"`
		StreamsOpened uint64 `json:"streams_opened"`
		LastStreamID  uint32 `json:"last_stream_id"`
		RTT           string `json:"rtt,omitempty"`
	}
	v := view{s.ID, s.Remote, s.State, s.Reason, s.Age.Round(time.Millisecond).String(),
		s.OpenStreams, s.StreamsOpened, s.LastStreamID, ""}
	if s.RTT > 0 {
		v.RTT = s.RTT.String()
	}
	return json.Marshal(v)
}

// Snapshot returns the connection's live state.
func (s *Supervisor) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Snapshot{
		ID:            s.id,
		Remote:        s.remote(),
		State:         s.phase().String(),
		Reason:        s.why(),
		Age:           s.clock.Since(s.created),
		OpenStreams:   s.streams.len(),
		StreamsOpened: s.opened,
		LastStreamID:  s.lastStreamID(),
		RTT:           s.lastRTT(),
	}
}

// lastStreamID is the last client stream the server processed: the id of
// its GOAWAY once sent, else the highest opened. Call with mu held.
func (s *Supervisor) lastStreamID() uint32 {
	return min(s.peerMax, s.goAwayLast)
}

// Report is what happened to a connection, final once it is closed.
type Report struct {
	ID     uint64
	Remote string
	// Reason is why the connection ended: a drain reason ("idle",
	// "shutdown", ...), "peer_goaway", "server_goaway", "protocol_error",
	// or "peer_closed" when the peer closed it without a drain.
	Reason Reason
	// Drained says the connection ended with a drain: ours, or the server's
	// own graceful GOAWAY. A connection the client ended with its own
	// GOAWAY (peer_goaway) is a client close, not a drain, even though its
	// streams were given the grace. Aborted says it ended with an error
	// GOAWAY (protocol_error, too_many_pings, header_timeout): no drain.
	Drained      bool
	Aborted      bool
	Timeline     drain.Timeline
	PingTimedOut bool // the final GOAWAY went out at the ping timeout
	GraceExpired bool // the grace deadline cut streams
	RTT          time.Duration
	LastStreamID uint32
	Age          time.Duration

	StreamsOpened    uint64   // streams the server processed
	StreamsRefused   uint64   // streams refused over the advertised stream limit (no handler ran)
	StreamsCompleted uint64   // ended by the server's END_STREAM
	StreamsReset     uint64   // ended by RST_STREAM, either way
	StreamsCut       []uint32 // still open when the connection closed
}

// Report returns the connection's report; it is final once Done is closed.
func (s *Supervisor) Report() Report {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		if s.remoteLater {
			s.report.Remote, s.remoteLater = s.remote(), false
		}
		return *s.report
	}
	return s.buildReport(s.clock.Now(), true)
}

// buildReport assembles the report; without the remote address unless
// withRemote. Call with mu held.
func (s *Supervisor) buildReport(now time.Time, withRemote bool) Report {
	var tl drain.Timeline
	var pingLate, graceExpired bool
	reason := s.why()
	if s.dr != nil {
		tl, pingLate, graceExpired = s.dr.seq.Timeline(), s.dr.seq.PingTimedOut(), s.dr.seq.GraceExpired()
	}
	var remote string
	if withRemote {
		remote = s.remote()
	}
	return Report{
		ID:               s.id,
		Remote:           remote,
		Reason:           reason,
		Drained:          !tl.Start.IsZero() && !s.aborted && reason != ReasonPeer,
		Aborted:          s.aborted,
		Timeline:         tl,
		PingTimedOut:     pingLate,
		GraceExpired:     graceExpired,
		RTT:              s.lastRTT(),
		LastStreamID:     s.lastStreamID(),
		Age:              now.Sub(s.created),
		StreamsOpened:    s.opened,
		StreamsRefused:   uint64(s.refused),
		StreamsCompleted: s.completed,
		StreamsReset:     s.reset,
		StreamsCut:       s.streams.snapshot(),
	}
}

// reportLogged says whether logReport would write a line for the report
// being built at the close: the level check zap's Check begins with, alone.
// Call with mu held, before s.report is set.
func (s *Supervisor) reportLogged() bool {
	lvl := zap.DebugLevel // "closed"
	if s.aborted || (s.dr != nil && !s.dr.seq.Timeline().Start.IsZero() && s.why() != ReasonPeer) {
		lvl = zap.InfoLevel // "ended", "drained" (a client's GOAWAY is a close: Debug)
	}
	return s.log.Core().Enabled(lvl)
}

// logReport writes the one Info line of a drained connection ("drained")
// or of one the server ended with an error GOAWAY ("ended", after the Warn
// that said why); connections that simply closed, or that the client ended
// with its GOAWAY, get a Debug line.
func (s *Supervisor) logReport(r *Report) {
	var ce *zapcore.CheckedEntry
	switch {
	case r.Aborted:
		ce = s.log.Check(zap.InfoLevel, "http2 connection ended")
	case !r.Drained:
		ce = s.log.Check(zap.DebugLevel, "http2 connection closed")
	default:
		ce = s.log.Check(zap.InfoLevel, "http2 connection drained")
	}
	if ce == nil {
		return // not logged: build nothing
	}
	fields := []zap.Field{
		zap.Uint64("conn", r.ID),
		zap.String("remote", r.Remote),
		zap.String("reason", string(r.Reason)),
		zap.Uint32("last_stream_id", r.LastStreamID),
		zap.Uint64("streams_completed", r.StreamsCompleted),
		zap.Int("streams_cut", len(r.StreamsCut)),
		zap.Duration("age", r.Age),
	}
	if r.Aborted || !r.Drained {
		ce.Write(fields...)
		return
	}
	tl := &r.Timeline
	fields = append(fields,
		zap.Duration("notice", span(tl.Start, tl.Ack)),
		zap.Duration("settle", span(tl.Ack, tl.Final)),
		zap.Duration("final", span(tl.Final, tl.StreamsDone)),
		zap.Duration("closing", span(tl.HalfClosed, tl.Closed)),
		zap.Duration("total", span(tl.Start, tl.Closed)),
		zap.Duration("rtt", r.RTT),
		zap.Bool("ping_timeout", r.PingTimedOut),
		zap.Bool("grace_expired", r.GraceExpired),
	)
	if len(r.StreamsCut) > 0 {
		ids := make([]uint64, len(r.StreamsCut))
		for i, id := range r.StreamsCut {
			ids[i] = uint64(id)
		}
		fields = append(fields, zap.Uint64s("cut_stream_ids", ids))
	}
	ce.Write(fields...)
}

// logFields are the fields that name the connection in its log lines.
func (s *Supervisor) logFields() []zap.Field {
	return []zap.Field{zap.Uint64("conn", s.id), zap.String("remote", s.remote())}
}

func zapStream(id uint32) zap.Field { return zap.Uint32("stream", id) }

// debug writes a Debug line about the connection; it costs a level check
// when Debug is off.
func (s *Supervisor) debug(msg string, fields ...zap.Field) {
	if !s.log.Core().Enabled(zap.DebugLevel) {
		return // zap's Check alone has a frame deep enough to grow the stack
	}
	if ce := s.log.Check(zap.DebugLevel, msg); ce != nil {
		ce.Write(append(s.logFields(), fields...)...)
	}
}

// span is b-a: zero when either did not happen or b came first (streams
// can end before the ACK; the client can close before the final GOAWAY).
func span(a, b time.Time) time.Duration {
	if a.IsZero() || b.IsZero() {
		return 0
	}
	return max(b.Sub(a), 0)
}

// ID returns the connection's id.
func (s *Supervisor) ID() uint64 { return s.id }

// why is the reason the connection is ending or ended; empty while it is
// not. Call with mu held.
func (s *Supervisor) why() Reason {
	if s.report != nil {
		return s.report.Reason // set once closed
	}
	if s.dr == nil {
		return ""
	}
	return s.dr.reason
}

// lastRTT is the last round trip of one of our PINGs. Call with mu held.
func (s *Supervisor) lastRTT() time.Duration {
	if s.dr == nil {
		return 0
	}
	return s.dr.rtt
}
