package lifecycle

import (
	"errors"
	"net"
	"time"

	"go.uber.org/zap"

	"github.com/h2lifecycle/h2lifecycle/drain"
	"github.com/h2lifecycle/h2lifecycle/internal/frame"
)

// The final GOAWAY without a per-connection server (Config.GoAway nil).
//
// An HTTP/2 server that reads a client's GOAWAY starts its own graceful
// shutdown of that connection, and of no other: it writes
// GOAWAY(last stream it processed) and discards every stream above it
// (x/net's and net/http's processGoAway; pinned by internal/conformance).
// So at the drain's second phase the tap gives the server a client GOAWAY
// of its own making, GOAWAY(0, NO_ERROR), between two of the client's
// frames: one HTTP/2 server can serve every connection of an http.Server,
// and no connection needs a shutdown handle.
//
// The tap can only insert it where the server's reader is: when the server
// asks for the next frame (Read), or after a read that ended at a frame
// boundary; never inside a header block (RFC 9113 §6.10), never before the
// client's first SETTINGS (§3.4). When nothing is in flight the supervisor
// does not wait for that: it writes the final GOAWAY itself (ownFinal):
// GOAWAY of the last stream processed, our FIN, and from then on the server
// is given nothing more, so nothing above that last-stream-id is processed
// (the tap's cut, as after an error GOAWAY of ours). With streams in
// flight the server's reader, blocked on a client that may say nothing
// until it sees the final GOAWAY, is woken with a read deadline in the past
// (interrupt), and the timeout it gets is the tap's, never the server's:
// the deadline is cleared again and the GOAWAY given instead. net/http
// hands HTTP/2 connections over with no read deadline (it clears its own,
// TLS and h2c alike, Go 1.26 and 1.27), and the HTTP/2 servers only ever
// clear it; if one set a deadline of its own, the tap leaves its deadline
// alone and does not interrupt. If the reader is inside a header block
// when woken, the GOAWAY comes after the block, or, once nothing is in
// flight, ours does. Whichever comes first wins, once: the insertion on
// the server's reading goroutine, or our own GOAWAY under the supervisor's
// lock. A client holding a header block open with nothing in flight thus
// ends as the stock server ends it, with a GOAWAY that excludes the block's
// stream.

// The states of the splice, in conn.inState's low bits; inCut is the bit
// above them.
const (
	spliceNone   uint32 = iota // no final GOAWAY asked
	spliceWanted               // asked; the tap inserts it at the next chance
	spliceIn                   // inserted: the server writes its own GOAWAY
	splicePeer                 // the client sent a GOAWAY itself: the server drains on it
	spliceOwn                  // our GOAWAY went out instead (ownFinal)
	spliceMask   uint32 = 7

	inCut      uint32 = 8  // give the server nothing more (a GOAWAY of ours)
	inDeadline uint32 = 16 // the server set a read deadline of its own: no interrupt
	inIntr     uint32 = 32 // the read deadline is the tap's interrupt: its timeout is ours
)

// aLongTimeAgo is a read deadline that has passed: it wakes a blocked Read.
var aLongTimeAgo = time.Unix(1, 0)

// noteReadDeadline notes a read deadline the server sets: one of its own
// (not zero) rules the interrupt out for the connection's life.
func (c *conn) noteReadDeadline(t time.Time) {
	if !t.IsZero() {
		c.inState.Or(inDeadline)
	}
}

// interrupt wakes the server's reader, blocked in Read or on its way
// there, so that the spliced GOAWAY can be given without a client frame.
func (c *conn) interrupt() {
	for {
		v := c.inState.Load()
		if v&(inDeadline|inCut) != 0 || v&spliceMask != spliceWanted {
			return
		}
		if c.inState.CompareAndSwap(v, v|inIntr) {
			break
		}
	}
	c.nc.SetReadDeadline(aLongTimeAgo)
}

// interrupted takes a read's error that may be the interrupt's timeout:
// then it clears the deadline (the server had none, or interrupt would not
// have set one) and returns the bytes read without the error.
func (c *conn) interrupted(n int, err error) (int, error) {
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		return n, err
	}
	for {
		v := c.inState.Load()
		if v&inIntr == 0 {
			return n, err // not ours (cannot happen: only the tap sets a deadline then)
		}
		if c.inState.CompareAndSwap(v, v&^inIntr) {
			break
		}
	}
	c.nc.SetReadDeadline(time.Time{})
	return n, nil
}

// netRead reads from the connection for the slow paths, taking the
// interrupt's timeout out of what it returns.
func (c *conn) netRead(p []byte) (int, error) {
	n, err := c.nc.Read(p)
	if err != nil && c.inState.Load()&inIntr != 0 {
		return c.interrupted(n, err)
	}
	return n, err
}

// spliceGoAway is the client GOAWAY the tap gives the server: no stream of
// the server's processed (it pushes none that the client sees here),
// NO_ERROR.
var spliceGoAway = frame.AppendGoAway(nil, 0, frame.ErrCodeNo, "")

// isCut reports whether the server is to be given nothing more.
func (c *conn) isCut() bool { return c.inState.Load()&inCut != 0 }

// setCut gives the server nothing more from now on.
func (c *conn) setCut() { c.inState.Or(inCut) }

// spliceDue reports whether the spliced GOAWAY waits for a chance: asked,
// not given, the server not cut off. One load: the reads check it.
func (c *conn) spliceDue() bool {
	return c.inState.Load()&(spliceMask|inCut) == spliceWanted
}

// splice returns the splice's state.
func (c *conn) splice() uint32 { return c.inState.Load() & spliceMask }

// moveSplice moves the splice from state from to state to, and reports
// whether it did; the cut bit is kept.
func (c *conn) moveSplice(from, to uint32) bool {
	for {
		v := c.inState.Load()
		if v&spliceMask != from {
			return false
		}
		if c.inState.CompareAndSwap(v, v&^spliceMask|to) {
			return true
		}
	}
}

// trySplice gives the server the spliced GOAWAY next if the client's bytes
// are at a frame boundary, outside a header block, after the client's first
// SETTINGS. Only the server's reading goroutine calls it.
func (c *conn) trySplice() {
	if !c.spoke || !c.in.Boundary() || c.rewriting() != nil || c.isCut() || !c.moveSplice(spliceWanted, spliceIn) {
		return
	}
	if c.pend == nil {
		c.pend = new(pending)
	}
	// Ahead of anything held: those bytes are the client's next frames.
	c.pend.inject = append(c.pend.inject, spliceGoAway...)
}

// peerGoAway notes the client's own GOAWAY on its way to the server, which
// drains on it as it would on ours: nothing is to be inserted any more.
func (c *conn) peerGoAway() {
	if !c.moveSplice(spliceNone, splicePeer) {
		c.moveSplice(spliceWanted, splicePeer)
	}
}

// spliceFinal asks for the final GOAWAY by splice: at once with a GOAWAY
// of our own when no stream is in flight, else at the tap's next chance,
// or ours when the last in-flight stream ends first.
func (s *Supervisor) spliceFinal() {
	if !s.conn.moveSplice(spliceNone, spliceWanted) {
		return // the client's own GOAWAY is with the server
	}
	s.mu.Lock()
	busy := s.busy
	if !busy {
		s.ownFinal(s.since())
	}
	s.mu.Unlock()
	if busy {
		s.conn.interrupt() // the client may wait for the GOAWAY to say more
	}
}

// ownFinal writes the final GOAWAY the splice has not given the server:
// GOAWAY(last stream processed, NO_ERROR) and our FIN, and the server is
// given nothing more. For the sequence it is the server's GOAWAY: the drain
// ends as it would behind that. Call with mu held, with nothing in flight.
func (s *Supervisor) ownFinal(now time.Duration) {
	if s.cutIn || !s.conn.moveSplice(spliceWanted, spliceOwn) {
		return // the server has it, or a GOAWAY of ours ended the connection already
	}
	dr := s.drainState()
	s.cutIn = true
	last := min(s.peerMax, s.goAwayLast) // last-stream-id never increases
	s.goAwayLast = last
	s.conn.postAbort(&abortFrames{last: last, code: frame.ErrCodeNo, reason: string(dr.reason)})
	s.debug("http2 drain: final GOAWAY of ours: the client sent no frame to insert the server's before",
		zap.String("reason", string(dr.reason)), zap.Uint32("last_stream_id", last))
	s.debug("http2 connection: FIN after the last GOAWAY", zap.String("reason", string(dr.reason)))
	dr.seq.Handle(drain.ServerGoAway, s.at(now)) // Closing: the FIN comes with the GOAWAY
	s.rearm(now)
}
