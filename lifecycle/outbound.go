package lifecycle

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"net"
	"time"

	"github.com/h2lifecycle/h2lifecycle/internal/frame"
)

// The outbound side of the tap: the server's bytes on their way to the
// client, and the frames of ours that the owner posts.

// Write writes the server's bytes, observing its frames; a pending notice
// goes at the first safe point in them, or right after them.
func (c *conn) Write(p []byte) (int, error) {
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
	// runtime grow that goroutine's stack on every flush (DESIGN.md, rule
	// 7).
	p = c.observeWrite(p)
	var n int
	var err error
	if c.outNotice == nil {
		n, err = c.nc.Write(p)
	} else {
		n, err = c.writeWithNotice(p)
		c.emit(&event{kind: evNoticeWritten})
	}
	if c.notice.Load() != nil || c.wantShut.Load() || c.abort.Load() != nil {
		c.serviceLocked()
	}
	act := c.outAct
	c.outAct = 0
	c.wmu.Unlock()
	if act != 0 {
		c.own.run(act)
	}
	if c.gen.Load() != gen {
		c.kick() // work was posted while we held the lock
	}
	return n, err
}

// observeWrite follows the server's bytes p (observeOut) and returns what
// to write. It reports the streams the server ended itself, a batch at a
// time, once observeOut has returned: from under observeOut, the
// supervisor's work on them grew x/net's flush goroutine's stack at every
// response (DESIGN.md, rule 7; TestWritePathFitsFlushStack). Its frame,
// with the batch, is gone before the write. Call with wmu held.
//
//go:noinline
func (c *conn) observeWrite(p []byte) []byte {
	ps := outPass{p: p}
	c.outNotice = nil
	for ps.off < len(ps.p) {
		c.observeOut(&ps)
		if ps.n > 0 {
			c.outAct |= c.own.serverEndedAll(ps.ends[:ps.n])
			ps.n = 0
		}
	}
	return ps.p
}

// outPass is observeWrite's state across its calls of observeOut: the
// bytes to write and how far they were followed, whether they are our
// copy, and the streams ended and not yet reported.
type outPass struct {
	p      []byte
	off    int
	copied bool
	n      int
	ends   [8]uint32
}

// observeOut follows the server's bytes ps.p from ps.off, to the end or to
// the frame that filled ps's batch of ended streams. It makes ps.p a copy
// when it changes the bytes: the first SETTINGS advertises the stream
// limit (limit.go), resets say CANCEL or REFUSED_STREAM (resetcodes.go).
// It takes the notice into c.outNotice when ps.p passes a safe point for
// it.
//
//go:noinline
func (c *conn) observeOut(ps *outPass) {
	for ps.off < len(ps.p) && ps.n < len(ps.ends) {
		off := ps.off
		if c.outNotice == nil && c.notice.Load() != nil && c.canInject() {
			if np := c.notice.Swap(nil); np != nil {
				c.outNotice, c.outAt = *np, off
			}
		}
		start := -1
		if !c.sawSettings && c.cfg.advertise > 0 && c.out.Boundary() {
			start = off // the server's first SETTINGS may begin here
		}
		k, done := c.out.Next(ps.p[off:])
		ps.off += k
		if !done {
			continue
		}
		f := c.out.Last()
		switch {
		case f.Type == frame.TypeRSTStream:
			c.outReset(ps, f)
			continue
		case start >= 0 && f.Type == frame.TypeSettings:
			c.outFirstSettings(ps, start) // and outFrame: it is the server's first SETTINGS
		}
		c.outFrame(f, ps)
	}
}

// outFirstSettings makes the server's first SETTINGS, ps.p[start:ps.off],
// advertise the stream limit (limit.go). Out of observeOut, as the other
// rare frames are: its frame stays small (rule 7).
//
//go:noinline
func (c *conn) outFirstSettings(ps *outPass, start int) {
	ps.p, ps.copied = own(ps.p, ps.copied)
	c.advertise(ps.p[start:ps.off])
}

// outReset reports the server's RST_STREAM f, ending at ps.off, and
// rewrites its code when the owner says so (resetcodes.go).
//
//go:noinline
func (c *conn) outReset(ps *outPass, f *frame.Frame) {
	c.flushEnds(ps) // in order: the same stream may have ended first
	off := ps.off
	// A reset whose code was in an earlier write keeps it.
	switch c.emit(&event{kind: evServerReset, stream: f.StreamID, code: f.ErrCode(), flag: f.Length == 4 && off >= 4}) {
	case vCancel:
		ps.p, ps.copied = own(ps.p, ps.copied)
		binary.BigEndian.PutUint32(ps.p[off-4:], uint32(frame.ErrCodeCancel))
	case vRefused:
		ps.p, ps.copied = own(ps.p, ps.copied)
		binary.BigEndian.PutUint32(ps.p[off-4:], uint32(frame.ErrCodeRefusedStream))
	}
}

// flushEnds reports the streams in ps's batch as ended by the server, in
// the order the server ended them, before any other out event: the owner
// hears everything in wire order. (observeWrite reports the batch itself,
// from higher in the stack; the other events are rare.) Call with wmu
// held.
//
//go:noinline
func (c *conn) flushEnds(ps *outPass) {
	if ps.n == 0 {
		return
	}
	c.outAct |= c.own.serverEndedAll(ps.ends[:ps.n])
	ps.n = 0
}

// emit reports an out event, keeping the actions it returns for after the
// write lock. Call with wmu held.
func (c *conn) emit(e *event) verdict {
	v := c.own.tapEvent(e)
	c.outAct |= e.act
	return v
}

// own returns p, copied first unless it is our copy already: io.Writer may
// not change the caller's bytes.
func own(p []byte, copied bool) ([]byte, bool) {
	if copied {
		return p, true
	}
	return bytes.Clone(p), true
}

// outFrame observes a frame the server is writing. Call with wmu held.
func (c *conn) outFrame(f *frame.Frame, ps *outPass) {
	switch f.Type {
	case frame.TypeHeaders, frame.TypeData:
		if c.cfg.pings && !c.dataSent.Load() {
			c.dataSent.Store(true)
		}
		if f.Flags.Has(frame.FlagEndStream) {
			ps.ends[ps.n] = f.StreamID // observeOut stops when the batch is full
			ps.n++
		}
		return
	case frame.TypeSettings:
		if !f.Flags.Has(frame.FlagAck) {
			if c.sawSettings {
				c.unacked.Add(1) // a later SETTINGS; the first is counted from the start
			}
			c.sawSettings = true
		}
		return
	}
	c.outOther(f, ps)
}

// outOther observes the server's other frames: PING, GOAWAY, PUSH_PROMISE.
//
//go:noinline
func (c *conn) outOther(f *frame.Frame, ps *outPass) {
	c.flushEnds(ps) // in order, before any other event
	switch f.Type {
	case frame.TypePing:
		if !f.Flags.Has(frame.FlagAck) && f.Length == 8 {
			c.emit(&event{kind: evServerPing, data: f.PingData()}) // the server's keepalive
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
		c.emit(&event{kind: evServerGoAway, stream: last, code: code})
	case frame.TypePushPromise:
		c.emit(&event{kind: evServerPush, stream: f.PromisedID()})
	}
}

// canInject reports whether a frame may be inserted now (DESIGN.md, rules
// 2 and 3): at a frame boundary outside a header block, after the server's
// first SETTINGS, and never after the server's own GOAWAY. Call with wmu
// held.
func (c *conn) canInject() bool {
	return c.out.Boundary() && c.sawSettings && !c.goneAway
}

// writeWithNotice writes p with the notice inserted at offset outAt, and
// returns how many bytes of p were written.
func (c *conn) writeWithNotice(p []byte) (int, error) {
	notice, at := c.outNotice, c.outAt
	c.outNotice = nil
	bufs := net.Buffers{p[:at], notice, p[at:]}
	w, err := bufs.WriteTo(c.nc)
	n := int(w)
	switch {
	case n >= at+len(notice):
		n -= len(notice)
	case n > at:
		n = at
	}
	return n, err
}

// postNotice asks for GOAWAY(2^31-1)+PING at the next safe point, and
// postShut for our FIN once every byte the server wrote is out. Both return
// at once: the write may block on a full TCP window (DESIGN.md, rule 4), so
// it happens on a goroutine of its own, or on the server's writing
// goroutine if that holds the lock. No write deadline: it would corrupt a
// TLS connection for good.
func (c *conn) postNotice(notice []byte) {
	c.notice.Store(&notice)
	c.gen.Add(1)
	go c.kick()
}

func (c *conn) postShut() {
	c.wantShut.Store(true)
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

// postAbort asks for frames to end the connection with, written at the
// next frame boundary and followed at once by our FIN, so that the server
// cannot write a GOAWAY with a higher last-stream-id after ours. The
// GOAWAY's last-stream-id is settled when it is written: never above one
// the server has written meanwhile (RFC 9113 §6.8). The inbound side is
// cut at once: nothing the client sends from now on reaches the server.
func (c *conn) postAbort(a *abortFrames) {
	c.setCut()
	c.abort.Store(a)
	c.wantShut.Store(true)
	c.gen.Add(1)
	go c.kick()
}

// kick carries out posted work if the write lock is free. If it is not,
// its holder carries it out: the holder checks for posted work, and for a
// change of gen, after releasing the lock.
func (c *conn) kick() {
	for {
		gen := c.gen.Load()
		if !c.wmu.TryLock() {
			return
		}
		c.serviceLocked()
		act := c.outAct
		c.outAct = 0
		c.wmu.Unlock()
		if act != 0 {
			c.own.run(act)
		}
		if c.gen.Load() == gen {
			return
		}
	}
}

// serviceLocked carries out the posted work that the stream allows now: the
// notice at a safe point, our FIN at a frame boundary. What it cannot do yet
// waits for the server's next write, which ends the frame or block it is
// in. Call with wmu held.
func (c *conn) serviceLocked() {
	if c.shut {
		c.notice.Store(nil)
		c.abort.Store(nil)
		return
	}
	if c.abort.Load() != nil {
		c.notice.Store(nil) // the connection ends without a drain
		// Never before the server's first SETTINGS (RFC 9113 §3.4).
		if c.out.Boundary() && c.sawSettings {
			a := c.abort.Swap(nil)
			last := a.last
			if c.goneAway {
				last = min(last, c.serverLast)
			}
			c.nc.Write(frame.AppendGoAway(a.frames, last, a.code, a.reason))
			c.shut = true
			c.closeWrite()
		}
		return
	}
	if c.notice.Load() != nil && c.canInject() {
		if np := c.notice.Swap(nil); np != nil {
			c.nc.Write(*np) // an error surfaces on the server's next read or write
			c.emit(&event{kind: evNoticeWritten})
		}
	}
	if c.wantShut.Load() && c.out.Boundary() {
		c.shut = true
		c.notice.Store(nil)
		c.closeWrite()
	}
}

// closeWrite sends our FIN, after TLS's close_notify.
func (c *conn) closeWrite() {
	type closeWriter interface{ CloseWrite() error }
	if tc, ok := c.nc.(*tls.Conn); ok {
		tc.CloseWrite() // close_notify; it does not shut the TCP side
		if cw, ok := tc.NetConn().(closeWriter); ok {
			cw.CloseWrite()
		}
		return
	}
	if cw, ok := c.nc.(closeWriter); ok {
		cw.CloseWrite()
	}
}

// resetAndClose resets the streams still open and closes the connection. A
// peer that stopped reading holds the write lock through the server's
// blocked write: then there is nothing to say, only to close.
func (c *conn) resetAndClose(ids []uint32) {
	if len(ids) > 0 && c.wmu.TryLock() {
		if !c.shut && c.out.Boundary() && c.sawSettings {
			var b []byte
			for _, id := range ids {
				b = frame.AppendRSTStream(b, id, frame.ErrCodeCancel)
			}
			// The connection is closed right after, so a deadline's lasting
			// effect on TLS does not matter; it only bounds this write.
			c.nc.SetWriteDeadline(time.Now().Add(resetWriteTimeout))
			c.nc.Write(b)
		}
		c.shut = true
		c.wmu.Unlock()
	}
	c.closeRaw()
}

// resetWriteTimeout bounds the write of the final RST_STREAM frames.
const resetWriteTimeout = 250 * time.Millisecond
