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
	p = c.observeOut(p)
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

// observeOut follows the server's bytes p and returns what to write: p,
// or a copy whose first SETTINGS advertises the stream limit (limit.go),
// or whose resets say CANCEL or REFUSED_STREAM (resetcodes.go). It takes the notice
// into c.outNotice when p passes a safe point for it. Call with wmu held.
//
//go:noinline
func (c *conn) observeOut(p []byte) []byte {
	copied := false // p is our copy
	c.outNotice = nil
	for off := 0; off < len(p); {
		if c.outNotice == nil && c.notice.Load() != nil && c.canInject() {
			if np := c.notice.Swap(nil); np != nil {
				c.outNotice, c.outAt = *np, off
			}
		}
		start := -1
		if !c.sawSettings && c.cfg.advertise > 0 && c.out.Boundary() {
			start = off // the server's first SETTINGS may begin here
		}
		k, done := c.out.Next(p[off:])
		off += k
		if !done {
			continue
		}
		f := c.out.Last()
		switch {
		case start >= 0 && f.Type == frame.TypeSettings:
			p, copied = own(p, copied)
			c.advertise(p[start:off])
		case f.Type == frame.TypeRSTStream:
			// A reset whose code was in an earlier write keeps it.
			switch c.emit(&event{kind: evServerReset, stream: f.StreamID, code: f.ErrCode(), flag: f.Length == 4 && off >= 4}) {
			case vCancel:
				p, copied = own(p, copied)
				binary.BigEndian.PutUint32(p[off-4:], uint32(frame.ErrCodeCancel))
			case vRefused:
				p, copied = own(p, copied)
				binary.BigEndian.PutUint32(p[off-4:], uint32(frame.ErrCodeRefusedStream))
			}
			continue
		}
		c.outFrame(f)
	}
	return p
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
func (c *conn) outFrame(f *frame.Frame) {
	switch f.Type {
	case frame.TypeHeaders, frame.TypeData:
		if c.cfg.pings && !c.dataSent.Load() {
			c.dataSent.Store(true)
		}
		if f.Flags.Has(frame.FlagEndStream) {
			c.emit(&event{kind: evServerEnd, stream: f.StreamID})
		}
	case frame.TypePing:
		if !f.Flags.Has(frame.FlagAck) && f.Length == 8 {
			c.emit(&event{kind: evServerPing, data: f.PingData()}) // the server's keepalive
		}
	case frame.TypeSettings:
		if !f.Flags.Has(frame.FlagAck) {
			if c.sawSettings {
				c.unacked.Add(1) // a later SETTINGS; the first is counted from the start
			}
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
	c.cut.Store(true)
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
