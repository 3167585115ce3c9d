package h2lifecycle_test

// The programs of the differential hostile-peer harness (differential_test.go):
// what a client sends, as bytes a fuzzer can mutate, and their compilation
// into the writes and actions the harness performs.
//
// A program is one config byte and then ops of 4 bytes each, [kind, a, b, c]
// (a short last op is padded with zeros). The config byte picks the server
// settings (low 3 bits, diffConfigs) and TLS (bit 3). The kind's bit 7
// (diffGlue) glues an op's bytes to the previous write: both go out in one
// Write, with no synctest.Wait between them. Everything else is decided by
// the bytes alone, never by what the server answered, except kAckPings
// (which ACKs the PINGs read so far): the same program sends the same bytes
// to the stock server and to h2lifecycle.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// Op kinds (the low 7 bits of an op's first byte, modulo diffKinds).
const (
	kHeaders      byte = iota // a: stream; b: flags (diffH*); c: fragments-1 (bits 0-1), diffHC* bits
	kContinuation             // a: stream (0: the open block's); b: bit 0 END_HEADERS, bit 1 a fresh request block
	kData                     // a: stream; b: bit 0 END_STREAM, bit 1 PADDED; c: length
	kRST                      // a: stream; b: code
	kPing                     // b, c: data
	kPingAck                  // b, c: data (an ACK of a PING the server never sent)
	kAckPings                 // ACK every PING of the server's read so far (the only op that depends on answers)
	kSettings                 // a: which setting (diffSettings); b: its value's index; c: bit 0 a bad length
	kSettingsAck              // c: bit 0 with a payload (invalid)
	kGoAway                   // a: last-stream-id (a stream selector); b: code
	kWindowUpdate             // a: stream; b: increment's index
	kPriority                 // a: stream; b: bit 0 depends on itself, bit 1 a bad length
	kUnknown                  // a: stream; b: type offset
	kGarbage                  // a: length-1 (mod 16); b, c: pattern
	kHalfClose                // the client's FIN (TLS: close_notify)
	kPause                    // a: how long (diffPauses), in fake time
	kRelease                  // release the handlers that hold their stream
	kDrain                    // Server.Drain (h2lifecycle only: the stock server has none)
	kShutdown                 // Shutdown: server.Server's, or http.Server's for stock
	diffKinds
)

const diffGlue = 0x80

// HEADERS flags, in b.
const (
	diffHEndStream = 1 << 0
	diffHOpen      = 1 << 1 // the block's last fragment is left for a later kContinuation
	diffHPadded    = 1 << 2
	diffHPriority  = 1 << 3
	diffHSelfDep   = 1 << 4 // with diffHPriority: the stream depends on itself
	diffHHold      = 1 << 5 // handler mode (bits 5-6): hold, or read the body (both bits: plain)
	diffHBody      = 1 << 6
	diffHBadHPACK  = 1 << 7
)

// HEADERS variants, in c (bits 0-1: fragments-1).
const (
	diffHCBadPad   = 1 << 2 // pad length longer than the payload
	diffHCTrailers = 1 << 3 // a block without pseudo-header fields (trailers)
	diffHCPost     = 1 << 4 // :method POST
)

// Stream selectors, the a byte of most ops.
const (
	sNew   = 0 // the next unused odd id
	sLast  = 1 // the id of the last HEADERS
	sBelow = 2 // two below it (a decreasing id)
	sZero  = 3
	sEven  = 4
	sMax   = 5 // 2^31-1
	sFixed = 6 // sFixed+n: stream 2n+1
)

// sID is the selector of the odd stream id.
func sID(id uint32) byte { return byte(sFixed + (id-1)/2) }

var diffPauses = [8]time.Duration{time.Millisecond, 20 * time.Millisecond, 100 * time.Millisecond,
	500 * time.Millisecond, time.Second, 2100 * time.Millisecond, 5 * time.Second, 31 * time.Second}

// diffSettings: the settings kSettings sends, and each one's values.
var diffSettings = []struct {
	id     http2.SettingID
	values []uint32
}{
	{0, nil}, // an empty SETTINGS
	{http2.SettingMaxConcurrentStreams, []uint32{0, 1, 2, 100, math.MaxUint32}},
	{http2.SettingInitialWindowSize, []uint32{0, 1, 65535, 1<<31 - 1, 1 << 31}},
	{http2.SettingEnablePush, []uint32{0, 1, 2}},
	{http2.SettingMaxFrameSize, []uint32{16384, 16383, 1<<24 - 1, 1 << 24}},
	{http2.SettingHeaderTableSize, []uint32{0, 4096, 1 << 20}},
}

var diffWindowIncrements = [4]uint32{1, 0, 65535, 1<<31 - 1}

const diffMaxOps = 48

// diffProgram is a decoded program.
type diffProgram struct {
	config byte // index into diffConfigs
	tls    bool
	ops    [][4]byte
}

func decodeDiffProgram(in []byte) diffProgram {
	var p diffProgram
	if len(in) == 0 {
		return p
	}
	p.config = (in[0] & 7) % byte(len(diffConfigs))
	p.tls = in[0]&8 != 0
	for rest := in[1:]; len(rest) > 0 && len(p.ops) < diffMaxOps; {
		var op [4]byte
		n := copy(op[:], rest)
		rest = rest[n:]
		p.ops = append(p.ops, op)
	}
	return p
}

// encodeDiffProgram is the inverse of decodeDiffProgram, for the seeds.
func encodeDiffProgram(config byte, tlsOn bool, ops [][4]byte) []byte {
	first := config
	if tlsOn {
		first |= 8
	}
	out := []byte{first}
	for _, op := range ops {
		out = append(out, op[:]...)
	}
	return out
}

// diffStep is one thing the harness does: write bytes (then, unless the
// next step is glued to it, wait for the bubble to settle), or an action.
type diffStep struct {
	kind  byte   // kHeaders etc.: bytes to write; kAckPings, kHalfClose, kPause, kRelease, kDrain, kShutdown: an action
	bytes []byte // what to write
	glued bool   // written together with the previous step's bytes
	pause time.Duration
	what  string // for failure messages
}

// diffCompiled is a program ready to run: its steps, and which stream id
// carried each request tag (the :path of a HEADERS op).
type diffCompiled struct {
	steps     []diffStep
	tagStream map[string]uint32
}

// diffBuilder turns ops into bytes; its state is the client's: the ids it
// used, the header block it left open.
type diffBuilder struct {
	tlsOn     bool
	maxID     uint32 // highest odd id a HEADERS used
	lastID    uint32 // id of the last HEADERS
	pendingID uint32 // stream of the open header block, if any
	pending   []byte // its withheld last fragment
	open      bool
	tags      map[string]uint32
}

func (b *diffBuilder) stream(a byte) uint32 {
	switch a {
	case sNew:
		if b.maxID == 0 {
			return 1
		}
		return b.maxID + 2
	case sLast:
		return max(b.lastID, 1)
	case sBelow:
		if b.lastID > 2 {
			return b.lastID - 2
		}
		return 1
	case sZero:
		return 0
	case sEven:
		return 2
	case sMax:
		return 1<<31 - 1
	}
	return uint32(a-sFixed)*2 + 1
}

// receivedID is the stream id a server reads from a frame header carrying
// id: the reserved high bit is ignored on receipt (RFC 9113 §4.1), so
// 2^31+1 on the wire is stream 1. The program writes ids with that bit set
// too (sFixed past 2^30); its handlers run under the id the server read.
func receivedID(id uint32) uint32 { return id &^ (1 << 31) }

// requestBlock encodes a request carrying tag as its :path, with a fresh
// HPACK encoder: every block stands alone, so that a block one server
// discarded does not change how the next decodes.
func (b *diffBuilder) requestBlock(tag string, post, trailers bool) []byte {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	if trailers {
		enc.WriteField(hpack.HeaderField{Name: "x-trailer", Value: tag})
		return buf.Bytes()
	}
	method, scheme := "GET", "http"
	if post {
		method = "POST"
	}
	if b.tlsOn {
		scheme = "https"
	}
	for _, kv := range [][2]string{{":method", method}, {":scheme", scheme}, {":authority", "x"}, {":path", tag}} {
		enc.WriteField(hpack.HeaderField{Name: kv[0], Value: kv[1]})
	}
	return buf.Bytes()
}

// frameBytes is a frame header and payload, the length taken from payload.
func frameBytes(typ http2.FrameType, flags http2.Flags, stream uint32, payload []byte) []byte {
	return rawFrame(len(payload), typ, flags, stream, payload)
}

func compileDiffProgram(p diffProgram) diffCompiled {
	b := &diffBuilder{tlsOn: p.tls, tags: map[string]uint32{}}
	steps := []diffStep{{kind: kHeaders, bytes: []byte(http2.ClientPreface), what: "preface"}}
	for i, op := range p.ops {
		s := b.compile(i, op)
		s.glued = op[0]&diffGlue != 0 && s.bytes != nil
		steps = append(steps, s)
	}
	return diffCompiled{steps: steps, tagStream: b.tags}
}

// diffTag is the :path of op i's request; the handler's mode is its suffix.
func diffTag(i int, flags byte) string {
	tag := fmt.Sprintf("/op/%d", i)
	switch flags & (diffHHold | diffHBody) {
	case diffHHold:
		tag += "/hold"
	case diffHBody:
		tag += "/body"
	}
	return tag
}

func (b *diffBuilder) compile(i int, op [4]byte) diffStep {
	kind, a, x, c := op[0]&^diffGlue%diffKinds, op[1], op[2], op[3]
	s := diffStep{kind: kind}
	switch kind {
	case kHeaders:
		id := b.stream(a)
		var block []byte
		tag := diffTag(i, x)
		switch {
		case x&diffHBadHPACK != 0:
			block = []byte{0xff, 0xff, 0xff, 0x7f}
		default:
			block = b.requestBlock(tag, c&diffHCPost != 0, c&diffHCTrailers != 0)
			if c&diffHCTrailers == 0 {
				b.tags[tag] = receivedID(id)
			}
		}
		frags := int(c&3) + 1
		open := x&diffHOpen != 0
		if open && frags < 2 {
			frags = 2
		}
		parts := splitBlock(block, frags)
		var first []byte
		var flags http2.Flags
		if x&diffHEndStream != 0 {
			flags |= http2.FlagHeadersEndStream
		}
		if len(parts) == 1 {
			flags |= http2.FlagHeadersEndHeaders
		}
		padLen := 0
		if x&diffHPadded != 0 {
			flags |= http2.FlagHeadersPadded
			padLen = 3
			first = append(first, byte(padLen))
			if c&diffHCBadPad != 0 {
				first[0] = 0xff
			}
		}
		if x&diffHPriority != 0 {
			flags |= http2.FlagHeadersPriority
			dep := uint32(0)
			if x&diffHSelfDep != 0 {
				dep = id
			}
			first = binary.BigEndian.AppendUint32(first, dep)
			first = append(first, 15)
		}
		first = append(first, parts[0]...)
		first = append(first, make([]byte, padLen)...)
		out := frameBytes(http2.FrameHeaders, flags, id, first)
		last := len(parts) - 1
		if open {
			last-- // withheld
		}
		for j := 1; j <= last; j++ {
			var cf http2.Flags
			if j == len(parts)-1 {
				cf = http2.FlagContinuationEndHeaders
			}
			out = append(out, frameBytes(http2.FrameContinuation, cf, id, parts[j])...)
		}
		b.open, b.pendingID, b.pending = open, id, nil
		if open {
			b.pending = parts[len(parts)-1]
		}
		if id%2 == 1 && id > b.maxID {
			b.maxID = id
		}
		b.lastID = id
		s.bytes, s.what = out, fmt.Sprintf("HEADERS(%d %s flags=%#x c=%#x)", id, tag, x, c)
	case kContinuation:
		id := b.stream(a)
		if a == sNew && b.open {
			id = b.pendingID
		}
		var flags http2.Flags
		if x&1 != 0 {
			flags = http2.FlagContinuationEndHeaders
		}
		var payload []byte
		switch {
		case x&2 != 0:
			tag := diffTag(i, 0)
			payload = b.requestBlock(tag, false, false)
			b.tags[tag] = receivedID(id)
		case b.pending != nil:
			payload, b.pending = b.pending, nil
		default:
			payload = []byte("what")
		}
		if x&1 != 0 {
			b.open = false
		}
		s.bytes, s.what = frameBytes(http2.FrameContinuation, flags, id, payload), fmt.Sprintf("CONTINUATION(%d end=%v)", id, x&1 != 0)
	case kData:
		id := b.stream(a)
		var flags http2.Flags
		var payload []byte
		if x&1 != 0 {
			flags |= http2.FlagDataEndStream
		}
		if x&2 != 0 {
			flags |= http2.FlagDataPadded
			payload = append(payload, 2)
		}
		payload = append(payload, bytes.Repeat([]byte{'d'}, int(c))...)
		if x&2 != 0 {
			payload = append(payload, 0, 0)
		}
		s.bytes, s.what = frameBytes(http2.FrameData, flags, id, payload), fmt.Sprintf("DATA(%d len=%d end=%v)", id, c, x&1 != 0)
	case kRST:
		id := b.stream(a)
		code := uint32(x % 14)
		s.bytes, s.what = frameBytes(http2.FrameRSTStream, 0, id, binary.BigEndian.AppendUint32(nil, code)), fmt.Sprintf("RST_STREAM(%d %v)", id, http2.ErrCode(code))
	case kPing, kPingAck:
		var flags http2.Flags
		if kind == kPingAck {
			flags = http2.FlagPingAck
		}
		data := []byte{'c', 'l', 'i', 'e', 'n', 't', x, c}
		s.bytes, s.what = frameBytes(http2.FramePing, flags, 0, data), fmt.Sprintf("PING(ack=%v)", kind == kPingAck)
	case kSettings:
		st := diffSettings[int(a)%len(diffSettings)]
		var payload []byte
		what := "SETTINGS()"
		if st.values != nil {
			v := st.values[int(x)%len(st.values)]
			payload = binary.BigEndian.AppendUint16(payload, uint16(st.id))
			payload = binary.BigEndian.AppendUint32(payload, v)
			what = fmt.Sprintf("SETTINGS(%v=%d)", st.id, v)
		}
		if c&1 != 0 {
			payload = append(payload, 0, 0, 0, 0, 0) // not a multiple of 6
			what += " bad length"
		}
		s.bytes, s.what = frameBytes(http2.FrameSettings, 0, 0, payload), what
	case kSettingsAck:
		var payload []byte
		if c&1 != 0 {
			payload = make([]byte, 6)
		}
		s.bytes, s.what = frameBytes(http2.FrameSettings, http2.FlagSettingsAck, 0, payload), "SETTINGS ACK"
	case kGoAway:
		last := b.stream(a)
		if a == sNew {
			last = b.lastID // "the last stream I sent", a polite client's GOAWAY
		}
		payload := binary.BigEndian.AppendUint32(nil, last)
		payload = binary.BigEndian.AppendUint32(payload, uint32(x%14))
		s.bytes, s.what = frameBytes(http2.FrameGoAway, 0, 0, payload), fmt.Sprintf("GOAWAY(%d %v)", last, http2.ErrCode(x%14))
	case kWindowUpdate:
		id := b.stream(a)
		if a == sNew {
			id = 0 // the connection's window
		}
		incr := diffWindowIncrements[x%4]
		s.bytes, s.what = frameBytes(http2.FrameWindowUpdate, 0, id, binary.BigEndian.AppendUint32(nil, incr)), fmt.Sprintf("WINDOW_UPDATE(%d +%d)", id, incr)
	case kPriority:
		id := b.stream(a)
		dep := uint32(0)
		if x&1 != 0 {
			dep = id
		}
		payload := append(binary.BigEndian.AppendUint32(nil, dep), 15)
		if x&2 != 0 {
			payload = payload[:4]
		}
		s.bytes, s.what = frameBytes(http2.FramePriority, 0, id, payload), fmt.Sprintf("PRIORITY(%d dep=%d)", id, dep)
	case kUnknown:
		id := b.stream(a)
		s.bytes, s.what = frameBytes(http2.FrameType(0x42+x%16), 0xff, id, []byte("what")), fmt.Sprintf("unknown frame(%d)", id)
	case kGarbage:
		n := int(a%16) + 1
		g := make([]byte, n)
		for j := range g {
			g[j] = x + byte(j)*c
		}
		s.bytes, s.what = g, fmt.Sprintf("garbage %x", g)
	case kPause:
		s.pause, s.what = diffPauses[a%8], fmt.Sprintf("pause %v", diffPauses[a%8])
	case kHalfClose:
		s.what = "half-close"
	case kAckPings:
		s.what = "ACK the server's PINGs"
	case kRelease:
		s.what = "release the held handlers"
	case kDrain:
		s.what = "Server.Drain"
	case kShutdown:
		s.what = "Shutdown"
	}
	return s
}

// splitBlock cuts block into n fragments (some may be empty).
func splitBlock(block []byte, n int) [][]byte {
	parts := make([][]byte, n)
	for j := range n {
		parts[j] = block[len(block)*j/n : len(block)*(j+1)/n]
	}
	return parts
}

// describe lists a compiled program's steps, for failure messages.
func (c diffCompiled) describe() string {
	var sb strings.Builder
	for i, s := range c.steps {
		glue := ""
		if s.glued {
			glue = " (glued)"
		}
		fmt.Fprintf(&sb, "\n  %2d %s%s", i-1, s.what, glue)
	}
	return sb.String()
}

// Op constructors for the table cases (differential_test.go).

func opHeaders(id byte, flags, c byte) [4]byte { return [4]byte{kHeaders, id, flags, c} }
func opGet(id byte) [4]byte                    { return opHeaders(id, diffHEndStream, 0) }
func opHold(id byte) [4]byte                   { return opHeaders(id, diffHEndStream|diffHHold, 0) }
func opCont(id byte, end bool) [4]byte {
	var b byte
	if end {
		b = 1
	}
	return [4]byte{kContinuation, id, b, 0}
}
func opData(id byte, end bool, n byte) [4]byte {
	var b byte
	if end {
		b = 1
	}
	return [4]byte{kData, id, b, n}
}
func opRST(id byte, code http2.ErrCode) [4]byte { return [4]byte{kRST, id, byte(code)} }
func opPing(n byte) [4]byte                     { return [4]byte{kPing, 0, n, 0} }
func opSettings(which, value byte) [4]byte      { return [4]byte{kSettings, which, value, 0} }
func opGoAway(last byte, code http2.ErrCode) [4]byte {
	return [4]byte{kGoAway, last, byte(code), 0}
}
func opWindowUpdate(id, incr byte) [4]byte { return [4]byte{kWindowUpdate, id, incr, 0} }
func opPriority(id byte, self bool) [4]byte {
	var b byte
	if self {
		b = 1
	}
	return [4]byte{kPriority, id, b, 0}
}
func opPause(i byte) [4]byte { return [4]byte{kPause, i, 0, 0} }
func opDo(kind byte) [4]byte { return [4]byte{kind, 0, 0, 0} }
func glued(op [4]byte) [4]byte {
	op[0] |= diffGlue
	return op
}

// Indexes into diffPauses.
const (
	p1ms = iota
	p20ms
	p100ms
	p500ms
	p1s
	p2100ms
	p5s
	p31s
)
