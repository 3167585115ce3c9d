package lifecycle

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/h2lifecycle/h2lifecycle/drain"
	"github.com/h2lifecycle/h2lifecycle/internal/frame"
	"github.com/h2lifecycle/h2lifecycle/ping"
)

// Conn is the frame tap: the net.Conn the HTTP/2 server is given in place of
// the accepted connection. Outbound it observes, and once per drain inserts
// GOAWAY(2^31-1)+PING between two of the server's frames. Inbound it
// observes. It changes no other byte either way, with three exceptions. Two
// are for the stream limit (Config.AdvertiseMaxStreams): the server's first
// SETTINGS advertises one stream less than the server enforces, and a
// client that opens a stream over the advertised limit has that stream's
// header block ended with a malformed field, which the server resets (see
// refuse.go). The third is for per-stream limits: the server's reset of a
// stream past its deadline says CANCEL rather than INTERNAL_ERROR (see
// deadlines.go).
//
// Obtain it from [Supervisor.Conn]; a Conn over a TLS connection also has the
// ConnectionState method, so that handlers see r.TLS and the server runs its
// TLS checks (RFC 9113 §9.2).
type Conn struct {
	net.Conn // the accepted connection: *tls.Conn, or TCP for h2c
	s        *Supervisor

	// Owned by the server's reading goroutine.
	in        frame.Tracker
	inMax     uint32 // highest client stream id seen in a HEADERS frame
	inBlock   uint32 // the new stream whose header block is still arriving
	blockOpen bool   // a header block is incomplete (HeaderTimeout only)

	// Read by the supervisor's timer, written by the reading goroutine.
	settingsSeen atomic.Bool   // the client's first SETTINGS arrived
	blockStart   atomic.Int64  // when the incomplete header block began: 1 + nanoseconds since created; 0 if none
	blockStream  atomic.Uint32 // its stream
	dataSent     atomic.Bool   // the server sent HEADERS or DATA since the last client PING (ping enforcement)

	// Work the supervisor posts for the write side. Only the server's own
	// writes ever wait for wmu: whoever holds it carries the work out
	// before releasing it, and posting bumps gen so that a holder that
	// looked too early looks again (see kick).
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
	serverLast  uint32 // the lowest last-stream-id the server wrote in a GOAWAY
	shut        bool   // our FIN is out (or the conn closed): writes are discarded
	outNotice   []byte // the notice to insert in the write under way, at outAt
	outAt       int

	rbuf []byte // Read's buffer, kept here rather than live on Read's frame

	// Refusing a stream opened over the advertised limit (refuse.go).
	// Owned by the server's reading goroutine.
	refusing  uint32   // the new stream being refused
	refuseEnd bool     // the END_HEADERS of its header block is withheld
	pend      *pending // what the tap holds for the server; nil if nothing

	closeOnce sync.Once
}

// tlsConn is a Conn over a TLS connection.
type tlsConn struct{ *Conn }

// ConnectionState forwards the TLS connection state.
func (c tlsConn) ConnectionState() tls.ConnectionState {
	return c.Conn.Conn.(interface{ ConnectionState() tls.ConnectionState }).ConnectionState()
}

// NetConn returns the accepted connection the tap wraps.
func (c *Conn) NetConn() net.Conn { return c.Conn }

// Read reads from the connection and observes the frames that end in what
// it read.
func (c *Conn) Read(p []byte) (int, error) {
	if c.pend != nil {
		return c.readHeld(p)
	}
	c.rbuf = p
	n, err := c.Conn.Read(p)
	return c.observeRead(n, err)
}

// observeRead is observe for Read's buffer: Read's frame stays on the
// stack of x/net's reader goroutine while it waits for bytes, so it calls
// with as few arguments as it can (each needs spill space in that frame).
// With p passed, Go 1.26 kept idle connections' reader stacks at 4 KB
// instead of 2 KB (bench/memory: +1.6 KB per connection).
func (c *Conn) observeRead(n int, err error) (int, error) {
	p := c.rbuf
	c.rbuf = nil
	return c.observe(p, n, err)
}

// observe follows the n bytes the server is about to be given in p.
func (c *Conn) observe(p []byte, n int, err error) (int, error) {
	if n > 0 && !c.in.Lost() {
		var act drain.Action
		for off := 0; off < n; {
			withhold := c.s.advertise > 0 && c.in.AtFrameStart() && n-off >= frame.HeaderLen &&
				carriesHeaderBlock(p[off+3]) && c.checkStreamLimit(frame.ParseHeader(p[off:]))
			k, done := c.in.Next(p[off:n])
			if withhold { // after the tracker has read the header as sent
				p[off+4] &^= byte(frame.FlagEndHeaders)
			}
			off += k
			if !done {
				continue
			}
			if f := c.in.Last(); c.refuseEnd && f.StreamID == c.refusing && f.Flags.Has(frame.FlagEndHeaders) {
				n, err = c.refuse(p, off, n, err)
				break
			}
			act |= c.inFrame(c.in.Last())
		}
		if c.s.headerTimeout {
			c.trackHeaderBlock()
		}
		if act != 0 {
			c.s.run(act)
		}
	}
	return n, err
}

// trackHeaderBlock notes when an incomplete header block begins and ends,
// for the supervisor's HeaderTimeout check: a store per transition, no lock.
func (c *Conn) trackHeaderBlock() {
	id, pending := c.in.HeadersPending()
	if pending == c.blockOpen {
		return
	}
	c.blockOpen = pending
	if !pending {
		c.blockStart.Store(0)
		return
	}
	c.blockStream.Store(id)
	c.blockStart.Store(1 + int64(c.s.clock.Since(c.s.created)))
}

// inFrame observes a frame the server has just read in full.
func (c *Conn) inFrame(f *frame.Frame) drain.Action {
	switch f.Type {
	case frame.TypeHeaders:
		// Only HEADERS opens a stream (PRIORITY may name idle streams);
		// a HEADERS on a known stream carries trailers. The server takes
		// the stream in when its header block ends.
		if id := f.StreamID; id > c.inMax && id%2 == 1 {
			c.inMax = id
			if !f.Flags.Has(frame.FlagEndHeaders) {
				c.inBlock = id
				return 0
			}
			return c.s.streamOpened(id)
		}
	case frame.TypeContinuation:
		if id := c.inBlock; id != 0 && f.StreamID == id && f.Flags.Has(frame.FlagEndHeaders) {
			c.inBlock = 0
			return c.s.streamOpened(id)
		}
	case frame.TypeRSTStream:
		return c.s.streamEnded(f.StreamID, false)
	case frame.TypePing:
		if f.Length != 8 {
			return 0 // a connection error the server will answer
		}
		if !f.Flags.Has(frame.FlagAck) {
			return c.s.clientPing()
		}
		if ping.Ours(f.PingData()) {
			return c.s.pingAcked(f.PingData())
		}
		return c.s.serverPingAcked(f.PingData())
	case frame.TypeSettings:
		if !f.Flags.Has(frame.FlagAck) && !c.settingsSeen.Load() {
			c.settingsSeen.Store(true)
			return c.s.clientSpoke()
		}
	case frame.TypeGoAway:
		if f.StreamID != 0 || f.Length < 8 {
			return 0 // a connection error the server will answer (RFC 9113 §6.8)
		}
		return c.s.peerGoAway()
	}
	return 0
}

// Write writes the server's bytes, observing its frames; a pending notice
// goes at the first safe point in them, or right after them.
func (c *Conn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	gen := c.gen.Load()
	if c.shut {
		c.wmu.Unlock()
		// Our FIN is out: nothing more can reach the peer. Failing the write
		// would make the server close the connection now, and a close with
		// unread input makes the kernel send RST, which can destroy the
		// GOAWAY in flight. Let the server read on until the peer's FIN.
		return len(p), nil
	}
	// The bookkeeping returns before the write: x/net writes from a fresh
	// goroutine per flush, and a deeper stack during the write made the
	// runtime grow that goroutine's stack on every flush (DESIGN rule 7).
	p, act := c.observeOut(p)
	var n int
	var err error
	if c.outNotice == nil {
		n, err = c.Conn.Write(p)
	} else {
		n, err = c.writeWithNotice(p)
		act |= c.s.noticeWritten()
	}
	if c.notice.Load() != nil || c.wantShut.Load() || c.abort.Load() != nil {
		act |= c.serviceLocked()
	}
	c.wmu.Unlock()
	if act != 0 {
		c.s.run(act)
	}
	if c.gen.Load() != gen {
		c.kick() // work was posted while we held the lock
	}
	return n, err
}

// observeOut follows the server's bytes p and returns what to write: p,
// or a copy whose first SETTINGS advertises Config.AdvertiseMaxStreams, or
// whose deadline resets say CANCEL (deadlines.go). It
// takes the notice into c.outNotice when p passes a safe point for it.
// Call with wmu held.
//
//go:noinline
func (c *Conn) observeOut(p []byte) ([]byte, drain.Action) {
	var act drain.Action
	copied := false // p is our copy (own)
	c.outNotice = nil
	for off := 0; off < len(p); {
		if c.outNotice == nil && c.notice.Load() != nil && c.canInject() {
			if np := c.notice.Swap(nil); np != nil {
				c.outNotice, c.outAt = *np, off
			}
		}
		start := -1
		if !c.sawSettings && c.s.advertise > 0 && c.out.Boundary() {
			start = off // the server's first SETTINGS may begin here
		}
		k, done := c.out.Next(p[off:])
		off += k
		if done {
			f := c.out.Last()
			if start >= 0 && f.Type == frame.TypeSettings {
				p, copied = own(p, copied)
				c.advertise(p[start:off])
			}
			if f.Type != frame.TypeRSTStream {
				act |= c.outFrame(f)
				continue
			}
			// The server's reset of a stream past its write deadline says
			// CANCEL (deadlines.go); one whose code was in an earlier write
			// keeps it.
			internal := c.s.cancelDeadlines && f.Length == 4 && off >= 4 && f.ErrCode() == frame.ErrCodeInternal
			cancel, a := c.s.serverReset(f.StreamID, internal)
			if cancel {
				p, copied = own(p, copied)
				binary.BigEndian.PutUint32(p[off-4:], uint32(frame.ErrCodeCancel))
			}
			act |= a
		}
	}
	return p, act
}

// own returns p, copied first unless it is our copy already: io.Writer may
// not change the caller's bytes.
func own(p []byte, copied bool) ([]byte, bool) {
	if copied {
		return p, true
	}
	return bytes.Clone(p), true
}

// advertise makes the SETTINGS frame f advertise Config.AdvertiseMaxStreams
// as SETTINGS_MAX_CONCURRENT_STREAMS: the server behind enforces one more,
// because its stream count lags the wire by the one frame it may be
// writing off its serve loop, and a client that opens a stream the instant
// it reads another's END_STREAM would otherwise be refused
// (golang/go#42777). A SETTINGS frame split across writes (x/net writes it
// first, whole) keeps the server's value, one more than advertised; still a
// limit it enforces.
func (c *Conn) advertise(f []byte) {
	for i := frame.HeaderLen; i+6 <= len(f); i += 6 {
		if binary.BigEndian.Uint16(f[i:]) == settingMaxConcurrentStreams {
			binary.BigEndian.PutUint32(f[i+2:], c.s.advertise)
		}
	}
}

const settingMaxConcurrentStreams = 0x3 // RFC 9113 §6.5.2

// canInject reports whether a frame may be inserted now (DESIGN rules 2, 3):
// at a frame boundary outside a header block, after the server's first
// SETTINGS, and never after the server's own GOAWAY. Call with wmu held.
func (c *Conn) canInject() bool {
	return c.out.Boundary() && c.sawSettings && !c.goneAway
}

// writeWithNotice writes p with notice inserted at offset at, and returns
// how many bytes of p were written.
func (c *Conn) writeWithNotice(p []byte) (int, error) {
	notice, at := c.outNotice, c.outAt
	c.outNotice = nil
	bufs := net.Buffers{p[:at], notice, p[at:]}
	w, err := bufs.WriteTo(c.Conn)
	n := int(w)
	switch {
	case n >= at+len(notice):
		n -= len(notice)
	case n > at:
		n = at
	}
	return n, err
}

// outFrame observes a frame the server is writing. Call with wmu held.
func (c *Conn) outFrame(f *frame.Frame) drain.Action {
	switch f.Type {
	case frame.TypeHeaders, frame.TypeData:
		if c.s.enforcer != nil && !c.dataSent.Load() {
			c.dataSent.Store(true)
		}
		if f.Flags.Has(frame.FlagEndStream) {
			return c.s.streamEnded(f.StreamID, true)
		}
	case frame.TypePing:
		if !f.Flags.Has(frame.FlagAck) && f.Length == 8 {
			c.s.serverPingSent(f.PingData()) // the HTTP/2 server's keepalive
		}
	case frame.TypeSettings:
		if !f.Flags.Has(frame.FlagAck) {
			c.sawSettings = true
		}
	case frame.TypeGoAway:
		// RFC 9113 §6.8: last-stream-id must never increase; a pending
		// GOAWAY(2^31-1) may not follow this one.
		last, code := f.GoAway()
		if !c.goneAway || last < c.serverLast {
			c.serverLast = last
		}
		c.goneAway = true
		c.notice.Store(nil)
		return c.s.serverGoAway(last, code)
	case frame.TypePushPromise:
		return c.s.streamOpened(f.PromisedID())
	}
	return 0
}

// postNotice asks for GOAWAY(2^31-1)+PING at the next safe point, and
// postShut for our FIN once every byte the server wrote is out. Both return
// at once: the write may block on a full TCP window (DESIGN rule 4), so it
// happens on a goroutine of its own, or on the server's writing goroutine
// if that holds the lock. No write deadline: it would corrupt a TLS
// connection for good.
func (c *Conn) postNotice(notice []byte) {
	c.notice.Store(&notice)
	c.gen.Add(1)
	go c.kick()
}

// abortFrames ends a connection without a drain: frames (RST_STREAMs), then
// GOAWAY(last, code, reason), then our FIN.
type abortFrames struct {
	frames []byte
	last   uint32
	code   frame.ErrCode
	reason string
}

// postAbort asks for frames to end the connection with, written at the next
// frame boundary and followed at once by our FIN, so that the server cannot
// write a GOAWAY with a higher last-stream-id after ours. The GOAWAY's
// last-stream-id is settled when it is written: never above one the server
// has written meanwhile (RFC 9113 §6.8).
func (c *Conn) postAbort(a *abortFrames) {
	c.abort.Store(a)
	c.wantShut.Store(true)
	c.gen.Add(1)
	go c.kick()
}

func (c *Conn) postShut() {
	c.wantShut.Store(true)
	c.gen.Add(1)
	go c.kick()
}

// kick carries out posted work if the write lock is free. If it is not,
// its holder carries it out: the holder checks for posted work, and for a
// change of gen, after releasing the lock.
func (c *Conn) kick() {
	for {
		gen := c.gen.Load()
		if !c.wmu.TryLock() {
			return
		}
		act := c.serviceLocked()
		c.wmu.Unlock()
		c.s.run(act)
		if c.gen.Load() == gen {
			return
		}
	}
}

// serviceLocked carries out the posted work that the stream allows now: the
// notice at a safe point, our FIN at a frame boundary. What it cannot do yet
// waits for the server's next write, which ends the frame or block it is
// in. Call with wmu held.
func (c *Conn) serviceLocked() drain.Action {
	if c.shut {
		c.notice.Store(nil)
		c.abort.Store(nil)
		return 0
	}
	var act drain.Action
	if c.abort.Load() != nil {
		c.notice.Store(nil) // the connection ends without a drain
		// Never before the server's first SETTINGS (RFC 9113 §3.4).
		if c.out.Boundary() && c.sawSettings {
			a := c.abort.Swap(nil)
			last := a.last
			if c.goneAway {
				last = min(last, c.serverLast)
			}
			c.Conn.Write(frame.AppendGoAway(a.frames, last, a.code, a.reason))
			c.shut = true
			c.closeWrite()
		}
		return 0
	}
	if c.notice.Load() != nil && c.canInject() {
		if np := c.notice.Swap(nil); np != nil {
			c.Conn.Write(*np) // an error surfaces on the server's next read or write
			act = c.s.noticeWritten()
		}
	}
	if c.wantShut.Load() && c.out.Boundary() {
		c.shut = true
		c.notice.Store(nil)
		c.closeWrite()
	}
	return act
}

// closeWrite sends our FIN, after TLS's close_notify.
func (c *Conn) closeWrite() {
	type closeWriter interface{ CloseWrite() error }
	if tc, ok := c.Conn.(*tls.Conn); ok {
		tc.CloseWrite() // close_notify; it does not shut the TCP side
		if cw, ok := tc.NetConn().(closeWriter); ok {
			cw.CloseWrite()
		}
		return
	}
	if cw, ok := c.Conn.(closeWriter); ok {
		cw.CloseWrite()
	}
}

// resetAndClose resets the streams still open and closes the connection. A
// peer that stopped reading holds the write lock through the server's
// blocked write: then there is nothing to say, only to close.
func (c *Conn) resetAndClose(ids []uint32) {
	if len(ids) > 0 && c.wmu.TryLock() {
		if !c.shut && c.out.Boundary() && c.sawSettings {
			var b []byte
			for _, id := range ids {
				b = frame.AppendRSTStream(b, id, frame.ErrCodeCancel)
			}
			// The connection is closed right after, so a deadline's lasting
			// effect on TLS does not matter; it only bounds this write.
			c.Conn.SetWriteDeadline(time.Now().Add(resetWriteTimeout))
			c.Conn.Write(b)
		}
		c.shut = true
		c.wmu.Unlock()
	}
	c.closeRaw()
}

// resetWriteTimeout bounds the write of the final RST_STREAM frames.
const resetWriteTimeout = 250 * time.Millisecond

// closeRaw closes the transport under TLS, without a close_notify that
// could block behind a full window, and makes writes void.
func (c *Conn) closeRaw() {
	raw := c.Conn
	if tc, ok := raw.(*tls.Conn); ok {
		raw = tc.NetConn()
	}
	raw.Close()
	c.Close()
}

// Close closes the connection. It is safe to call more than once.
func (c *Conn) Close() error {
	err := c.Conn.Close()
	c.closeOnce.Do(c.s.connGone)
	return err
}
