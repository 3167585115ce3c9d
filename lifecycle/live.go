package lifecycle

import "github.com/h2lifecycle/h2lifecycle/drain"

// LiveMetrics is a Metrics that also hears, as they happen, of a
// connection's state changes and of every stream's start and end: enough
// for gauges of connections by state and of open streams, and for stream
// counters that move when a stream ends rather than when its connection
// closes.
//
// Its methods are called with the connection's lock held, in the order
// things happened on that connection: they must be quick, must not block
// and must not call back into the supervisor. A connection reports
// ConnOpened, then ConnStateChanged for each change of state, ending with
// one to StateClosed, then ConnClosed; every StreamOpened is matched by one
// StreamClosed before ConnClosed.
type LiveMetrics interface {
	Metrics

	// ConnStateChanged reports that a connection went from one state to
	// another: active → draining → closing → closed, skipping states (an
	// abort goes from active to closing; a connection the peer closes, from
	// active to closed).
	ConnStateChanged(from, to State)

	// StreamOpened reports a stream the server took in: a request whose
	// handler runs (or a server push).
	StreamOpened()

	// StreamClosed reports how a stream ended. EndRefused is a stream the
	// tap refused over the advertised limit: no StreamOpened came before it.
	StreamClosed(end StreamEnd)
}

// State is where a supervised connection stands, for metrics.
type State uint8

// The states, in the only order a connection goes through them.
const (
	StateActive   State = iota // serving (a drain waiting for the first stream counts as active)
	StateDraining              // GOAWAY sent or queued: phase 1 or 2 of a drain, or the server's or the peer's GOAWAY; streams still run
	StateClosing               // our side shut down (FIN): waiting for the peer's FIN or the linger
	StateClosed                // closed
)

var stateNames = [...]string{"active", "draining", "closing", "closed"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "invalid"
}

// stateOf maps the drain phase of a connection that is not closed yet to
// its state: the sequence's Closed (a close asked for) is still closing
// until the connection is gone, and the tap may still report streams.
func stateOf(p drain.Phase) State {
	switch p {
	case drain.Active:
		return StateActive
	case drain.Notice, drain.Final:
		return StateDraining
	}
	return StateClosing
}

// StreamEnd is how a stream ended.
type StreamEnd uint8

// How streams end.
const (
	EndCompleted StreamEnd = iota // both sides ended it (the server's END_STREAM and the client's), or the server's END_STREAM then a reset
	EndReset                      // RST_STREAM from either side before the server completed it
	EndCut                        // still open when the connection closed (the grace deadline, or the connection lost)
	EndDropped                    // above the last-stream-id of the server's GOAWAY: never processed (RFC 9113 §6.8)
	EndRefused                    // refused by the tap over the advertised stream limit; never opened, no handler ran
)

var endNames = [...]string{"completed", "reset", "cut", "dropped", "refused"}

func (e StreamEnd) String() string {
	if int(e) < len(endNames) {
		return endNames[e]
	}
	return "invalid"
}

// liveOpened reports a stream's start. Streams the tap reports once the
// connection is closed (the server's last reads) are not: they are in no
// report either. Call with mu held.
func (s *Supervisor) liveOpened() {
	if m := s.metrics; m != nil && m.live != nil && !s.closed {
		m.live.StreamOpened()
	}
}

// liveClosed reports n streams that ended the same way, unless the
// connection is closed (its streams were reported cut). Call with mu held.
func (s *Supervisor) liveClosed(end StreamEnd, n int) {
	if m := s.metrics; m != nil && m.live != nil && !s.closed {
		for range n {
			m.live.StreamClosed(end)
		}
	}
}

// noteState reports a change of state, if there was one. Call with mu held.
func (s *Supervisor) noteState() {
	m := s.metrics
	if m == nil || m.live == nil {
		return
	}
	st := StateClosed
	if !s.closed {
		st = stateOf(s.phase())
	}
	if st != s.state {
		m.live.ConnStateChanged(s.state, st)
		s.state = st
	}
}
