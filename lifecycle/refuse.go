package lifecycle

import (
	"go.uber.org/zap"

	"github.com/h2lifecycle/h2lifecycle/internal/frame"
)

// Refusing streams over the advertised limit.
//
// The server behind the tap enforces one stream more than the tap advertises
// (Config.AdvertiseMaxStreams; seed 001): its own count lags the wire, and a
// client that opens a stream the instant it reads another's END_STREAM must
// not be refused. A client that really exceeds the advertised limit must be
// (RFC 9113 §5.1.2: a stream error, PROTOCOL_ERROR or REFUSED_STREAM), and
// the tap counts what the client can count: the streams the client opened
// and has not seen end. It counts a stream ended as soon as the server
// writes its END_STREAM or RST_STREAM, which the client may not have read
// yet, so its count never exceeds the client's: a client within the limit is
// never refused.
//
// The stream is refused by the server itself, so that it never starts a
// handler and its HPACK decoder stays in step: the tap clears END_HEADERS on
// the frame that ends the stream's header block and delivers after it a
// CONTINUATION carrying one malformed field (frame.AppendRefusal). The server
// decodes the whole block, finds the field, and resets the stream with
// PROTOCOL_ERROR. The frame header must be whole in one Read to be changed;
// x/net reads frame headers whole, and when one arrives split the stream is
// served, within the limit the server enforces.

// carriesHeaderBlock reports whether a frame of type t (the fourth byte of its
// header) can carry a header block: the only frames checkStreamLimit needs
// to parse.
func carriesHeaderBlock(t byte) bool {
	return frame.Type(t) == frame.TypeHeaders || frame.Type(t) == frame.TypeContinuation
}

// checkStreamLimit looks at the header h of a frame about to be read: on a
// new stream over the limit, or the end of that stream's header block, it
// reports that END_HEADERS must be withheld (the frame header is whole in
// the server's buffer; the caller clears the flag).
func (c *Conn) checkStreamLimit(h frame.Header) bool {
	switch {
	case h.Type == frame.TypeHeaders && h.StreamID%2 == 1 && h.StreamID > c.inMax:
		c.refusing, c.refuseEnd = 0, false
		if c.s.streams.client.Load() < int32(c.s.advertise) {
			return false
		}
		c.refusing = h.StreamID
	case h.Type == frame.TypeContinuation && h.StreamID == c.refusing && h.StreamID != 0:
	default:
		return false
	}
	if !h.Flags.Has(frame.FlagEndHeaders) {
		return false
	}
	c.refuseEnd = true
	return true
}

// refuse is called when the frame whose END_HEADERS was withheld has been
// read to p[:end] of the n bytes read. It gives the server p[:end], then the
// refusal, then the rest. The stream never opens: the server resets it.
func (c *Conn) refuse(p []byte, end, n int, err error) (int, error) {
	id := c.refusing
	c.refusing, c.refuseEnd = 0, false
	c.inMax = max(c.inMax, id)
	c.inBlock = 0
	if c.pend == nil {
		c.pend = new(pending)
	}
	h := c.pend
	h.inject = frame.AppendRefusal(nil, id)
	if end < n { // not observed yet: before anything still held
		h.held = append(append(make([]byte, 0, n-end+len(h.held)), p[end:n]...), h.held...)
	}
	if err != nil {
		h.heldErr, err = err, nil
	}
	c.s.debug("refused a stream over the advertised limit", zap.Uint32("stream", id))
	return end, err
}

// pending is what the tap holds for the server after a refusal: kept out
// of line, as most connections never refuse a stream.
type pending struct {
	inject  []byte // our CONTINUATION, for the server before more of the client's bytes
	held    []byte // the client's bytes read and not yet given to the server
	heldErr error  // the read error that came with them
}

// readHeld is Read when the tap holds something: the refusal, then the
// client's bytes read behind it (observed now, as fresh reads are), then
// the read error that came with them.
func (c *Conn) readHeld(p []byte) (int, error) {
	h := c.pend
	switch {
	case len(h.inject) > 0:
		n := copy(p, h.inject)
		h.inject = h.inject[n:]
		c.releaseHeld()
		return n, nil
	case len(h.held) > 0:
		n := copy(p, h.held)
		h.held = h.held[n:]
		c.releaseHeld() // before observe, which may refuse again
		return c.observe(p, n, nil)
	default:
		err := h.heldErr
		h.heldErr = nil
		c.releaseHeld()
		return 0, err
	}
}

// releaseHeld drops the pending state once it holds nothing.
func (c *Conn) releaseHeld() {
	if h := c.pend; len(h.inject) == 0 && len(h.held) == 0 && h.heldErr == nil {
		c.pend = nil
	}
}
