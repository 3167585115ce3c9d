package lifecycle

import (
	"slices"

	"go.uber.org/zap"

	"github.com/h2lifecycle/h2lifecycle/drain"
	"github.com/h2lifecycle/h2lifecycle/internal/frame"
	"github.com/h2lifecycle/h2lifecycle/ping"
)

// tapEvent handles what the tap saw (events.go). In events run their
// actions at once; out events hand theirs back in e.act.
func (s *Supervisor) tapEvent(e *event) verdict {
	switch e.kind {
	case evPreface:
		s.mu.Lock()
		now := s.since()
		s.policy.PrefaceDone(now)
		s.rearm(now)
		s.mu.Unlock()
	case evClientSettings:
		s.mu.Lock()
		s.policy.ClientSettings()
		s.mu.Unlock()
	case evBlockOpen:
		s.mu.Lock()
		now := s.since()
		s.blockStream = e.stream
		s.policy.BlockOpened(now)
		s.rearm(now)
		s.mu.Unlock()
	case evBlockClosed:
		s.mu.Lock()
		s.policy.BlockClosed()
		s.mu.Unlock()
	case evIsOpen:
		s.mu.Lock()
		open := s.streams.has(e.stream)
		again := !open && s.marks != nil && len(s.marks.resetting) > 0
		s.mu.Unlock()
		if again && s.resetting(e.stream) {
			return vAgain
		}
		if open {
			return vOpen
		}
	case evStreamOpened:
		return s.streamOpened(e.stream, e.flag)
	case evStreamRefused:
		s.streamRefused(e.stream, e.flag)
	case evClientEnd:
		s.run(s.locked(func() drain.Action { return s.clientEnded(e.stream) }))
	case evClientReset:
		s.run(s.locked(func() drain.Action { return s.streamReset(e.stream) }))
	case evClientPing:
		s.clientPing(e.flag)
	case evPingAck:
		s.run(s.pingAcked(e.data))
	case evClientGoAway:
		s.run(s.peerGoAway())
	case evServerReset:
		var v verdict
		v, e.act = s.serverReset(e.stream, e.code, e.flag)
		return v
	case evServerPing:
		s.serverPingSent(e.data)
	case evServerGoAway:
		e.act = s.serverGoAway(e.stream, e.code)
	case evServerPush:
		e.act = s.pushed(e.stream)
	case evNoticeWritten:
		e.act = s.noticeWritten()
	case evClosed:
		s.connGone()
	}
	return 0
}

// locked runs f with mu held.
func (s *Supervisor) locked(f func() drain.Action) drain.Action {
	s.mu.Lock()
	defer s.mu.Unlock()
	return f()
}

// clientStreams is the number of client streams open, as the client can
// count them (owner.clientStreams).
func (s *Supervisor) clientStreams() uint32 { return s.streams.client.Load() }

// streamOpened notes a stream the client opened: its header block is
// complete and the server is about to take it in.
func (s *Supervisor) streamOpened(id uint32, clientEnded bool) verdict {
	s.mu.Lock()
	if s.cutIn {
		s.mu.Unlock()
		return vCut // above our error GOAWAY's last-stream-id: never processed
	}
	if id > s.goAwayLast {
		s.mu.Unlock()
		return 0 // RFC 9113 §6.8: ignored by the server, never processed
	}
	s.peerMax = max(s.peerMax, id)
	act := s.addStream(id, clientEnded)
	s.mu.Unlock()
	s.run(act)
	return 0
}

// resetting reports whether stream id is one the tap refused whose reset
// the server has not written (streamMarks.resetting). Out of line, as is
// refusedAgain: tapEvent's frame is on the stack of the server's reading
// goroutine (bench/memory: an abort inline there made it 272 bytes instead
// of 112, and idle connections' stacks 1.6 KB bigger on Go 1.26).
//
//go:noinline
func (s *Supervisor) resetting(id uint32) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.marks != nil && slices.Contains(s.marks.resetting, id)
}

// refusedAgain answers a header block on stream id, one the tap refused,
// once the server has taken it in: the stock server, which refuses before it
// makes the stream, ends the connection with PROTOCOL_ERROR there
// (stream_went_down); the server behind the tap ignores the block while its
// reset of the stream is not written (streamMarks.resetting). The block
// reached the server first, so an HPACK error in it is the server's
// COMPRESSION_ERROR, as stock's (FuzzDifferential 57dc842a736a9184); its
// reader then reads no more, and this does not run. If the reset went out
// meanwhile, the server gave the stock error itself.
//
//go:noinline
func (s *Supervisor) refusedAgain(id uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.marks == nil || !slices.Contains(s.marks.resetting, id) || s.phase() >= drain.Closing {
		return
	}
	s.debug("HEADERS again on a refused stream; ending the connection with PROTOCOL_ERROR", zapStream(id))
	s.abort(s.since(), ReasonError, nil, frame.ErrCodeProtocol)
}

// pushed notes a stream the server promised (PUSH_PROMISE).
func (s *Supervisor) pushed(id uint32) drain.Action {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addStream(id, true)
}

// addStream opens id and applies what depends on a new stream: a drain
// waiting for the first stream, the stragglers of a drain, the streams per
// connection. Call with mu held.
func (s *Supervisor) addStream(id uint32, clientEnded bool) drain.Action {
	if !s.streams.add(id, clientEnded) {
		return 0 // a second PUSH_PROMISE of the same stream: a broken server
	}
	s.opened++
	s.liveOpened()
	act := s.updateBusy(-1)
	draining := s.dr != nil && s.dr.seq.Draining()
	deferred := s.dr != nil && s.dr.deferred
	limit := s.set.Policy.MaxStreamsPerConnection
	if !deferred && !draining && limit == 0 {
		return act // the common case reads no clock
	}
	now := s.since()
	if deferred {
		act |= s.startDeferred(now) // the stream is served: it opened before the notice
	}
	if draining {
		act |= s.dr.seq.Handle(drain.StreamOpened, s.at(now))
		s.rearm(now)
	}
	if limit > 0 && s.opened == uint64(limit) && s.phase() == drain.Active {
		act |= s.startDrain(now, ReasonMaxStreams, 0, true)
	}
	return act
}

// streamRefused notes a stream the tap refused over the advertised limit:
// the server takes its id and resets it; no handler runs. retry says the
// client had not ACKed the server's SETTINGS: the reset must say
// REFUSED_STREAM (resetcodes.go).
func (s *Supervisor) streamRefused(id uint32, retry bool) {
	s.mu.Lock()
	s.refused++
	s.liveClosed(EndRefused, 1)
	m := s.marked()
	m.resetting = append(m.resetting, id)
	if retry {
		m.refused = append(m.refused, id)
	}
	if !s.cutIn && id <= s.goAwayLast {
		s.peerMax = max(s.peerMax, id)
	}
	s.mu.Unlock()
	s.debug("refused a stream over the advertised limit", zapStream(id))
}

// clientEnded notes the client's END_STREAM. Call with mu held.
func (s *Supervisor) clientEnded(id uint32) drain.Action {
	if !s.streams.clientEnded(id) {
		return 0
	}
	s.liveClosed(EndCompleted, 1) // the server had ended it
	if s.streams.len() == 0 {
		return s.updateBusy(-1)
	}
	return 0
}

// serverEnded notes the server's END_STREAM: the stream completed. Call
// with mu held.
func (s *Supervisor) serverEnded(id uint32) drain.Action {
	open, closed := s.streams.serverEnded(id)
	if !open {
		return 0
	}
	s.completed++
	s.forgetPanic(id)
	if !closed {
		return 0 // the client's side is still open
	}
	s.liveClosed(EndCompleted, 1)
	if s.streams.len() == 0 {
		return s.updateBusy(-1)
	}
	return 0
}

// serverEndedAll notes the END_STREAMs of one write for the tap
// (owner.serverEndedAll), under one lock. It runs on x/net's flush
// goroutine, whose stack starts small (DESIGN.md, rule 7): no closure, no
// defer, no event.
func (s *Supervisor) serverEndedAll(ids []uint32) drain.Action {
	var act drain.Action
	s.mu.Lock()
	for _, id := range ids {
		act |= s.serverEnded(id)
	}
	s.mu.Unlock()
	return act
}

// streamReset notes a RST_STREAM either way. Call with mu held.
func (s *Supervisor) streamReset(id uint32) drain.Action {
	open, completed := s.streams.reset(id)
	if !open {
		return 0
	}
	if !completed {
		s.reset++
		s.liveClosed(EndReset, 1)
	} else {
		s.liveClosed(EndCompleted, 1)
	}
	s.forgetPanic(id)
	if s.streams.len() == 0 {
		return s.updateBusy(-1)
	}
	return 0
}

// clientPing applies the ping policy to a PING from the peer; dataSent says
// the server sent HEADERS or DATA since the previous one.
func (s *Supervisor) clientPing(dataSent bool) {
	if s.enforcer == nil {
		return
	}
	s.mu.Lock()
	if dataSent {
		s.enforcer.DataSent()
	}
	now := s.since()
	if !s.enforcer.Ping(s.at(now), s.streams.len()) || s.phase() >= drain.Closing {
		s.mu.Unlock()
		return
	}
	s.log.Warn("http2 peer sends PINGs too often; ending the connection", s.logFields()...)
	act := s.abort(now, ReasonTooManyPings, nil, frame.ErrCodeEnhanceYourCalm)
	s.mu.Unlock()
	s.run(act)
}

// pingAcked notes a PING ACK: of one of ours (the drain's, or one that
// measures the round trip), or of the HTTP/2 server's keepalive.
func (s *Supervisor) pingAcked(data [8]byte) drain.Action {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !ping.Ours(data) {
		s.serverPingAcked(data)
		return 0
	}
	if s.dr == nil {
		return 0 // none of ours is outstanding
	}
	now := s.since()
	rtt, ok := s.dr.pings.Ack(data, s.at(now))
	if !ok {
		return 0
	}
	s.dr.rtt = rtt
	var act drain.Action
	if data == s.dr.noticePing {
		act = s.dr.seq.Handle(drain.PingAcked, s.at(now))
		s.rearm(now)
	}
	return act
}

// serverPingSent notes a keepalive PING of the HTTP/2 server.
func (s *Supervisor) serverPingSent(data [8]byte) {
	s.mu.Lock()
	s.serverPing, s.serverPingAt, s.serverPingOut = data, s.since(), true
	s.mu.Unlock()
}

// serverPingAcked notes the ACK of the server's keepalive PING, whose round
// trip feeds the RTT estimate. Call with mu held.
func (s *Supervisor) serverPingAcked(data [8]byte) {
	if !s.serverPingOut || data != s.serverPing {
		return
	}
	s.drainState().pings.Observe(s.since() - s.serverPingAt)
	s.serverPingOut = false
}

// noticeWritten notes that GOAWAY(2^31-1)+PING reached the socket.
func (s *Supervisor) noticeWritten() drain.Action {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.since()
	act := s.drainState().seq.Handle(drain.NoticeWritten, s.at(now))
	s.rearm(now)
	return act
}

// serverGoAway notes a GOAWAY the server wrote.
func (s *Supervisor) serverGoAway(last uint32, code frame.ErrCode) drain.Action {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.since()
	if code != frame.ErrCodeNo {
		s.aborted = true
		// x/net names the stream of the offending frame in an error GOAWAY,
		// processed or not; it serves nothing more either way.
		last = min(last, s.peerMax)
	}
	s.goAwayLast = min(s.goAwayLast, last)
	// Streams above last were read before the server decided on it and are
	// ignored by it (RFC 9113 §6.8): they will never end on the wire.
	n := s.streams.len()
	s.streams.dropAbove(last)
	s.liveClosed(EndDropped, n-s.streams.len())
	ev := drain.ServerGoAway
	reason := ReasonServer
	if code != frame.ErrCodeNo {
		ev, reason = drain.ServerError, ReasonError
		s.log.Warn("http2 server sent GOAWAY with an error",
			zap.Uint64("conn", s.id), zap.String("remote", s.remote()),
			zap.Uint32("last_stream_id", last), zap.Uint32("code", uint32(code)))
	}
	dr := s.drainState()
	if dr.reason == "" {
		dr.reason = reason
	}
	act := s.updateBusy(now)
	act |= dr.seq.Handle(ev, s.at(now))
	s.rearm(now)
	return act
}

// peerGoAway notes a GOAWAY from the peer.
func (s *Supervisor) peerGoAway() drain.Action {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.since()
	d := s.drainState()
	if d.seq.Phase() == drain.Active {
		d.reason = ReasonPeer
		d.seq.Timing = s.set.Drain.Timing(d.pings.Timeout)
	}
	act := d.seq.Handle(drain.PeerGoAway, s.at(now))
	s.rearm(now)
	return act
}
