package lifecycle

import (
	"time"

	"go.uber.org/zap"

	"github.com/h2lifecycle/h2lifecycle/drain"
	"github.com/h2lifecycle/h2lifecycle/idle"
	"github.com/h2lifecycle/h2lifecycle/internal/frame"
)

// headerDeadline returns when HeaderTimeout next expires, if something is
// pending: the client's preface and first SETTINGS, or an incomplete header
// block. (When nothing is, rearm keeps the timer within a timeout of now,
// so that the timer checks an active connection once per HeaderTimeout,
// without any work per request.) Call with mu held.
func (s *Supervisor) headerDeadline() (time.Time, bool) {
	t := s.set.Policy.HeaderTimeout
	if t <= 0 || s.closed || s.phase() >= drain.Closing {
		return time.Time{}, false
	}
	if !s.conn.settingsSeen.Load() {
		return s.created.Add(t), true
	}
	if b := s.conn.blockStart.Load(); b > 0 {
		return s.created.Add(time.Duration(b-1) + t), true
	}
	return time.Time{}, false
}

// headerTimedOut ends a connection whose peer was too slow: without its
// preface or SETTINGS it is closed; with a header block left incomplete its
// stream is reset and, the connection being stuck behind that block (RFC
// 9113 §6.10), the connection ends with GOAWAY. Call with mu held.
func (s *Supervisor) headerTimedOut(now time.Time) drain.Action {
	if !s.conn.settingsSeen.Load() {
		dr := s.drainState()
		dr.reason = idle.ReasonHeaderTimeout
		s.log.Debug("http2 connection without preface or SETTINGS in time; closing", s.logFields()...)
		return dr.seq.Handle(drain.CloseNow, now)
	}
	id := s.conn.blockStream.Load()
	s.log.Warn("http2 header block incomplete in time; resetting the stream and ending the connection",
		append(s.logFields(), zapStream(id))...)
	frames := frame.AppendRSTStream(nil, id, frame.ErrCodeCancel)
	return s.abort(now, idle.ReasonHeaderTimeout, frames, frame.ErrCodeNo)
}

// clientPing applies the ping policy to a PING from the peer.
func (s *Supervisor) clientPing() drain.Action {
	if s.enforcer == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn.dataSent.Swap(false) {
		s.enforcer.DataSent()
	}
	now := s.clock.Now()
	if !s.enforcer.Ping(now, s.streams.len()) || s.phase() >= drain.Closing {
		return 0
	}
	s.log.Warn("http2 peer sends PINGs too often; ending the connection", s.logFields()...)
	return s.abort(now, idle.ReasonTooManyPings, nil, frame.ErrCodeEnhanceYourCalm)
}

// abort ends the connection without a drain: it writes frames, then
// GOAWAY(last processed stream, code, reason) and our FIN, and lingers for
// the peer's FIN. Streams still open are cut. Call with mu held.
func (s *Supervisor) abort(now time.Time, reason string, frames []byte, code frame.ErrCode) drain.Action {
	dr := s.drainState()
	dr.reason = reason
	s.aborted = true
	last := s.peerMax
	if s.goneAway {
		last = min(last, s.goAwayLast) // last-stream-id never increases
	}
	s.conn.postAbort(&abortFrames{frames: frames, last: last, code: code, reason: reason})
	dr.seq.Handle(drain.ServerError, now) // like the server's own error GOAWAY: close behind it
	s.rearm(now)
	return 0 // the FIN comes with the frames
}

// serverPingSent notes a keepalive PING of the HTTP/2 server.
func (s *Supervisor) serverPingSent(data [8]byte) {
	s.mu.Lock()
	s.serverPing, s.serverPingAt = data, s.clock.Now()
	s.mu.Unlock()
}

// serverPingAcked notes the ACK of a PING that is not ours: the server's
// keepalive PING, whose round trip feeds the RTT estimate.
func (s *Supervisor) serverPingAcked(data [8]byte) drain.Action {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.serverPingAt.IsZero() || data != s.serverPing {
		return 0
	}
	s.drainState().pings.Observe(s.clock.Since(s.serverPingAt))
	s.serverPingAt = time.Time{}
	return 0
}

func (s *Supervisor) logFields() []zap.Field {
	return []zap.Field{zap.Uint64("conn", s.id), zap.String("remote", s.remote())}
}

func zapStream(id uint32) zap.Field { return zap.Uint32("stream", id) }

// debug writes a Debug line about the connection; it costs a level check
// when Debug is off.
func (s *Supervisor) debug(msg string, fields ...zap.Field) {
	if ce := s.log.Check(zap.DebugLevel, msg); ce != nil {
		ce.Write(append(s.logFields(), fields...)...)
	}
}
