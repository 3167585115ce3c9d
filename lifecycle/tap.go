package lifecycle

import (
	"crypto/tls"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/h2lifecycle/h2lifecycle/drain"
	"github.com/h2lifecycle/h2lifecycle/internal/frame"
)

// conn is the frame tap: the net.Conn the HTTP/2 server is given in place
// of the accepted connection. It follows the frame boundaries of both
// directions byte for byte, whatever the chunking, and reports what it sees
// to its owner (events.go).
//
// Outbound it inserts, once per drain, GOAWAY(2^31-1)+PING between two of
// the server's frames where that is legal; ends a connection with frames
// of ours when its owner aborts it; and sends our FIN. It changes the
// server's bytes in two ways only: with a stream limit, the server's first
// SETTINGS advertises one stream less than the server enforces (limit.go);
// with per-stream deadlines, the server's reset of a stream past its
// deadline says CANCEL rather than INTERNAL_ERROR, and the reset of a
// stream the tap refused says REFUSED_STREAM where the stock server would
// (resetcodes.go).
//
// Inbound it changes the client's bytes in three ways only: a HEADERS frame
// that opens a stream over the advertised limit is rewritten so that the
// server refuses the stream itself (limit.go); without a Config.GoAway, the
// final GOAWAY of a drain is asked of the server by a client GOAWAY the tap
// inserts between two of the client's frames (splice.go); and once its
// owner has ended the connection with a GOAWAY of ours, the tap gives the
// server nothing more (RFC 9113 §6.8: streams above that GOAWAY's
// last-stream-id are not processed), as the stock server discards every
// frame after its own error GOAWAY.
type conn struct {
	nc  net.Conn    // the accepted connection: *tls.Conn, or TCP for h2c
	own *Supervisor // the owner (events.go); concrete, so that no event escapes to the heap
	cfg tapConfig

	// Owned by the server's reading goroutine (inbound.go).
	in         frame.Tracker
	inMax      uint32   // highest client stream id in a HEADERS frame
	block      uint32   // the new stream whose header block is still arriving; 0 if none
	blockEnd   bool     // END_STREAM came with that block's HEADERS
	blockRef   bool     // that stream is refused
	blockAgain bool     // that stream is one the tap refused before (refusedAgain)
	reported   bool     // an incomplete header block was reported open (HeaderTimeout)
	prefaced   bool     // evPreface was reported
	spoke      bool     // evClientSettings was reported
	iev        event    // the event being reported (report)
	head       headers  // the HEADERS frame whose header was looked at (limit.go)
	pend       *pending // what the tap holds for the server, and a rewrite under way; nil if neither
	rbuf       []byte   // Read's buffer, kept here rather than live on Read's frame

	inState  atomic.Uint32          // inCut, and the spliced client GOAWAY's progress (splice.go)
	behind   atomic.Bool            // the server may not have taken in the last stream given to it
	onCaught atomic.Pointer[func()] // to run once it has (afterDelivered)
	unacked  atomic.Int32           // the server's SETTINGS frames the client has not ACKed, its first included
	dataSent atomic.Bool            // the server sent HEADERS or DATA since the client's last PING

	// Work the owner posts for the write side (outbound.go). Only the
	// server's own writes ever wait for wmu: whoever holds it carries the
	// work out before releasing it, and posting bumps gen so that a holder
	// that looked too early looks again (see kick).
	notice   atomic.Pointer[[]byte]      // GOAWAY(2^31-1)+PING to insert at a safe point
	abort    atomic.Pointer[abortFrames] // our last frames (RST_STREAM, error GOAWAY), then our FIN
	wantShut atomic.Bool                 // shut the write side once at a frame boundary
	gen      atomic.Uint32

	// wmu serializes every write to the connection, the server's and ours,
	// and guards the fields below.
	wmu         sync.Mutex
	out         frame.Tracker
	sawSettings bool   // the server wrote its first SETTINGS
	goneAway    bool   // the server wrote a GOAWAY: ours may no longer follow
	shut        bool   // our FIN is out (or the conn closed): writes are discarded
	serverLast  uint32 // the lowest last-stream-id the server wrote in a GOAWAY
	outNotice   []byte // the notice to insert in the write under way, at outAt
	outAt       int
	outAct      drain.Action // what out events asked for, to run after wmu

	closed atomic.Bool // Close reported evClosed
}

// init prepares the tap over nc.
func (c *conn) init(nc net.Conn, own *Supervisor, cfg tapConfig) {
	c.nc, c.own, c.cfg = nc, own, cfg
	// The server's first SETTINGS counts as unacknowledged from the start,
	// as in the server itself: it is queued before any client frame is read.
	c.unacked.Store(1)
	if !cfg.sawPreface {
		c.in.ExpectPreface()
	} else {
		c.prefaced = true // the owner knows from the configuration
	}
	if cfg.upgraded {
		c.inMax = 1
	}
}

// tlsConn is a tap over a TLS connection: handlers see r.TLS and the
// server runs its TLS checks (RFC 9113 §9.2) only through ConnectionState.
type tlsConn struct{ *conn }

// ConnectionState forwards the TLS connection state.
func (c tlsConn) ConnectionState() tls.ConnectionState {
	return c.nc.(interface{ ConnectionState() tls.ConnectionState }).ConnectionState()
}

// NetConn returns the accepted connection the tap wraps (as *tls.Conn does).
func (c *conn) NetConn() net.Conn { return c.nc }

func (c *conn) LocalAddr() net.Addr  { return c.nc.LocalAddr() }
func (c *conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }
func (c *conn) SetDeadline(t time.Time) error {
	c.noteReadDeadline(t)
	return c.nc.SetDeadline(t)
}

func (c *conn) SetReadDeadline(t time.Time) error {
	c.noteReadDeadline(t)
	return c.nc.SetReadDeadline(t)
}

func (c *conn) SetWriteDeadline(t time.Time) error { return c.nc.SetWriteDeadline(t) }

// Close closes the connection. It is safe to call more than once.
func (c *conn) Close() error {
	if c.closed.Load() {
		return net.ErrClosed // closing nc again would only make its error (an allocation)
	}
	err := c.nc.Close()
	if c.closed.CompareAndSwap(false, true) {
		c.own.tapEvent(&event{kind: evClosed})
	}
	return err
}

// closeRaw closes the transport under TLS, without a close_notify that
// could block behind a full window, and makes writes void.
func (c *conn) closeRaw() {
	raw := c.nc
	if tc, ok := raw.(*tls.Conn); ok {
		raw = tc.NetConn()
	}
	raw.Close()
	c.Close()
}
