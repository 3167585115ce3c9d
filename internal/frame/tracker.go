package frame

import "encoding/binary"

// Frame is a frame the tracker has seen end: its header and the first bytes
// of its payload, as many as its type needs (see [Tracker]).
type Frame struct {
	Header
	prefix [8]byte
}

// PingData returns the opaque data of a PING frame.
func (f *Frame) PingData() [8]byte { return f.prefix }

// GoAway returns the last-stream-id and error code of a GOAWAY frame.
func (f *Frame) GoAway() (lastStreamID uint32, code ErrCode) {
	return binary.BigEndian.Uint32(f.prefix[0:4]) & MaxStreamID,
		ErrCode(binary.BigEndian.Uint32(f.prefix[4:8]))
}

// ErrCode returns the error code of a RST_STREAM frame.
func (f *Frame) ErrCode() ErrCode { return ErrCode(binary.BigEndian.Uint32(f.prefix[0:4])) }

// PromisedID returns the promised stream id of a PUSH_PROMISE frame.
func (f *Frame) PromisedID() uint32 {
	if f.Flags.Has(FlagPadded) {
		return binary.BigEndian.Uint32(f.prefix[1:5]) & MaxStreamID
	}
	return binary.BigEndian.Uint32(f.prefix[0:4]) & MaxStreamID
}

// EndsStream reports whether the frame carries END_STREAM (DATA, HEADERS).
func (f *Frame) EndsStream() bool {
	return (f.Type == TypeData || f.Type == TypeHeaders) && f.Flags.Has(FlagEndStream)
}

// Tracker follows the frame boundaries of one direction of an HTTP/2
// connection. Feed it every byte in order with [Tracker.Next]; it allocates
// nothing. The zero Tracker expects a frame header first (the server's
// direction, or a client whose preface was consumed elsewhere); call
// [Tracker.ExpectPreface] before the first byte of a client's direction.
type Tracker struct {
	hdr     [HeaderLen]byte
	nhdr    uint8 // header bytes collected; HeaderLen while in a payload
	want    uint8 // payload prefix bytes wanted for the current frame
	npre    uint8 // payload prefix bytes collected
	preface uint8 // client preface bytes still expected
	inBlock bool  // between a HEADERS/PUSH_PROMISE without END_HEADERS and its last CONTINUATION
	lost    bool  // the stream did not start with the client preface
	rem     uint32
	cur     Frame
}

// ExpectPreface makes the tracker expect the 24-byte client connection
// preface before the first frame (RFC 9113 §3.4). Call it before feeding any
// byte; not when net/http has already consumed the preface (h2c prior
// knowledge, where http2.ServeConnOpts.SawClientPreface is set).
func (t *Tracker) ExpectPreface() { t.preface = uint8(len(ClientPreface)) }

// PrefaceDone reports whether the client preface, if one was expected, has
// arrived whole.
func (t *Tracker) PrefaceDone() bool { return t.preface == 0 && !t.lost }

// Lost reports whether the stream did not start with the client preface. A
// lost tracker consumes everything and reports no frames.
func (t *Tracker) Lost() bool { return t.lost }

// Boundary reports whether the bytes fed so far end exactly at a frame
// boundary outside a header block: the only place where a frame may be
// inserted into the stream (RFC 9113 §4.3, §6.10).
func (t *Tracker) Boundary() bool {
	return t.nhdr == 0 && t.preface == 0 && !t.inBlock && !t.lost
}

// AtFrameStart reports whether the next byte fed is the first of a frame
// header (the preface, if expected, is behind).
func (t *Tracker) AtFrameStart() bool {
	return t.nhdr == 0 && t.preface == 0 && !t.lost
}

// InHeaderBlock reports whether a header block has started and not ended.
func (t *Tracker) InHeaderBlock() bool { return t.inBlock }

// Partial returns the header of the frame whose payload is being read, if
// the bytes fed so far end inside a payload.
func (t *Tracker) Partial() (Header, bool) {
	if t.nhdr == HeaderLen && t.rem > 0 {
		return t.cur.Header, true
	}
	return Header{}, false
}

// HeadersPending reports whether a header block is incomplete — one has
// started and not ended, or a HEADERS frame (the start of one) is still
// arriving — and for which stream. While it is, the connection can carry
// nothing else inbound (RFC 9113 §6.10).
func (t *Tracker) HeadersPending() (streamID uint32, pending bool) {
	if t.inBlock || (t.nhdr == HeaderLen && t.rem > 0 && (t.cur.Type == TypeHeaders || t.cur.Type == TypePushPromise)) {
		return t.cur.StreamID, true // the block's frames all name its stream
	}
	return 0, false
}

// Last returns the frame that the latest call to Next reported complete. It
// stays valid until the next call to Next.
func (t *Tracker) Last() *Frame { return &t.cur }

// Next consumes bytes of p up to and including the end of the next frame. It
// returns how many bytes it consumed and whether a frame ended there; if so,
// [Tracker.Last] describes it. Call Next again with the rest of p.
func (t *Tracker) Next(p []byte) (n int, done bool) {
	if t.lost {
		return len(p), false
	}
	if t.preface > 0 {
		n = t.matchPreface(p)
		if t.preface > 0 || t.lost {
			return len(p), false
		}
	}
	if n == len(p) {
		return n, false
	}
	if t.nhdr < HeaderLen {
		if t.nhdr == 0 && len(p)-n >= HeaderLen {
			t.cur.Header = ParseHeader(p[n:])
			n += HeaderLen
		} else {
			c := copy(t.hdr[t.nhdr:], p[n:])
			t.nhdr += uint8(c)
			n += c
			if t.nhdr < HeaderLen {
				return n, false
			}
			t.cur.Header = ParseHeader(t.hdr[:])
		}
		t.nhdr = HeaderLen
		t.rem = t.cur.Length
		t.npre = 0
		t.want = prefixLen(&t.cur.Header)
		t.cur.prefix = [8]byte{} // a short, malformed payload must not show stale bytes
		if t.rem == 0 {
			return n, t.end()
		}
	}
	if t.npre < t.want && n < len(p) {
		c := copy(t.cur.prefix[t.npre:t.want], p[n:])
		t.npre += uint8(c)
		t.rem -= uint32(c)
		n += c
	}
	if skip := uint64(len(p) - n); skip < uint64(t.rem) {
		t.rem -= uint32(skip)
		return len(p), false
	}
	n += int(t.rem)
	t.rem = 0
	return n, t.end()
}

func (t *Tracker) matchPreface(p []byte) int {
	off := len(ClientPreface) - int(t.preface)
	n := min(len(p), int(t.preface))
	if string(p[:n]) != ClientPreface[off:off+n] {
		t.lost = true
		return len(p)
	}
	t.preface -= uint8(n)
	return n
}

// end finishes the current frame.
func (t *Tracker) end() bool {
	t.nhdr = 0
	switch t.cur.Type {
	case TypeHeaders, TypePushPromise, TypeContinuation:
		t.inBlock = !t.cur.Flags.Has(FlagEndHeaders)
	default:
		// A frame interleaved in a header block is a connection error
		// (RFC 9113 §6.10) that the server will answer; the block is over.
		t.inBlock = false
	}
	return true
}

// prefixLen is how many payload bytes of a frame the supervisor needs.
func prefixLen(h *Header) uint8 {
	var n uint32
	switch h.Type {
	case TypePing, TypeGoAway:
		n = 8
	case TypeRSTStream, TypeWindowUpdate:
		n = 4
	case TypePushPromise:
		n = 4
		if h.Flags.Has(FlagPadded) {
			n = 5
		}
	case TypeHeaders:
		if h.Flags.Has(FlagPadded) {
			n = 1 // the pad length (HeadersPadTooLong)
		}
	}
	return uint8(min(n, h.Length))
}

// HeadersPadTooLong reports whether a HEADERS frame is padded with more
// bytes than its payload holds after the pad length and priority fields
// (RFC 9113 §6.2). The HTTP/2 server (x/net's framer, and net/http's)
// answers such a frame with a stream error, RST_STREAM(PROTOCOL_ERROR),
// before it takes the stream in: the id stays idle, the header block is not
// decoded, and a later HEADERS on that id opens the stream. A frame too
// short for its pad length and priority fields is not such a frame: it is
// a connection error.
func (f *Frame) HeadersPadTooLong() bool {
	if f.Type != TypeHeaders || !f.Flags.Has(FlagPadded) {
		return false
	}
	skip := uint32(1)
	if f.Flags.Has(FlagPriority) {
		skip += 5
	}
	return f.Length >= skip && uint32(f.prefix[0]) > f.Length-skip
}

// Increment returns the window size increment of a WINDOW_UPDATE frame.
func (f *Frame) Increment() uint32 { return binary.BigEndian.Uint32(f.prefix[0:4]) & MaxStreamID }
