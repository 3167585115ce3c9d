package drain

import "time"

// Phase is where a connection stands in its life.
type Phase uint8

// The phases, in the only order a connection goes through them (any phase may
// jump straight to Closed).
const (
	Active  Phase = iota // serving; no drain under way
	Notice               // GOAWAY(2^31-1)+PING requested; waiting for the PING ACK
	Final                // final GOAWAY requested; waiting for in-flight streams
	Closing              // our side shut down; waiting for the peer's FIN or the linger
	Closed               // the connection is closed
)

var phaseNames = [...]string{"active", "draining(notice)", "draining(final)", "closing", "closed"}

func (p Phase) String() string {
	if int(p) < len(phaseNames) {
		return phaseNames[p]
	}
	return "invalid"
}

// Event is something that happened to the connection.
type Event uint8

// Events fed to [Sequence.Handle].
const (
	NoticeWritten Event = iota // our GOAWAY(2^31-1)+PING reached the socket
	PingAcked                  // the ACK of our PING arrived
	ServerGoAway               // the server wrote a GOAWAY with NO_ERROR
	ServerError                // the server wrote a GOAWAY with an error code
	PeerGoAway                 // the peer sent a GOAWAY
	StreamOpened               // a new stream opened (a request crossing GOAWAY #1)
	StreamsOpen                // the connection's open streams went from zero to one
	StreamsIdle                // the last open stream ended, and its end is on the wire
	ConnGone                   // the connection was closed (by the peer, an error, or the server)
	CloseNow                   // an immediate close was requested
	numEvents
)

var eventNames = [...]string{"notice-written", "ping-acked", "server-goaway", "server-error",
	"peer-goaway", "stream-opened", "streams-open", "streams-idle", "conn-gone", "close-now"}

func (e Event) String() string {
	if int(e) < len(eventNames) {
		return eventNames[e]
	}
	return "invalid"
}

// Action is a set of things the caller must do, in the order of the bits.
type Action uint8

// Actions returned by the Sequence.
const (
	// InjectNotice: write GOAWAY(2^31-1, NO_ERROR) and a PING at the next safe
	// point of the outbound stream, then report NoticeWritten. Skip it if the
	// server has written a GOAWAY meanwhile (last-stream-id must not grow).
	InjectNotice Action = 1 << iota
	// FinalGoAway: make the server send GOAWAY(last processed stream).
	FinalGoAway
	// HalfClose: shut the write side (FIN) and linger for the peer's FIN.
	HalfClose
	// ResetStreams: reset the streams still open (RST_STREAM CANCEL).
	ResetStreams
	// CloseConn: close the connection.
	CloseConn
)

// Timing holds the durations a Sequence works with. All must be positive.
type Timing struct {
	Grace       time.Duration // from the start of a drain to the forced close
	PingTimeout time.Duration // how long to wait for the PING ACK
	Settle      time.Duration // after the ACK, how long no new stream must arrive
	Linger      time.Duration // how long to wait for the peer's FIN after ours
}

// Timeline records when each step of a drain happened. Zero times did not
// happen.
type Timeline struct {
	Start       time.Time // the drain was requested (or the server's GOAWAY started it)
	NoticeSent  time.Time // GOAWAY(2^31-1)+PING on the wire
	Ack         time.Time // PING ACK received, or the ping timeout fired
	Final       time.Time // the final GOAWAY on the wire
	StreamsDone time.Time // the last in-flight stream ended
	HalfClosed  time.Time // our FIN sent
	Closed      time.Time // the connection closed
}

// Sequence is the drain state machine of one connection. Set Timing before
// the first call; the zero Sequence is Active. A Sequence is not safe for
// concurrent use: its owner serializes calls.
type Sequence struct {
	Timing Timing

	phase    Phase
	open     bool // streams are open
	goneAway bool // the server wrote a GOAWAY
	forced   bool // the grace deadline cut the drain short
	pingLate bool // the ping timeout fired
	acked    bool // the PING ACK arrived: settling
	pingAt   time.Time
	settleAt time.Time
	graceAt  time.Time
	lingerAt time.Time
	timeline Timeline
}

// Phase returns the current phase.
func (s *Sequence) Phase() Phase { return s.phase }

// Draining reports whether a drain is under way and not yet closing.
func (s *Sequence) Draining() bool { return s.phase == Notice || s.phase == Final }

// Timeline returns when each step happened.
func (s *Sequence) Timeline() Timeline { return s.timeline }

// PingTimedOut reports whether the final GOAWAY went out at the ping timeout,
// without the PING ACK.
func (s *Sequence) PingTimedOut() bool { return s.pingLate }

// GraceExpired reports whether the grace deadline cut the drain short.
func (s *Sequence) GraceExpired() bool { return s.forced }

// Start begins a drain at now; it must end by now+grace (Timing.Grace when
// grace <= 0). A second Start only moves the grace deadline earlier.
func (s *Sequence) Start(now time.Time, grace time.Duration) Action {
	if grace <= 0 {
		grace = s.Timing.Grace
	}
	switch s.phase {
	case Active:
		s.timeline.Start = now
		s.graceAt = now.Add(grace)
		s.phase = Notice
		return InjectNotice
	case Notice, Final:
		if d := now.Add(grace); d.Before(s.graceAt) {
			s.graceAt = d
		}
	}
	return 0
}

// Handle feeds an event that happened at now and returns what to do.
func (s *Sequence) Handle(ev Event, now time.Time) Action {
	if s.phase == Closed {
		return 0
	}
	switch ev {
	case NoticeWritten:
		if s.phase == Notice && s.timeline.NoticeSent.IsZero() {
			s.timeline.NoticeSent = now
			s.pingAt = now.Add(s.Timing.PingTimeout)
		}
	case PingAcked:
		if s.phase == Notice && !s.acked {
			// The ACK may be reported before the injector reports the write:
			// it proves the write all the same.
			if s.timeline.NoticeSent.IsZero() {
				s.timeline.NoticeSent = now
			}
			s.timeline.Ack = now
			s.acked = true
			return s.settle(now)
		}
	case StreamOpened:
		if s.phase == Notice && s.acked {
			// A client can number a stream before it reads GOAWAY #1 and
			// write it after its PING ACK (Go's does, under load): wait
			// until the stragglers are in.
			return s.settle(now)
		}
	case ServerGoAway:
		if s.goneAway {
			return 0
		}
		s.goneAway = true
		switch s.phase {
		case Active:
			// The server drains on its own (a peer GOAWAY, say): own the end.
			s.timeline.Start = now
			s.graceAt = now.Add(s.Timing.Grace)
			s.phase = Final
		case Notice:
			s.phase = Final
		}
		s.timeline.Final = now
		if s.phase == Final && !s.open {
			return s.toClosing(now)
		}
	case ServerError:
		// The server stops serving streams after an error GOAWAY and closes
		// the connection itself; our FIN right behind the GOAWAY is as clean.
		first := !s.goneAway
		s.goneAway = true
		if s.phase == Closing {
			return 0
		}
		if first {
			s.timeline.Final = now
		}
		if s.timeline.Start.IsZero() {
			s.timeline.Start = now
		}
		return s.toClosing(now)
	case PeerGoAway:
		// The peer is leaving; it opens no more streams, and some peers stop
		// answering PINGs after their own GOAWAY: do not wait for the ACK.
		switch s.phase {
		case Active:
			s.timeline.Start = now
			s.graceAt = now.Add(s.Timing.Grace)
			return s.toFinal()
		case Notice:
			return s.toFinal()
		}
	case StreamsOpen:
		s.open = true
		if s.Draining() {
			s.timeline.StreamsDone = time.Time{}
		}
	case StreamsIdle:
		s.open = false
		if s.Draining() {
			s.timeline.StreamsDone = now
		}
		if s.phase == Final && s.goneAway {
			return s.toClosing(now)
		}
	case ConnGone:
		s.close(now)
	case CloseNow:
		s.close(now)
		return CloseConn
	}
	return 0
}

// Deadline returns when Tick must be called next; zero means no deadline.
func (s *Sequence) Deadline() time.Time {
	switch s.phase {
	case Notice:
		d := s.graceAt
		if s.acked {
			d = earliest(d, s.settleAt)
		} else if !s.pingAt.IsZero() {
			d = earliest(d, s.pingAt)
		}
		return d
	case Final:
		return s.graceAt
	case Closing:
		return s.lingerAt
	}
	return time.Time{}
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// Tick handles the deadlines that have passed at now.
func (s *Sequence) Tick(now time.Time) Action {
	switch s.phase {
	case Notice, Final:
		if !now.Before(s.graceAt) {
			s.forced = true
			s.close(now)
			return ResetStreams | CloseConn
		}
		if s.phase == Notice && s.acked && !now.Before(s.settleAt) {
			return s.toFinal()
		}
		if s.phase == Notice && !s.acked && !s.pingAt.IsZero() && !now.Before(s.pingAt) {
			s.pingLate = true
			s.timeline.Ack = now
			return s.toFinal()
		}
	case Closing:
		if !now.Before(s.lingerAt) {
			s.close(now)
			return CloseConn
		}
	}
	return 0
}

// settle (re)starts the quiet period after the ACK. Stragglers can extend
// it up to a ping timeout past the ACK; a zero Settle ends phase 1 at once.
func (s *Sequence) settle(now time.Time) Action {
	if s.Timing.Settle <= 0 {
		return s.toFinal()
	}
	s.settleAt = earliest(now.Add(s.Timing.Settle), s.timeline.Ack.Add(s.Timing.PingTimeout))
	if !now.Before(s.settleAt) {
		return s.toFinal()
	}
	return 0
}

// toFinal asks for the final GOAWAY. It is reached only from Active and
// Notice, where the server has not written a GOAWAY (that moves to Final).
func (s *Sequence) toFinal() Action {
	s.phase = Final
	return FinalGoAway
}

func (s *Sequence) toClosing(now time.Time) Action {
	s.phase = Closing
	if !s.open && s.timeline.StreamsDone.IsZero() {
		s.timeline.StreamsDone = now
	}
	s.timeline.HalfClosed = now
	s.lingerAt = now.Add(s.Timing.Linger)
	return HalfClose
}

func (s *Sequence) close(now time.Time) {
	s.phase = Closed
	s.timeline.Closed = now
}
