package lifecycle

import (
	"encoding/binary"

	"github.com/h2lifecycle/h2lifecycle/internal/frame"
)

// The stream limit (Config.AdvertiseMaxStreams).
//
// The HTTP/2 server counts a stream as closed only when its serve loop has
// taken in the write that ended it, which can be after the client has read
// that write and opened its next stream: the server then refuses a stream
// the client opened within the limit (golang/go#42777). So the server is
// configured to enforce one stream more than the tap advertises in its
// first SETTINGS, and the tap itself refuses a stream that really exceeds
// the advertised limit (RFC 9113 §5.1.2: a stream error, PROTOCOL_ERROR or
// REFUSED_STREAM). It counts what the client can count: streams the client
// opened and has not seen end (owner.clientStreams), counting a stream
// ended as soon as the server writes its end, before the client reads it,
// so a client within the limit is never refused.
//
// A stream is refused by the server itself, with the stock server's code
// and stream state: the tap rewrites the HEADERS frame that opens it into a
// HEADERS frame that carries only a priority making the stream depend on
// itself, followed by a CONTINUATION with the frame's header block
// fragment, unchanged (frame.AppendRefusedHeaders; padding and the
// original priority fields are dropped). The server decodes the whole
// header block, so its HPACK state stays in step with the client's; it
// takes the stream id, so HEADERS sent again on that id gets the stock
// server's connection error; and it resets the stream with
// RST_STREAM(PROTOCOL_ERROR) before a handler can run (RFC 9113 §5.3.1: a
// stream cannot depend on itself). Nothing of the client's header block
// is altered, so no byte the client controls can turn the refusal into a
// request, and the tap reads a frame's header whole before it gives any of
// it to the server (reading on if it arrived split), so no chunking can
// either. internal/conformance pins the server's answer on both
// toolchains.

// headers is what the tap decided about a HEADERS frame when its header
// arrived, for when the frame ends.
type headers struct {
	id      uint32
	valid   bool // decided at the frame's header
	isNew   bool // it opens a stream
	open    bool // it carries trailers of an open stream
	refused bool // it opens a stream over the advertised limit
	again   bool // it names a stream the tap refused, not yet reset by the server (refusedAgain)
}

// rewrite is the payload of a refused HEADERS frame on its way to the
// server (kept in pending, which lives as long as it): of its bytes (pos is the next one's index), the first skip
// (pad length, priority fields) and those past skip+frag (padding) are
// dropped.
type rewrite struct {
	active          bool
	pos, skip, frag uint32
}

// keep moves, of the payload bytes p[off:off+k], those to keep to p[w:],
// and returns how many it kept.
func (x *rewrite) keep(p []byte, off, k, w int) int {
	a, b := x.pos, x.pos+uint32(k)
	x.pos = b
	lo, hi := max(a, x.skip), min(b, x.skip+x.frag)
	if lo >= hi {
		return 0
	}
	return copy(p[w:], p[off+int(lo-a):off+int(hi-a)])
}

// gather copies into dst the next bytes the server would read: from p,
// then from what the tap holds.
func (c *conn) gather(dst []byte, p []byte) int {
	n := copy(dst, p)
	if c.pend != nil && n < len(dst) {
		n += copy(dst[n:], c.pend.held)
	}
	return n
}

// lookAtHeader looks at the frame starting at p[off] before the server can
// read any of it. It reports whether it stopped the read there: the rest of
// p[off:n] (and err) is held, either until enough bytes arrive to decide,
// or behind the rewritten header of a refused stream.
func (c *conn) lookAtHeader(p []byte, off, n int, err error) bool {
	var b [frame.HeaderLen + 1]byte
	got := c.gather(b[:], p[off:n])
	// With a read error behind these bytes no more will come: the frame
	// never completes, and the server gets what there is, then the error.
	more := err == nil && (c.pend == nil || c.pend.heldErr == nil)
	if more && (got < 4 || (frame.Type(b[3]) == frame.TypeHeaders && got < frame.HeaderLen)) {
		c.holdBack(p[off:n], frame.HeaderLen, err)
		return true
	}
	if got < frame.HeaderLen {
		return false
	}
	if frame.Type(b[3]) != frame.TypeHeaders {
		return false
	}
	h := frame.ParseHeader(b[:])
	c.head = c.decide(h.StreamID, true)
	if !c.head.refused {
		return false
	}
	padded := h.Flags.Has(frame.FlagPadded)
	if padded && h.Length > 0 && got < frame.HeaderLen+1 {
		if !more {
			return false // the pad length never comes: the frame is cut short
		}
		c.holdBack(p[off:n], frame.HeaderLen+1, err)
		return true
	}
	var skip, pad uint32
	if padded {
		skip++
		if h.Length > 0 {
			pad = uint32(b[frame.HeaderLen])
		}
	}
	if h.Flags.Has(frame.FlagPriority) {
		skip += 5
	}
	if h.Length < skip || pad > h.Length-skip {
		// Malformed (RFC 9113 §6.2): the server answers it as the stock
		// server does, and serves no stream for it (inFrame: a pad too
		// long opens none; a frame too short is a connection error).
		c.head.refused = false
		return false
	}
	c.refuse(p, off, n, err, &b, h, skip, h.Length-skip-pad)
	return true
}

// refuse rewrites the header of the refused HEADERS frame h, whose first
// bytes are in b and start at p[off]: the tracker takes the client's
// header, the server is given ours next, and the frame's payload follows,
// filtered by pend.xf.
func (c *conn) refuse(p []byte, off, n int, err error, b *[frame.HeaderLen + 1]byte, h frame.Header, skip, frag uint32) {
	fromP := min(frame.HeaderLen, n-off)
	rest := p[off+fromP : n]
	if c.pend != nil && fromP < frame.HeaderLen { // the header's end is held
		c.pend.held = c.pend.held[frame.HeaderLen-fromP:]
	}
	ours := frame.AppendRefusedHeaders(nil, h.StreamID, h.Flags.Has(frame.FlagEndStream), h.Flags.Has(frame.FlagEndHeaders), frag)
	c.holdBack(rest, 0, err)
	c.pend.inject = ours
	if _, done := c.in.Next(b[:frame.HeaderLen]); done { // an empty payload: the frame ends here
		c.inFrame(c.in.Last())
		return
	}
	c.pend.xf = rewrite{active: true, skip: skip, frag: frag}
}

// advertise makes the SETTINGS frame f advertise Config.AdvertiseMaxStreams
// as SETTINGS_MAX_CONCURRENT_STREAMS: the server behind enforces one more
// (see above). A SETTINGS frame split across writes (x/net writes it
// first, whole) keeps the server's value, one more than advertised; still a
// limit it enforces.
func (c *conn) advertise(f []byte) {
	for i := frame.HeaderLen; i+6 <= len(f); i += 6 {
		if binary.BigEndian.Uint16(f[i:]) == settingMaxConcurrentStreams {
			binary.BigEndian.PutUint32(f[i+2:], c.cfg.advertise)
		}
	}
}

const settingMaxConcurrentStreams = 0x3 // RFC 9113 §6.5.2
