package lifecycle

import "github.com/h2lifecycle/h2lifecycle/internal/frame"

// The inbound side of the tap: the client's bytes on their way to the
// server. The tap follows the client's frames with a tracker and reports
// what matters to its owner before the server reads it: the end of the
// preface, the client's first SETTINGS, streams opening and ending, header blocks left
// incomplete, PINGs and GOAWAYs.

// Read reads from the connection and observes the frames that end in what
// it read.
func (c *conn) Read(p []byte) (int, error) {
	if c.behind.Load() {
		c.caughtUp()
	}
	// The slow path also when the spliced GOAWAY is due: readSlow gives it
	// first if it can. No call here: each would add to Read's frame, which
	// stays on the idle reader's stack (observeRead).
	if v := c.inState.Load(); c.pend != nil || v&inCut != 0 || v&spliceMask == spliceWanted {
		return c.readSlow(p)
	}
	c.rbuf = p
	n, err := c.nc.Read(p)
	return c.observeRead(n, err)
}

// observeRead is observe for Read's buffer: Read's frame stays on the
// stack of x/net's reader goroutine while it waits for bytes, so it calls
// with as few arguments as it can (each needs spill space in that frame).
// With p passed, Go 1.26 kept idle connections' reader stacks at 4 KB
// instead of 2 KB (bench/memory: +1.6 KB per connection).
func (c *conn) observeRead(n int, err error) (int, error) {
	if err != nil && c.inState.Load()&inIntr != 0 {
		n, err = c.interrupted(n, err) // the tap's timeout: readSlow gives the GOAWAY
	}
	p := c.rbuf
	c.rbuf = nil
	m, err := c.observe(p, n, err)
	if m == 0 && err == nil && len(p) > 0 {
		return c.readSlow(p) // all of it held back: read on
	}
	return m, err
}

// pending is what the tap holds for the server: kept out of line, as most
// connections never need it (limit.go).
type pending struct {
	inject  []byte  // bytes of ours, for the server before more of the client's
	held    []byte  // the client's bytes read and not yet observed
	need    int     // how many bytes held must have before they are observed again
	heldErr error   // the read error that came after the held bytes
	xf      rewrite // the refused HEADERS frame whose payload is on its way
}

// readSlow is Read when the tap holds something, has cut the inbound side,
// or held back all it read. Every round either gives the server bytes,
// returns, or consumes bytes read from the network, so it cannot spin.
func (c *conn) readSlow(p []byte) (int, error) {
	for {
		var n int
		var err error
		if c.spliceDue() {
			c.trySplice()
		}
		h := c.pend
		switch {
		case c.isCut():
			c.pend = nil
			return c.swallow(p)
		case h == nil || (len(h.inject) == 0 && len(h.held) == 0 && h.need == 0 && h.heldErr == nil):
			// Nothing held (a rewrite may be under way): read the network.
			n, err = c.nc.Read(p)
			if err != nil && c.inState.Load()&inIntr != 0 {
				if n, err = c.interrupted(n, err); n == 0 && err == nil {
					continue // the interrupt's timeout, taken out: the GOAWAY may come now
				}
			}
			if n == 0 {
				return 0, err
			}
			n, err = c.observe(p, n, err)
		case len(h.inject) > 0:
			n = copy(p, h.inject)
			h.inject = h.inject[n:]
			c.releaseHeld()
			return n, nil
		case len(h.held) < h.need && h.heldErr == nil:
			if !c.readMore(h) {
				return 0, nil // the network gave nothing (only a fake one does that)
			}
			continue
		case len(h.held) > 0:
			n = copy(p, h.held)
			h.held, h.need = h.held[n:], 0
			n, err = c.observe(p, n, nil) // may hold bytes back again
			c.releaseHeld()
		default: // only the read error is left
			c.pend = nil
			return 0, h.heldErr
		}
		if n > 0 || err != nil || len(p) == 0 {
			return n, err
		}
	}
}

// readMore reads from the network the bytes h still needs, and no more:
// the server would be waiting for them anyway.
func (c *conn) readMore(h *pending) bool {
	var buf [frame.HeaderLen + 1]byte
	want := min(h.need-len(h.held), len(buf))
	k, err := c.netRead(buf[:want])
	h.held = append(h.held, buf[:k]...)
	h.heldErr = err
	return k > 0 || err != nil
}

// holdBack keeps p (the bytes of a read not yet observed), with err, for a
// later Read: ahead of what the tap holds already, until it holds need
// bytes.
func (c *conn) holdBack(p []byte, need int, err error) {
	if c.pend == nil {
		c.pend = new(pending)
	}
	h := c.pend
	h.held = append(append(make([]byte, 0, len(p)+len(h.held)), p...), h.held...)
	h.need = need
	if err != nil {
		h.heldErr = err
	}
}

// releaseHeld drops the pending state once it holds nothing.
func (c *conn) releaseHeld() {
	if h := c.pend; h != nil && len(h.inject) == 0 && len(h.held) == 0 && h.need == 0 && h.heldErr == nil && !h.xf.active {
		c.pend = nil
	}
}

// swallow reads and discards until the connection fails or its peer shuts
// its side: after our error GOAWAY the server is given nothing more (as
// the stock server processes nothing after its own), and is told of the
// end of the connection only when the peer or the supervisor ends it.
func (c *conn) swallow(p []byte) (int, error) {
	for {
		n, err := c.netRead(p)
		if err != nil || n == 0 {
			return 0, err
		}
	}
}

// observe follows the n bytes read into p and returns how many to give the
// server: normally n; fewer when the stream limit holds bytes back or
// rewrites a frame, or when the connection was cut.
func (c *conn) observe(p []byte, n int, err error) (int, error) {
	if n <= 0 || c.in.Lost() {
		return n, err
	}
	w := 0     // p[:w] goes to the server; w == off unless a rewrite dropped bytes
	start := 0 // where in p[:w] the frame being read began (0: in an earlier read)
	for off := 0; off < n; {
		if c.in.AtFrameStart() {
			start = w
			if c.cfg.advertise > 0 && c.lookAtHeader(p, off, n, err) {
				c.trackHeaderBlock()
				return w, nil // the rest is held (limit.go); its error with it
			}
		}
		k, done := c.in.Next(p[off:n])
		if x := c.rewriting(); x != nil {
			w += x.keep(p, off, k, w)
		} else {
			if w != off {
				copy(p[w:], p[off:off+k])
			}
			w += k
		}
		off += k
		if !c.prefaced && c.in.PrefaceDone() {
			c.prefaced = true
			c.report(event{kind: evPreface})
		}
		if !done {
			continue
		}
		if x := c.rewriting(); x != nil {
			x.active = false // the refused frame is over
		}
		if c.inFrame(c.in.Last())&vCut != 0 {
			// Our error GOAWAY is decided: the server must not take in
			// this stream, nor anything after it.
			c.setCut()
			c.pend = nil
			return start, err
		}
	}
	c.trackHeaderBlock()
	if c.spliceDue() {
		c.trySplice() // after the last frame of this read, if it ended one
	}
	if c.pend != nil {
		c.releaseHeld()
	}
	return w, err
}

// rewriting returns the rewrite under way, if any.
func (c *conn) rewriting() *rewrite {
	if c.pend != nil && c.pend.xf.active {
		return &c.pend.xf
	}
	return nil
}

// trackHeaderBlock reports when an incomplete header block begins and ends
// (HeaderTimeout): an event per transition, none per request whose block
// comes whole.
func (c *conn) trackHeaderBlock() {
	if !c.cfg.blocks {
		return
	}
	id, pending := c.in.HeadersPending()
	if pending == c.reported {
		return
	}
	c.reported = pending
	kind := evBlockClosed
	if pending {
		kind = evBlockOpen
	}
	c.report(event{kind: kind, stream: id})
}

// inFrame observes a frame the server is about to read in full.
func (c *conn) inFrame(f *frame.Frame) verdict {
	if f.Type != frame.TypeContinuation {
		c.block, c.blockAgain = 0, false // a header block can only go on with CONTINUATION (RFC 9113 §6.10)
	}
	switch f.Type {
	case frame.TypeHeaders:
		// Only HEADERS opens a stream (PRIORITY may name idle streams).
		// The server takes the stream in when its header block ends.
		id, h := f.StreamID, c.classify(f.StreamID)
		endStream := f.Flags.Has(frame.FlagEndStream)
		if h.isNew && f.HeadersPadTooLong() {
			// The server resets the stream before it takes it in: the id
			// stays idle (HEADERS on it again opens a stream, counted then),
			// and no stream opens, now or at the end of the block. Counted
			// open, it would stay open for ever when the server's reset goes
			// out before the block ends: a stream limit slot and the idle
			// clock lost, and HEADERS again on the id let through as
			// trailers, to a handler over the limit (FuzzDifferential,
			// input 9402890eb9ffb9ea).
			return 0
		}
		if !h.isNew {
			if h.open && endStream { // trailers
				c.report(event{kind: evClientEnd, stream: id})
			}
			if h.again {
				if !f.Flags.Has(frame.FlagEndHeaders) {
					c.block, c.blockAgain = id, true
					return 0
				}
				c.refusedAgainAfter(id)
			}
			return 0
		}
		c.inMax = max(c.inMax, id)
		if !f.Flags.Has(frame.FlagEndHeaders) {
			c.block, c.blockEnd, c.blockRef = id, endStream, h.refused
			return 0
		}
		return c.opened(id, endStream, h.refused)
	case frame.TypeContinuation:
		if id := c.block; id != 0 && f.StreamID == id && f.Flags.Has(frame.FlagEndHeaders) {
			c.block = 0
			if c.blockAgain {
				c.blockAgain = false
				c.refusedAgainAfter(id)
				return 0
			}
			return c.opened(id, c.blockEnd, c.blockRef)
		}
	case frame.TypeData:
		if f.Flags.Has(frame.FlagEndStream) {
			c.report(event{kind: evClientEnd, stream: f.StreamID})
		}
	case frame.TypeRSTStream:
		c.report(event{kind: evClientReset, stream: f.StreamID})
	case frame.TypePing:
		if f.Length != 8 {
			return 0 // a connection error the server will answer
		}
		if f.Flags.Has(frame.FlagAck) {
			c.report(event{kind: evPingAck, data: f.PingData()})
		} else if c.cfg.pings {
			c.report(event{kind: evClientPing, flag: c.dataSent.Swap(false)})
		}
	case frame.TypeSettings:
		switch {
		case f.Flags.Has(frame.FlagAck):
			if c.unacked.Load() > 0 {
				c.unacked.Add(-1)
			}
		case !c.spoke:
			// The end of the client's connection preface (RFC 9113 §3.4).
			c.spoke = true
			c.report(event{kind: evClientSettings})
		}
	case frame.TypeGoAway:
		if f.StreamID != 0 || f.Length < 8 {
			return 0 // a connection error the server will answer (RFC 9113 §6.8)
		}
		c.peerGoAway()
		c.report(event{kind: evClientGoAway})
	}
	return 0
}

// classify says what a HEADERS frame on stream id does: opens a new
// stream, or carries trailers of an open one. A stream id at or below the
// highest seen may still open a stream: the server does not take the id of
// a stream it rejects before taking it in (a malformed header block), so a
// client can send HEADERS on it again. Such a stream is counted as new,
// whatever the server makes of it: the owner must count every stream that
// could reach a handler.
func (c *conn) classify(id uint32) headers {
	if h := c.head; h.valid && h.id == id {
		c.head = headers{}
		return h // decided when its header arrived (limit.go)
	}
	return c.decide(id, false)
}

// decide is classify for a HEADERS frame whose header just arrived, and,
// if limit, whether its stream is over the advertised limit.
func (c *conn) decide(id uint32, limit bool) headers {
	h := headers{id: id, valid: limit}
	switch {
	case id%2 == 0: // even, or zero: a connection error the server will answer
		return h
	case id > c.inMax:
	default:
		v := c.report(event{kind: evIsOpen, stream: id})
		if v&vAgain != 0 {
			h.again = true // a stream the tap refused: passed on as it is (refusedAgain)
			return h
		}
		if v&vOpen != 0 {
			h.open = true
			return h
		}
	}
	h.isNew = true
	h.refused = limit && c.own.clientStreams() >= c.cfg.advertise
	return h
}

// The server takes in the frames the tap gives it one at a time: its reader
// reads a frame, hands it to the serve loop, and reads the next only once
// the loop has processed it (x/net's readFrames gate; pinned by
// internal/conformance). So when the server calls Read again after a
// stream's header block, it has taken the stream in, and its GOAWAY names
// it. The final GOAWAY of a drain waits for that (afterDelivered): the
// serve loop picks between a frame read and the shutdown message at random,
// and under load a stream read before the request could otherwise land
// above the GOAWAY's last-stream-id, unprocessed.

// caughtUp notes that the server came back for more: it has taken in every
// stream given to it.
func (c *conn) caughtUp() {
	c.behind.Store(false)
	if f := c.onCaught.Swap(nil); f != nil {
		(*f)()
	}
}

// afterDelivered runs f once the server has taken in every stream the tap
// has given it: at once if it has, or on the server's reading goroutine
// when it comes back for its next frame. f runs once.
func (c *conn) afterDelivered(f func()) {
	c.onCaught.Store(&f)
	if !c.behind.Load() {
		if g := c.onCaught.Swap(nil); g != nil {
			(*g)()
		}
	}
}

// refusedAgainAfter asks for refusedAgain once the server has taken in the
// header block on stream id that is given to it now. Out of line: inFrame
// runs on the reader's stack during the handshake.
//
//go:noinline
func (c *conn) refusedAgainAfter(id uint32) {
	c.behind.Store(true)
	c.afterDelivered(func() { c.own.refusedAgain(id) })
}

// opened reports the end of a new stream's header block.
func (c *conn) opened(id uint32, endStream, refused bool) verdict {
	if refused {
		// The stock server refuses with REFUSED_STREAM while the client has
		// not ACKed its SETTINGS (it may not know the limit), PROTOCOL_ERROR
		// after: the same count decides here, when the block ends.
		return c.report(event{kind: evStreamRefused, stream: id, flag: c.unacked.Load() > 0})
	}
	v := c.report(event{kind: evStreamOpened, stream: id, flag: endStream})
	if v&vCut == 0 {
		c.behind.Store(true) // the server is given the block's end now
	}
	return v
}

// report tells the owner about an inbound event, kept in the tap rather
// than on the stack of the server's reading goroutine: an event there
// deepened the reads' frames enough for the runtime to size goroutine
// stacks at 4 KB instead of 2 KB (bench/memory: +1.6 KB per idle
// connection). Only the server's reading goroutine calls it.
func (c *conn) report(e event) verdict {
	c.iev = e
	return c.own.tapEvent(&c.iev)
}
