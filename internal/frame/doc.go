// Package frame follows HTTP/2 frame boundaries in a byte stream, whatever
// the chunking of the reads and writes that carry it, and encodes the few
// frames h2lifecycle writes itself.
//
// A [Tracker] is fed the bytes of one direction of a connection in the order
// they cross the wire. It never buffers a payload: it remembers at most the
// 9-byte frame header and the first bytes of the payloads the supervisor needs
// (PING opaque data, GOAWAY last-stream-id and error code, RST_STREAM and
// WINDOW_UPDATE fields, PUSH_PROMISE promised stream id). It knows when the
// stream is at a frame boundary outside a header block (RFC 9113 §4.3: a
// HEADERS or PUSH_PROMISE without END_HEADERS must be followed by its
// CONTINUATION frames, with nothing interleaved), which is where a frame may be
// injected.
//
// The tracker does not validate frames: the HTTP/2 server behind it does, and
// answers bad input with the errors RFC 9113 prescribes. A tracker that loses
// its footing (a bad client preface) says so through [Tracker.Lost] and never
// reports a safe point again.
package frame
