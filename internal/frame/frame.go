package frame

import "encoding/binary"

// Type is an HTTP/2 frame type (RFC 9113 §6).
type Type uint8

// Frame types (RFC 9113 §6, RFC 9218 §7.1).
const (
	TypeData           Type = 0x0
	TypeHeaders        Type = 0x1
	TypePriority       Type = 0x2
	TypeRSTStream      Type = 0x3
	TypeSettings       Type = 0x4
	TypePushPromise    Type = 0x5
	TypePing           Type = 0x6
	TypeGoAway         Type = 0x7
	TypeWindowUpdate   Type = 0x8
	TypeContinuation   Type = 0x9
	TypePriorityUpdate Type = 0x10
)

var typeNames = [...]string{
	TypeData:         "DATA",
	TypeHeaders:      "HEADERS",
	TypePriority:     "PRIORITY",
	TypeRSTStream:    "RST_STREAM",
	TypeSettings:     "SETTINGS",
	TypePushPromise:  "PUSH_PROMISE",
	TypePing:         "PING",
	TypeGoAway:       "GOAWAY",
	TypeWindowUpdate: "WINDOW_UPDATE",
	TypeContinuation: "CONTINUATION",
}

func (t Type) String() string {
	if int(t) < len(typeNames) && typeNames[t] != "" {
		return typeNames[t]
	}
	if t == TypePriorityUpdate {
		return "PRIORITY_UPDATE"
	}
	return "UNKNOWN"
}

// Flags are the frame header flags (RFC 9113 §4.1).
type Flags uint8

// Frame flags. Their meaning depends on the frame type.
const (
	FlagEndStream  Flags = 0x1 // DATA, HEADERS
	FlagAck        Flags = 0x1 // SETTINGS, PING
	FlagEndHeaders Flags = 0x4 // HEADERS, PUSH_PROMISE, CONTINUATION
	FlagPadded     Flags = 0x8 // DATA, HEADERS, PUSH_PROMISE
	FlagPriority   Flags = 0x20
)

// Has reports whether all of v's bits are set in f.
func (f Flags) Has(v Flags) bool { return f&v == v }

// HeaderLen is the size of a frame header.
const HeaderLen = 9

// MaxStreamID is the largest stream identifier, 2^31-1. A GOAWAY carrying it
// as last-stream-id says "stop opening streams" without committing to a last
// processed stream (RFC 9113 §6.8).
const MaxStreamID = 1<<31 - 1

// ClientPreface is the connection preface a client sends first (RFC 9113 §3.4).
const ClientPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// Header is a decoded frame header.
type Header struct {
	Length   uint32
	Type     Type
	Flags    Flags
	StreamID uint32
}

// ParseHeader decodes a frame header from the first HeaderLen bytes of b.
func ParseHeader(b []byte) Header {
	_ = b[8]
	return Header{
		Length:   uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]),
		Type:     Type(b[3]),
		Flags:    Flags(b[4]),
		StreamID: binary.BigEndian.Uint32(b[5:9]) & MaxStreamID,
	}
}

// ErrCode is an HTTP/2 error code (RFC 9113 §7).
type ErrCode uint32

// Error codes used by h2lifecycle.
const (
	ErrCodeNo              ErrCode = 0x0
	ErrCodeProtocol        ErrCode = 0x1
	ErrCodeInternal        ErrCode = 0x2
	ErrCodeRefusedStream   ErrCode = 0x7
	ErrCodeCancel          ErrCode = 0x8
	ErrCodeEnhanceYourCalm ErrCode = 0xb
)

// AppendGoAway appends a GOAWAY frame (RFC 9113 §6.8).
func AppendGoAway(dst []byte, lastStreamID uint32, code ErrCode, debug string) []byte {
	dst = appendHeader(dst, uint32(8+len(debug)), TypeGoAway, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, lastStreamID&MaxStreamID)
	dst = binary.BigEndian.AppendUint32(dst, uint32(code))
	return append(dst, debug...)
}

// AppendPing appends a PING frame (RFC 9113 §6.7).
func AppendPing(dst []byte, ack bool, data [8]byte) []byte {
	var flags Flags
	if ack {
		flags = FlagAck
	}
	dst = appendHeader(dst, 8, TypePing, flags, 0)
	return append(dst, data[:]...)
}

// AppendRSTStream appends a RST_STREAM frame (RFC 9113 §6.4).
func AppendRSTStream(dst []byte, streamID uint32, code ErrCode) []byte {
	dst = appendHeader(dst, 4, TypeRSTStream, 0, streamID)
	return binary.BigEndian.AppendUint32(dst, uint32(code))
}

func appendHeader(dst []byte, length uint32, t Type, f Flags, streamID uint32) []byte {
	return append(dst,
		byte(length>>16), byte(length>>8), byte(length),
		byte(t), byte(f),
		byte(streamID>>24)&0x7f, byte(streamID>>16), byte(streamID>>8), byte(streamID))
}

// AppendRefusedHeaders appends what a server is given in place of the
// header of a HEADERS frame that opens a stream it must refuse (RFC 9113
// §5.1.2): a HEADERS frame whose only payload is a priority that makes the
// stream depend on itself, a stream error of type PROTOCOL_ERROR (RFC 9113
// §5.3.1), without END_HEADERS; then the header of a CONTINUATION frame
// that carries the original frame's header block fragment, fragLen bytes,
// unchanged, with its END_HEADERS. The server decodes the whole block,
// keeping its HPACK state, takes the stream id, and resets the stream.
func AppendRefusedHeaders(dst []byte, streamID uint32, endStream, endHeaders bool, fragLen uint32) []byte {
	flags := FlagPriority
	if endStream {
		flags |= FlagEndStream
	}
	dst = appendHeader(dst, 5, TypeHeaders, flags, streamID)
	dst = binary.BigEndian.AppendUint32(dst, streamID&MaxStreamID) // exclusive bit clear
	dst = append(dst, 15)                                          // weight 16, the default (RFC 7540 §5.3.5)
	var cf Flags
	if endHeaders {
		cf = FlagEndHeaders
	}
	return appendHeader(dst, fragLen, TypeContinuation, cf, streamID)
}
