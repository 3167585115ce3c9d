package lifecycle

import (
	"time"

	"go.uber.org/zap"

	"github.com/h2lifecycle/h2lifecycle/drain"
	"github.com/h2lifecycle/h2lifecycle/idle"
	"github.com/h2lifecycle/h2lifecycle/internal/frame"
	"github.com/h2lifecycle/h2lifecycle/ping"
)

// How a connection ends: the two-phase drain (drain.Sequence), the
// deadlines of its policy (idle.Clock), an abort with an error GOAWAY of
// ours, and the timer that serves them all.

// drainState is what a connection needs once it starts ending: the drain
// sequence and our PINGs' bookkeeping (also fed by the server's keepalive
// PINGs, so a connection with keepalive makes it at its first ACK).
// Allocated then, it costs nothing to the many connections that spend most
// of their life idle without keepalive.
type drainState struct {
	seq        drain.Sequence
	pings      ping.Tracker
	reason     Reason  // why the connection is ending
	noticePing [8]byte // opaque data of the drain's PING
	rtt        time.Duration

	deferred    bool          // a drain waits for the first stream (drain.Config.FirstStreamWait)
	deferReason Reason        // its reason
	deferGrace  time.Duration // its grace deadline, counted from the request (an offset)
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

// at turns an offset from the connection's start into a time.
func (s *Supervisor) at(off time.Duration) time.Time { return s.created.Add(off) }

// startDrain starts (or tightens) a drain at now. A connection that has
// carried no stream and is younger than FirstStreamWait waits for its
// first stream first, if mayWait: its client is about to send it. Call
// with mu held.
func (s *Supervisor) startDrain(now time.Duration, reason Reason, grace time.Duration, mayWait bool) drain.Action {
	if grace <= 0 {
		grace = s.set.Drain.GraceOrDefault()
	}
	if mayWait && s.phase() == drain.Active && s.opened == 0 {
		if until := s.set.Drain.FirstStreamWaitOrDefault(); now < until {
			dr := s.drainState()
			deadline := idle.After(now, grace)
			if !dr.deferred || deadline < dr.deferGrace {
				dr.deferGrace = deadline
			}
			if !dr.deferred {
				dr.deferred, dr.deferReason = true, reason
			}
			// The wait never outlasts the drain's grace.
			s.policy.WaitFirstStream(min(until, dr.deferGrace))
			s.rearm(now)
			return 0
		}
	}
	d := s.drainState()
	if d.seq.Phase() == drain.Active {
		d.reason = reason
		d.seq.Timing = s.set.Drain.Timing(d.pings.Timeout)
	}
	act := d.seq.Start(s.at(now), grace)
	if act&drain.InjectNotice != 0 {
		d.noticePing = d.pings.Next(s.at(now))
	}
	s.rearm(now)
	return act
}

// startDeferred starts the drain that waited for the first stream. Call with
// mu held.
func (s *Supervisor) startDeferred(now time.Duration) drain.Action {
	dr := s.dr
	if dr == nil || !dr.deferred {
		return 0
	}
	dr.deferred = false
	s.policy.FirstStreamArrived()
	if s.phase() != drain.Active {
		return 0 // the connection started ending by other means
	}
	return s.startDrain(now, dr.deferReason, max(dr.deferGrace-now, time.Nanosecond), false)
}

// abort ends the connection without a drain: it writes frames, then
// GOAWAY(last processed stream, code, reason) and our FIN, and lingers for
// the peer's FIN. The server is given nothing the client sends from now
// on, so no stream above that last-stream-id is processed (RFC 9113 §6.8).
// Streams still open are cut. Call with mu held.
func (s *Supervisor) abort(now time.Duration, reason Reason, frames []byte, code frame.ErrCode) drain.Action {
	dr := s.drainState()
	dr.reason = reason
	s.aborted, s.cutIn = true, true
	last := min(s.peerMax, s.goAwayLast) // last-stream-id never increases
	s.conn.postAbort(&abortFrames{frames: frames, last: last, code: code, reason: string(reason)})
	dr.seq.Handle(drain.ServerError, s.at(now)) // like the server's own error GOAWAY: close behind it
	s.rearm(now)
	return 0 // the FIN comes with the frames
}

// prefaceTimedOut closes a connection whose client sent neither its
// preface nor its first SETTINGS within HeaderTimeout. Call with mu held.
func (s *Supervisor) prefaceTimedOut(now time.Duration) drain.Action {
	dr := s.drainState()
	dr.reason = ReasonHeaderTimeout
	s.log.Debug("http2 connection without preface or SETTINGS in time; closing", s.logFields()...)
	return dr.seq.Handle(drain.CloseNow, s.at(now))
}

// headerTimedOut ends a connection whose client left a header block
// incomplete for HeaderTimeout: its stream is reset and, the connection
// being stuck behind that block (RFC 9113 §6.10), the connection ends with
// GOAWAY. Call with mu held.
func (s *Supervisor) headerTimedOut(now time.Duration) drain.Action {
	if s.phase() >= drain.Closing {
		return 0
	}
	id := s.blockStream
	s.log.Warn("http2 header block incomplete in time; resetting the stream and ending the connection",
		append(s.logFields(), zapStream(id))...)
	frames := frame.AppendRSTStream(nil, id, frame.ErrCodeCancel)
	return s.abort(now, ReasonHeaderTimeout, frames, frame.ErrCodeNo)
}

// updateBusy tells the sequence and the policy clock when the connection
// goes from idle to busy and back. Busy means a stream is open on the wire
// or in the server's own view: a drain ends only when both agree that
// nothing is left. now may be -1: the clock is read only if the idle time
// counts or a drain is under way. Call with mu held.
func (s *Supervisor) updateBusy(now time.Duration) drain.Action {
	busy := s.streams.len() > 0 || !s.serverIdle
	if busy == s.busy {
		return 0
	}
	s.busy = busy
	ev := drain.StreamsIdle
	if busy {
		ev = drain.StreamsOpen
		s.policy.Busy()
	} else if s.set.Policy.IdleTimeout > 0 {
		if now < 0 {
			now = s.since() // the only clock read per request, with an idle timeout
		}
		s.policy.Idle(now)
		s.rearm(now)
	}
	if s.dr == nil {
		return 0
	}
	if s.dr.seq.Phase() == drain.Active {
		s.dr.seq.Handle(ev, time.Time{}) // only a level to remember: no actions, no time
		return 0
	}
	if now < 0 {
		now = s.since()
	}
	act := s.dr.seq.Handle(ev, s.at(now))
	if !busy && s.conn.splice() == spliceWanted {
		s.ownFinal(now) // the client said nothing the GOAWAY could be spliced before
	}
	s.rearm(now)
	return act
}

// rearm makes sure the timer fires no later than the earliest deadline of
// the policy clock and of the drain. A timer that fires early finds nothing
// due and re-arms itself, so the busy path never resets it. now may be -1:
// the clock is read only to arm the timer. Call with mu held.
func (s *Supervisor) rearm(now time.Duration) {
	if s.closed {
		return
	}
	s.noteState()
	if p := s.phase(); p != drain.Active {
		s.policy.Ending()
		if p >= drain.Closing {
			s.policy.Closing()
		}
		if p != drain.Notice {
			s.announce() // ending without our notice (phase 1 announces once it is queued: run)
		}
	}
	at := s.policy.Next()
	if s.dr != nil {
		if d := s.dr.seq.Deadline(); !d.IsZero() {
			at = min(at, max(d.Sub(s.created), 0))
		}
	}
	if at == idle.Never || (s.timerAt != 0 && at >= s.timerAt) {
		return
	}
	if now < 0 {
		now = s.since()
	}
	s.timerAt = max(at, 1) // never zero: armed
	d := max(at-now, 0)
	if s.timer == nil {
		s.timer = s.clock.AfterFunc(d, s.onTimer)
		return
	}
	s.timer.Reset(d)
}

func (s *Supervisor) onTimer() {
	s.mu.Lock()
	now := s.since()
	s.timerAt = 0
	var act drain.Action
	if s.dr != nil {
		act = s.dr.seq.Tick(s.at(now))
	}
	due := s.policy.Due(now)
	if due&idle.DueFirstStream != 0 {
		act |= s.startDeferred(now)
	}
	if due&idle.DueIdle != 0 {
		act |= s.startDrain(now, ReasonIdle, 0, true)
	}
	if due&idle.DueMaxAge != 0 {
		act |= s.startDrain(now, ReasonMaxAge, s.set.Policy.MaxConnectionAgeGrace, true)
	}
	if due&idle.DuePreface != 0 && s.phase() < drain.Closing {
		act |= s.prefaceTimedOut(now)
	}
	if due&idle.DueHeaderBlock != 0 {
		act |= s.headerTimedOut(now)
	}
	s.rearm(now)
	s.mu.Unlock()
	s.run(act)
}

// run carries out actions outside the lock. Actions that may block on the
// network run on their own goroutine; they happen once per connection.
func (s *Supervisor) run(act drain.Action) {
	if act == 0 {
		return
	}
	s.mu.Lock()
	var reason Reason
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
		s.debug("http2 drain: GOAWAY(2147483647) and PING queued", zap.String("reason", string(reason)))
		notice := frame.AppendGoAway(make([]byte, 0, 2*frame.HeaderLen+16+len(reason)), frame.MaxStreamID, frame.ErrCodeNo, string(reason))
		notice = frame.AppendPing(notice, false, data)
		s.conn.postNotice(notice)
		// Handlers hear of it now: whatever the server writes from here on
		// goes out behind the notice.
		s.mu.Lock()
		s.announce()
		s.mu.Unlock()
	}
	if act&drain.FinalGoAway != 0 {
		s.debug("http2 drain: final GOAWAY requested", zap.String("reason", string(reason)))
		if s.goAway != nil {
			s.conn.afterDelivered(s.goAway) // once the server has taken in every stream the tap gave it
		} else {
			s.spliceFinal() // the server takes in every stream the tap gave it before the GOAWAY
		}
	}
	if act&drain.HalfClose != 0 {
		s.debug("http2 connection: FIN after the last GOAWAY", zap.String("reason", string(reason)))
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

// connGone runs once, when the connection is closed.
func (s *Supervisor) connGone() {
	s.mu.Lock()
	now := s.clock.Now()
	if s.dr != nil {
		s.dr.seq.Handle(drain.ConnGone, now)
	}
	s.liveClosed(EndCut, s.streams.len())
	s.closed = true
	s.announce()
	s.noteState()
	s.policy.Closing()
	if s.timer != nil {
		s.timer.Stop()
	}
	// Nobody may look at the report now: then the remote address is left
	// for Report to fill in, and neither the log line nor the metrics are
	// built (the logger's level checked once, without zap's Check, whose
	// frame grew the stack deep in the HTTP/2 server's close).
	logged := s.reportLogged()
	seen := logged || s.metrics != nil
	r := s.buildReport(now, seen)
	if r.Reason == "" && s.serverPingOut && now.Sub(s.at(s.serverPingAt)) >= s.set.Policy.KeepaliveTimeoutOrDefault() {
		// The HTTP/2 server closes a connection whose keepalive PING went
		// unanswered for its PingTimeout.
		r.Reason = ReasonKeepaliveTimeout
	}
	if r.Reason == "" {
		r.Reason = ReasonClosed
	}
	if s.dr == nil {
		r.Timeline.Closed = now // the sequence, had it existed, would say so
	}
	s.report = &r
	s.remoteLater = !seen
	s.mu.Unlock()
	if logged {
		s.logReport(&r)
	}
	if s.metrics != nil {
		s.metrics.conn.ConnClosed(&r)
	}
	s.mu.Lock()
	if s.done != nil {
		close(s.done)
	} else {
		s.done = closedChan
	}
	s.mu.Unlock()
}
