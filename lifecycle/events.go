package lifecycle

import (
	"github.com/h2lifecycle/h2lifecycle/drain"
	"github.com/h2lifecycle/h2lifecycle/internal/frame"
)

// The tap reports what it sees on the wire to its owner, the supervisor,
// through owner.tapEvent, and never reads the owner's state: information
// flows up as events, and down as the actions the owner posts to the tap
// (a notice to insert, frames to end with, our FIN, a cut of the inbound
// side). Events marked "in" come from the server's reading goroutine, in
// wire order; "out" ones from the writing side, under the tap's write lock:
// for those the owner returns in event.act the actions to run once the lock
// is released (an action may wait for the server, whose writes wait for the
// lock), and the tap hands them back through owner.run.

// eventKind is what happened.
type eventKind uint8

const (
	evPreface        eventKind = iota // in: the client preface is complete
	evClientSettings                  // in: the client's first SETTINGS arrived (its connection preface is complete)
	evBlockOpen                       // in: a header block is incomplete at the end of a read (stream); HeaderTimeout only
	evBlockClosed                     // in: it is complete; HeaderTimeout only
	evIsOpen                          // in: is stream open? (a HEADERS frame on a stream id already seen) → vOpen
	evStreamOpened                    // in: a new stream's header block is complete (flag: END_STREAM with it) → vCut
	evStreamRefused                   // in: the block of a stream refused over the advertised limit is complete (flag: before the client ACKed the server's SETTINGS)
	evClientEnd                       // in: the client's END_STREAM on stream
	evClientReset                     // in: the client's RST_STREAM on stream
	evClientPing                      // in: a PING (flag: the server sent HEADERS or DATA since the previous one); enforcement only
	evPingAck                         // in: a PING ACK (data)
	evClientGoAway                    // in: a well-formed GOAWAY
	evServerReset                     // out: the server's RST_STREAM on stream (code; flag: the code is in this write) → vCancel, vRefused
	evServerPing                      // out: the server's own PING (data)
	evServerGoAway                    // out: the server's GOAWAY (stream: last-stream-id; code)
	evServerPush                      // out: the server's PUSH_PROMISE (stream: the promised one)
	evNoticeWritten                   // out: our GOAWAY(2^31-1)+PING is on the socket
	evClosed                          // the connection was closed
)

// event is one thing the tap saw.
type event struct {
	stream uint32
	code   frame.ErrCode
	data   [8]byte
	kind   eventKind
	flag   bool
	act    drain.Action // out events: what the owner wants run after the write lock
}

// verdict is the owner's answer to an event, for the events that ask.
type verdict uint8

const (
	vOpen    verdict = 1 << iota // evIsOpen: the stream is open
	vCut                         // evStreamOpened: the connection is ending without the server (our error GOAWAY): give it nothing more
	vCancel                      // evServerReset: send this RST_STREAM(INTERNAL_ERROR) as CANCEL
	vRefused                     // evServerReset: send this RST_STREAM(PROTOCOL_ERROR) as REFUSED_STREAM
	vAgain                       // evIsOpen: a stream the tap refused whose reset the server has not written
)

// owner is what the tap reports to: the Supervisor. The tap holds it as
// *Supervisor, not as this interface: through an interface every event
// escaped to the heap (24 B, two per request; issue 15).
var _ owner = (*Supervisor)(nil)

type owner interface {
	tapEvent(e *event) verdict
	// run carries out the actions that out events returned.
	run(act drain.Action)
	// clientStreams is how many streams the client has open as the client
	// can count them: never more (a stream counts as ended once the server
	// has written its end, before the client reads it). It is read without
	// the owner's lock, once per new stream while a stream limit is
	// advertised.
	clientStreams() uint32
	// serverEndedAll notes the server's END_STREAM on ids, in that order
	// (one write's, under one lock: not an event, for the flush
	// goroutine's small stack), and returns the actions for run.
	serverEndedAll(ids []uint32) drain.Action
}

// tapConfig holds the tap's fixed knobs, set before the connection is
// served.
type tapConfig struct {
	sawPreface bool   // the client preface was read before the handover
	upgraded   bool   // an h2c Upgrade: stream 1 is open without a HEADERS frame
	advertise  uint32 // the stream limit the tap advertises and enforces; 0: none
	blocks     bool   // report incomplete header blocks (HeaderTimeout)
	pings      bool   // report client PINGs and whether data was sent in between (ping enforcement)
}
