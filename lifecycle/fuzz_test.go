package lifecycle

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/h2lifecycle/h2lifecycle/drain"
	"github.com/h2lifecycle/h2lifecycle/idle"
	"github.com/h2lifecycle/h2lifecycle/internal/frame"
	"github.com/h2lifecycle/h2lifecycle/internal/h2test"
	"github.com/h2lifecycle/h2lifecycle/ping"
)

// FuzzSupervisor plays an HTTP/2 server and its peer through a Supervisor's
// tap, driven by the fuzz input: the server's frames (types, lengths, header
// blocks split over CONTINUATION, a SETTINGS first or not, its own GOAWAYs),
// the chunks it writes them in, the client's frames it reads, and drains,
// closes, idle changes and the passing of (fake) time at any point between
// them. It then checks what reached the wire:
//
//   - the server's bytes pass through unchanged: with our frames taken
//     out, the wire is what the server wrote, up to where our FIN or the
//     close cut it, and only whole frames of ours (RST_STREAM, GOAWAY)
//     follow that;
//   - last-stream-id never increases from one GOAWAY to the next (RFC 9113
//     §6.8);
//   - at most one GOAWAY(2^31-1), always followed at once by our one PING;
//     never inside a header block (RFC 9113 §4.3, §6.10), never before the
//     server's first SETTINGS (§3.4), never after a GOAWAY of the server's
//     (DESIGN.md, rule 3);
//   - a drain asked for is not lost: if the server's stream passed a safe
//     point after the request and before the end, the notice is on the wire;
//   - the supervisor reaches closed and Done is closed once the server
//     closes the connection, with nothing left running (synctest).
//
// The first input byte also turns on the policies that end a connection
// with frames of ours (HeaderTimeout, PING enforcement), so that those
// frames are held to the same rules.
func FuzzSupervisor(f *testing.F) {
	for _, seed := range fuzzSeeds() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		synctest.Test(t, func(t *testing.T) { runFuzzProgram(t, in) })
	})
}

// fuzzSeeds are programs that reach the interesting paths; see
// TestSupervisorProgramSeeds for what each one does.
func fuzzSeeds() [][]byte {
	const (
		expectPreface, sawPreface = 0, 1
		all                       = 0xff // opWrite: everything pending
	)
	gen := func(kind byte, args ...byte) []byte { return append([]byte{opGenBase + kind}, args...) }
	prog := func(first byte, ops ...[]byte) []byte { return append([]byte{first}, bytes.Join(ops, nil)...) }
	return [][]byte{
		// A request, SETTINGS, a response whose header block spans two of the
		// server's writes with a drain between them, the ACK, the final
		// GOAWAY, the end of the stream, our FIN.
		prog(expectPreface,
			[]byte{opRead, inHeaders, 0x01, 7},
			gen(genSettings, 1, 3, 1), []byte{opWrite, all},
			gen(genHeaders, 0, 0x20, 40, 0, 30, 0), []byte{opWrite, 5},
			[]byte{opDrain, 0, 2}, []byte{opWrite, all},
			[]byte{opRead, inPingAck, 1, 3}, []byte{opSleep, 3},
			gen(genFinalGoAway, 0), gen(genData, 0, 1, 20), []byte{opWrite, all},
			[]byte{opSleep, 5}),
		// h2c (the preface was read elsewhere); a drain before the server's
		// SETTINGS; the ping timeout. (The request has no body: its stream
		// ends with the response.)
		prog(sawPreface,
			[]byte{opRead, inHeaders, 0x01, 63},
			[]byte{opDrain, 0, 2},
			gen(genHeaders, 0, 0, 10, 0), []byte{opWrite, 3},
			gen(genSettings, 0), []byte{opWrite, all},
			[]byte{opSleep, 4}, []byte{opSleep, 2},
			gen(genFinalGoAway, 0), gen(genData, 0, 1, 5), []byte{opWrite, all},
			[]byte{opSleep, 5}),
		// A drain while the server is writing its own GOAWAY: no notice.
		prog(expectPreface,
			gen(genSettings, 0), []byte{opWrite, all},
			gen(genGoAway, 0, 0, 0), []byte{opWrite, 4},
			[]byte{opDrain, 0, 0}, []byte{opWrite, all},
			[]byte{opSleep, 5}),
		// A stream still open at the grace deadline: reset and closed.
		prog(expectPreface,
			[]byte{opRead, inHeaders, 0x00, 63},
			gen(genSettings, 0), []byte{opWrite, all},
			[]byte{opConnState, 1}, []byte{opDrain, 3, 1}, []byte{opSleep, 3}),
		// The peer's GOAWAY during the drain, small writes, a close.
		prog(expectPreface,
			gen(genSettings, 0), []byte{opWrite, all},
			[]byte{opRead, inHeaders, 0x01, 2},
			gen(genData, 0, 0, 200), []byte{opDrain, 1, 3},
			[]byte{opWrite, 1}, []byte{opWrite, 2},
			[]byte{opRead, inGoAway, 5}, []byte{opWrite, all},
			gen(genFinalGoAway, 0), gen(genData, 0, 1, 0), []byte{opWrite, all},
			[]byte{opClose}),
		// Server push, keepalive PINGs, WINDOW_UPDATEs, an unknown frame,
		// big DATA frames in 512-byte writes, a drain at the very end.
		prog(expectPreface,
			[]byte{opRead, inHeaders, 0x01, 20},
			gen(genSettings, 2, 1, 0, 4, 0), gen(genSettingsAck),
			gen(genPushPromise, 0, 0x28, 9, 10, 1, 12, 0), gen(genPing, 1, 0),
			gen(genWindowUpdate, 0, 0, 7), gen(genUnknown, 3, 0, 12),
			gen(genData, 0, 0, 0xf0), gen(genData, 0, 1, 0xf0),
			[]byte{opWrite, 0xc0}, []byte{opWrite, 0xc0}, []byte{opWrite, all},
			[]byte{opDrain, 0, 3}, []byte{opRead, inPingAck, 1, 1},
			[]byte{opSleep, 4}, gen(genFinalGoAway, 0), []byte{opWrite, all},
			[]byte{opSleep, 5}),
		// With HeaderTimeout: a header block left open past it; the stream
		// is reset and the connection ends with GOAWAY and our FIN.
		prog(expectPreface|2,
			[]byte{opRead, inHeaders, 0x00, 63},
			gen(genSettings, 0), []byte{opWrite, all},
			[]byte{opRead, inHeadersOpen, 0, 3}, []byte{opSleep, 4},
			gen(genData, 0, 0, 10), []byte{opWrite, all}, []byte{opSleep, 5}),
		// With the stream limit advertised (2): a third stream is refused,
		// a fourth after one ended is not; header blocks whole and split.
		prog(expectPreface|8,
			gen(genSettings, 0), []byte{opWrite, all},
			[]byte{opRead, inHeaders, 0x00, 63}, []byte{opRead, inHeaders, 0x80, 63},
			[]byte{opRead, inHeaders, 0x00, 63}, []byte{opRead, inRST, 0, 63},
			[]byte{opRead, inHeaders, 0x80, 63}, []byte{opRead, inHeadersOpen, 0, 63},
			[]byte{opRead, inContinuation, 63}, []byte{opSleep, 5}),
		// With PING enforcement: a PING flood on an idle connection during
		// a drain; GOAWAY(ENHANCE_YOUR_CALM) and our FIN.
		prog(expectPreface|4,
			gen(genSettings, 0), []byte{opWrite, all}, []byte{opDrain, 0, 3},
			[]byte{opRead, inPing, 1, 9}, []byte{opRead, inPing, 2, 9}, []byte{opRead, inPing, 3, 9},
			[]byte{opRead, inPing, 4, 9}, []byte{opWrite, all}, []byte{opSleep, 5}),
		// With a per-stream limit: the server resets stream 1 with
		// INTERNAL_ERROR (a deadline: sent as CANCEL), then stream 3 with
		// INTERNAL_ERROR split over two writes (its code in the second: kept),
		// then stream 5 with CANCEL (kept).
		prog(expectPreface|16,
			[]byte{opRead, inHeaders, 0x00, 63}, []byte{opRead, inHeaders, 0x00, 63},
			[]byte{opRead, inHeaders, 0x00, 63},
			gen(genSettings, 0), []byte{opWrite, all},
			gen(genRST, 0, 2), []byte{opWrite, all},
			gen(genRST, 1, 2), []byte{opWrite, 10}, []byte{opWrite, all},
			gen(genRST, 2, 8), []byte{opWrite, all}, []byte{opSleep, 5}),
		// Without one: the server's RST_STREAM(INTERNAL_ERROR) is sent as is.
		prog(expectPreface,
			[]byte{opRead, inHeaders, 0x00, 63},
			gen(genSettings, 0), []byte{opWrite, all},
			gen(genRST, 0, 2), []byte{opWrite, all}, []byte{opSleep, 5}),
		// With the stream limit advertised (2): stream 5 is refused; the
		// server's first RST_STREAM(PROTOCOL_ERROR) on it goes out as
		// REFUSED_STREAM, its second one and stream 1's as they are.
		prog(expectPreface|8,
			[]byte{opRead, inHeaders, 0x00, 63}, []byte{opRead, inHeaders, 0x00, 63},
			[]byte{opRead, inHeaders, 0x00, 63},
			gen(genSettings, 0), []byte{opWrite, all},
			gen(genRST, 2, 1), gen(genRST, 0, 1), gen(genRST, 2, 1), []byte{opWrite, all},
			[]byte{opSleep, 5}),
	}
}

// Program operations: each is one input byte, followed by its arguments.
const (
	opWrite       = iota // write the next n bytes of the server's pending output
	opRead               // feed the server one client frame, read in chunks
	opDrain              // Drain(reason, grace)
	opClose              // Supervisor.Close
	opConnState          // the server's own active/idle signal
	opSleep              // let fake time pass
	opServerClose        // the server closes the connection (its last act)
	opGenBase            // opGenBase+k: the server produces a frame of kind k
	numOps        = opGenBase + numGen
)

// Kinds of frames the server produces.
const (
	genSettings = iota
	genSettingsAck
	genHeaders // a header block, maybe split over CONTINUATION frames
	genData
	genRST
	genWindowUpdate
	genPing // an ACK of the client's, or a keepalive of the server's own
	genGoAway
	genFinalGoAway // what the per-connection handle makes the server send
	genPushPromise
	genPriority
	genUnknown
	numGen
)

// Kinds of client frames.
const (
	inHeaders = iota // a new stream, its block maybe split
	inData
	inRST
	inPingAck // the ACK of our PING (or of a PING we never sent)
	inPing
	inSettings
	inGoAway
	inHeadersOpen  // a new stream's HEADERS without END_HEADERS: its block stays open
	inContinuation // the CONTINUATION that ends the open block
	inHeadersAgain // HEADERS on a stream id already used: trailers, or a reuse
	numIn
)

// fuzzProgram is the state of one run.
type fuzzProgram struct {
	t   *testing.T
	in  []byte
	pos int

	conn *fuzzConn
	sup  *Supervisor
	tap  net.Conn

	// The server's side.
	server      []byte // every byte the server produced, in order
	written     int    // how many of them it has handed to the tap
	serverLast  uint32 // last-stream-id of its latest GOAWAY; MaxStreamID before any
	finalAsked  atomic.Bool
	finalSent   bool
	closedByApp bool

	cutEarly bool // our FIN or a close came before the server was done

	// The client's side.
	clientMax  uint32 // highest stream the client opened
	clientPref bool   // the client preface still has to be sent
	limit      uint32 // Config.AdvertiseMaxStreams
	cancels    bool   // a per-stream limit: deadline resets say CANCEL
	rewritten  int    // the server's RST_STREAM(INTERNAL_ERROR) frames sent as CANCEL
	// The server's RST_STREAM(PROTOCOL_ERROR) frames on refused streams
	// sent as REFUSED_STREAM.
	refusalResets int
	sent          []byte // every byte the client sent
	delivered     []byte // every byte the tap gave the server
	readCut       bool   // a Read failed: the connection was closed
	marks         []readMark

	// Drains that moved the supervisor to draining(notice), as the number of
	// server bytes written when they did.
	noticeAsked []int
	// The number of server bytes written when a policy ended the
	// connection without a drain (header timeout, PING flood); -1 if none.
	// Such an end drops a notice still waiting for a safe point.
	abortAt int
}

// next returns the next input byte, or 0 once the input is used up.
func (p *fuzzProgram) next() byte {
	if p.pos >= len(p.in) {
		p.pos++
		return 0
	}
	b := p.in[p.pos]
	p.pos++
	return b
}

func (p *fuzzProgram) more() bool { return p.pos < len(p.in) }

// maxProgramBytes bounds what one run generates, to keep executions fast.
const maxProgramBytes = 256 << 10

func runFuzzProgram(t *testing.T, in []byte) *fuzzProgram {
	p := &fuzzProgram{t: t, in: in, conn: &fuzzConn{}, serverLast: frame.MaxStreamID, abortAt: -1}
	first := p.next()
	sawPreface := first&1 == 1
	p.clientPref = !sawPreface
	// Policies whose ends write frames of ours: the header timeout
	// (RST_STREAM, GOAWAY, FIN) and PING enforcement (GOAWAY
	// ENHANCE_YOUR_CALM, FIN).
	var pol idle.Policy
	var limit uint32
	if first&8 != 0 {
		// The stream limit advertised: streams over it are refused.
		limit = 2
	}
	p.limit = limit
	if first&2 != 0 {
		pol.HeaderTimeout = 100 * time.Millisecond
	}
	if first&4 != 0 {
		pol.PingMinInterval = time.Second
	}
	if first&16 != 0 {
		// A per-stream limit: the server's RST_STREAM(INTERNAL_ERROR)
		// goes out as CANCEL (deadlines.go); no handler panics here.
		pol.MaxStreamDuration = time.Hour
		p.cancels = true
	}
	live := &liveCheck{t: t, trace: p.trace}
	sup, err := New(p.conn, Config{
		GoAway:              func() { p.finalAsked.Store(true) },
		SawClientPreface:    sawPreface,
		Policy:              pol,
		AdvertiseMaxStreams: limit,
		Drain:               drain.Config{FirstStreamWait: time.Nanosecond, PingTimeout: 500 * time.Millisecond, Linger: 100 * time.Millisecond},
	}, WithMetrics(live))
	if err != nil {
		t.Fatal(err)
	}
	p.sup, p.tap = sup, sup.Conn()
	if p.cancels {
		sup.Handler(http.NotFoundHandler()) // the rewrite is on with it
	}
	h2test.Advance(time.Millisecond) // fake time (the program runs in a bubble): past FirstStreamWait, drains start at once

	for steps := 0; p.more() && steps < 4096 && len(p.server) < maxProgramBytes; steps++ {
		p.step(p.next() % numOps)
		synctest.Wait() // the tap's and the timers' goroutines settle
		if p.abortAt < 0 {
			// An error GOAWAY of ours (abort): a header timeout, a PING
			// flood, HEADERS again on a stream the tap refused.
			sup.mu.Lock()
			ours := sup.aborted && sup.cutIn
			sup.mu.Unlock()
			if ours {
				p.abortAt = p.written
			}
		}
	}
	// The server writes what it still has, then closes, as x/net does when
	// its serve loop ends.
	p.write(len(p.server))
	synctest.Wait()
	p.cutEarly = p.conn.cut()
	p.tap.Close()
	synctest.Wait()
	select {
	case <-sup.Done():
	default:
		t.Fatalf("the connection is closed but Done is not")
	}
	if st := sup.Snapshot().State; st != drain.Closed.String() {
		t.Errorf("state %q after the close, want closed", st)
	}
	if !live.wasClosed() {
		t.Errorf("live metrics: no ConnClosed")
	}
	p.check()
	p.checkInbound()
	return p
}

func (p *fuzzProgram) step(op byte) {
	switch {
	case op == opWrite:
		n := int(p.next())
		switch {
		case n == 0xff:
			n = len(p.server)
		case n >= 0xc0:
			n = (n - 0xc0 + 1) * 512 // up to 32 KiB: bigger than a bufio flush
		default:
			n = n%32 + 1
		}
		p.write(n)
	case op == opRead:
		p.read(p.next() % numIn)
	case op == opDrain:
		reasons := [...]Reason{ReasonShutdown, ReasonIdle, ReasonMaxAge, ReasonRequested}
		graces := [...]time.Duration{0, 10 * time.Millisecond, time.Second, 5 * time.Second}
		r, g := p.next(), p.next()
		active := p.sup.Snapshot().State == drain.Active.String()
		p.sup.Drain(reasons[r%4], graces[g%4])
		if active && p.sup.Snapshot().State == drain.Notice.String() {
			p.noticeAsked = append(p.noticeAsked, p.written)
		}
	case op == opClose:
		p.sup.Close()
	case op == opConnState:
		if p.next()&1 == 1 {
			p.sup.ConnState(http.StateActive)
		} else {
			p.sup.ConnState(http.StateIdle)
		}
	case op == opSleep:
		d := [...]time.Duration{0, time.Microsecond, time.Millisecond, 50 * time.Millisecond,
			499 * time.Millisecond, time.Second, 6 * time.Second, 31 * time.Second}
		h2test.Advance(d[p.next()%8]) // fake time: the program's clock step
	case op == opServerClose:
		p.write(len(p.server))
		p.tap.Close()
		p.closedByApp = true
	default:
		p.gen(op - opGenBase)
	}
}

// write hands the next n pending server bytes to the tap in one Write.
func (p *fuzzProgram) write(n int) {
	n = min(n, len(p.server)-p.written)
	if n <= 0 || p.closedByApp {
		return
	}
	chunk := p.server[p.written : p.written+n]
	p.written += n
	// Errors are the closed connection's: the server would stop writing.
	p.tap.Write(chunk)
}

// appendFrame appends a frame header and payload.
func appendFrame(b []byte, t frame.Type, f frame.Flags, stream uint32, payload []byte) []byte {
	n := len(payload)
	b = append(b, byte(n>>16), byte(n>>8), byte(n), byte(t), byte(f),
		byte(stream>>24)&0x7f, byte(stream>>16), byte(stream>>8), byte(stream))
	return append(b, payload...)
}

// filler returns n payload bytes.
func filler(n int) []byte { return bytes.Repeat([]byte{'x'}, n) }

// stream picks a stream the server writes on: a client stream most of the
// time, else any odd id.
func (p *fuzzProgram) stream() uint32 {
	b := uint32(p.next())
	if p.clientMax > 0 && b < 0xe0 {
		return 1 + 2*(b%(p.clientMax/2+1))
	}
	return 1 + 2*(b%64)
}

// gen makes the server produce a frame (or a header block).
func (p *fuzzProgram) gen(kind byte) {
	b := p.server
	switch kind {
	case genSettings:
		var pl []byte
		for range p.next() % 4 {
			pl = binary.BigEndian.AppendUint16(pl, uint16(p.next()%6+1))
			pl = binary.BigEndian.AppendUint32(pl, uint32(p.next())<<8)
		}
		b = appendFrame(b, frame.TypeSettings, 0, 0, pl)
	case genSettingsAck:
		b = appendFrame(b, frame.TypeSettings, frame.FlagAck, 0, nil)
	case genHeaders, genPushPromise:
		id, flags := p.stream(), frame.Flags(p.next())
		conts := int(flags>>5) % 4 // CONTINUATION frames that follow
		var first []byte
		t := frame.TypeHeaders
		if kind == genPushPromise {
			t = frame.TypePushPromise
			promised := 2 * (uint32(p.next()) + 1)
			if flags&frame.FlagPadded != 0 {
				first = append(first, 0) // pad length
			}
			first = binary.BigEndian.AppendUint32(first, promised)
		}
		first = append(first, filler(int(p.next())*int(p.next()%8+1))...)
		hf := flags & (frame.FlagEndStream | frame.FlagPadded | frame.FlagPriority)
		if kind == genPushPromise {
			hf = flags & frame.FlagPadded
		}
		if conts == 0 {
			hf |= frame.FlagEndHeaders
		}
		b = appendFrame(b, t, hf, id, first)
		for i := range conts {
			var cf frame.Flags
			if i == conts-1 {
				cf = frame.FlagEndHeaders
			}
			b = appendFrame(b, frame.TypeContinuation, cf, id, filler(int(p.next())*int(p.next()%8+1)))
		}
	case genData:
		id, flags := p.stream(), frame.Flags(p.next())&(frame.FlagEndStream|frame.FlagPadded)
		n := int(p.next())
		if n >= 0xf0 {
			n = 16384 // a full frame
		}
		b = appendFrame(b, frame.TypeData, flags, id, filler(n))
	case genRST:
		b = appendFrame(b, frame.TypeRSTStream, 0, p.stream(), binary.BigEndian.AppendUint32(nil, uint32(p.next()%14)))
	case genWindowUpdate:
		b = appendFrame(b, frame.TypeWindowUpdate, 0, uint32(p.next()%2)*p.stream(), binary.BigEndian.AppendUint32(nil, uint32(p.next())+1))
	case genPing:
		// The server's own PINGs never carry our tag.
		data := []byte{'s', 'v', p.next(), 0, 0, 0, 0, 0}
		b = appendFrame(b, frame.TypePing, frame.Flags(p.next())&frame.FlagAck, 0, data)
	case genGoAway, genFinalGoAway:
		last, code := p.clientMax, uint32(0)
		if kind == genGoAway {
			last = uint32(p.next()) % (p.clientMax + 2)
			code = [...]uint32{0, 0, 1, 2, 11}[p.next()%5]
		} else if !p.finalAsked.Load() || p.finalSent {
			return // the handle was not used: the server stays quiet
		}
		p.finalSent = kind == genFinalGoAway || p.finalSent
		// x/net's last-stream-id never grows either.
		last = min(last, p.serverLast)
		p.serverLast = last
		pl := binary.BigEndian.AppendUint32(nil, last)
		pl = binary.BigEndian.AppendUint32(pl, code)
		b = appendFrame(b, frame.TypeGoAway, 0, 0, append(pl, filler(int(p.next()%4))...))
	case genPriority:
		b = appendFrame(b, frame.TypePriority, 0, p.stream(), []byte{0, 0, 0, 1, 16})
	case genUnknown:
		b = appendFrame(b, 0x42, frame.Flags(p.next()), p.stream(), filler(int(p.next()%40)))
	}
	p.server = b
}

// read makes the server read a client frame from the tap, in chunks.
func (p *fuzzProgram) read(kind byte) {
	var b []byte
	if p.clientPref {
		b = append(b, frame.ClientPreface...)
		b = appendFrame(b, frame.TypeSettings, 0, 0, nil)
		p.clientPref = false
	}
	switch kind {
	case inHeaders:
		p.clientMax += 2
		if p.clientMax%2 == 0 {
			p.clientMax--
		}
		flags := frame.Flags(p.next())
		hf := flags & (frame.FlagEndStream | frame.FlagPadded | frame.FlagPriority)
		if flags&0x80 != 0 { // split: HEADERS then CONTINUATION
			b = appendFrame(b, frame.TypeHeaders, hf, p.clientMax, p.headersPayload(hf, filler(5)))
			b = appendFrame(b, frame.TypeContinuation, frame.FlagEndHeaders, p.clientMax, filler(5))
		} else {
			b = appendFrame(b, frame.TypeHeaders, hf|frame.FlagEndHeaders, p.clientMax, p.headersPayload(hf, filler(10)))
		}
	case inHeadersAgain:
		id := uint32(1)
		if p.clientMax > 1 {
			id = 1 + 2*(uint32(p.next())%(p.clientMax/2+1))
		}
		b = appendFrame(b, frame.TypeHeaders, frame.Flags(p.next())&frame.FlagEndStream|frame.FlagEndHeaders, id, filler(7))
	case inData:
		b = appendFrame(b, frame.TypeData, frame.Flags(p.next())&frame.FlagEndStream, p.stream(), filler(int(p.next())))
	case inRST:
		b = appendFrame(b, frame.TypeRSTStream, 0, p.stream(), []byte{0, 0, 0, 8})
	case inPingAck:
		data, ok := p.ourPing()
		if !ok || p.next()&7 == 0 {
			data = [8]byte{'h', '2', p.next()} // a forged or stale ACK
		}
		b = appendFrame(b, frame.TypePing, frame.FlagAck, 0, data[:])
	case inPing:
		b = appendFrame(b, frame.TypePing, 0, 0, []byte{'c', 'l', 0, 0, 0, 0, 0, p.next()})
	case inSettings:
		b = appendFrame(b, frame.TypeSettings, frame.Flags(p.next())&frame.FlagAck, 0, nil)
	case inGoAway:
		b = appendFrame(b, frame.TypeGoAway, 0, 0, make([]byte, 8))
	case inHeadersOpen:
		p.clientMax += 2
		if p.clientMax%2 == 0 {
			p.clientMax--
		}
		b = appendFrame(b, frame.TypeHeaders, frame.Flags(p.next())&frame.FlagEndStream, p.clientMax, filler(5))
	case inContinuation:
		b = appendFrame(b, frame.TypeContinuation, frame.FlagEndHeaders, max(p.clientMax, 1), filler(5))
	}
	p.marks = append(p.marks, readMark{at: len(p.delivered), limit: p.serverLimit(), written: p.written})
	p.conn.feed(b)
	p.sent = append(p.sent, b...)
	buf := make([]byte, int(p.next())%64+1)
	for range len(b) + 64 { // every Read returns at least one byte; a refusal adds some
		n, err := p.tap.Read(buf)
		p.delivered = append(p.delivered, buf[:n]...)
		if err != nil {
			p.readCut = true // closed: the server reads no more
		}
		if n == 0 {
			return
		}
	}
}

// headersPayload is the payload of a HEADERS frame with flags f (PADDED,
// PRIORITY) around the header block fragment frag.
func (p *fuzzProgram) headersPayload(f frame.Flags, frag []byte) []byte {
	var pl []byte
	pad := 0
	if f.Has(frame.FlagPadded) {
		pad = int(p.next() % 8)
		pl = append(pl, byte(pad))
	}
	if f.Has(frame.FlagPriority) {
		pl = append(pl, 0, 0, 0, 0, 16) // depends on stream 0
	}
	pl = append(pl, frag...)
	return append(pl, make([]byte, pad)...)
}

// readMark says, for the bytes delivered from offset at on, the highest
// stream the server would still take in: the lowest last-stream-id of the
// server's GOAWAYs written before them (0 after one with an error code,
// which stops everything).
type readMark struct {
	at      int
	limit   uint32
	written int // the server's bytes written by then (it writes none during a read)
}

// serverLimit is the highest stream the server takes in now (readMark).
func (p *fuzzProgram) serverLimit() uint32 {
	limit := uint32(frame.MaxStreamID)
	for _, f := range parseFrames(p.server[:p.written]) {
		if f.complete && f.Type == frame.TypeGoAway && len(f.payload) >= 8 {
			limit = min(limit, f.goAwayLast())
			if binary.BigEndian.Uint32(f.payload[4:]) != 0 {
				limit = 0
			}
		}
	}
	return limit
}

// limitAt is the serverLimit in effect for the delivered byte at off.
func (p *fuzzProgram) limitAt(off int) uint32 {
	limit := uint32(frame.MaxStreamID)
	for _, m := range p.marks {
		if m.at > off {
			break
		}
		limit = m.limit
	}
	return limit
}

// ourPing returns the data of the PING of our notice, if it is on the wire.
func (p *fuzzProgram) ourPing() ([8]byte, bool) {
	p.conn.mu.Lock()
	defer p.conn.mu.Unlock()
	return p.conn.noticePing, p.conn.sawNotice
}

// wireFrame is a frame found in a byte stream.
type wireFrame struct {
	frame.Header
	start, end int // end is where it would end; complete says it does
	complete   bool
	payload    []byte
}

func (f *wireFrame) data8() (d [8]byte) {
	copy(d[:], f.payload)
	return d
}

func (f *wireFrame) goAwayLast() uint32 {
	if len(f.payload) < 4 {
		return 0
	}
	return binary.BigEndian.Uint32(f.payload) & frame.MaxStreamID
}

// parseFrames splits b into frames: an independent reference for the
// tracker, which sees the stream in pieces. The last frame may be cut short.
func parseFrames(b []byte) []wireFrame {
	var fs []wireFrame
	for off := 0; off < len(b); {
		if len(b)-off < frame.HeaderLen {
			fs = append(fs, wireFrame{start: off, end: off + frame.HeaderLen})
			break
		}
		h := frame.ParseHeader(b[off:])
		end := off + frame.HeaderLen + int(h.Length)
		f := wireFrame{Header: h, start: off, end: end, complete: end <= len(b)}
		f.payload = b[off+frame.HeaderLen : min(end, len(b))]
		fs = append(fs, f)
		off = end
	}
	return fs
}

// opensBlock reports whether a frame leaves a header block open.
func opensBlock(f *wireFrame) bool {
	switch f.Type {
	case frame.TypeHeaders, frame.TypePushPromise, frame.TypeContinuation:
		return !f.Flags.Has(frame.FlagEndHeaders)
	}
	return false
}

// check verifies the wire against what the server wrote.
func (p *fuzzProgram) check() {
	t := p.t
	wire := p.conn.wire()
	frames := parseFrames(wire)
	var (
		stripped    []byte
		sawSettings bool
		serverGone  bool
		inBlock     bool
		lastGoAway  uint32 = frame.MaxStreamID
		anyGoAway   bool
		notices     int
	)
	for i := 0; i < len(frames); i++ {
		f := &frames[i]
		if f.complete && f.Type == frame.TypeGoAway {
			last := f.goAwayLast()
			if anyGoAway && last > lastGoAway {
				// (Found by this target: a policy's abort GOAWAY carried the
				// last-stream-id of the moment it was decided; corpus input
				// abort-goaway-after-server-goaway.)
				t.Fatalf("GOAWAY at %d: last-stream-id %d after %d (RFC 9113 §6.8)%s", f.start, last, lastGoAway, p.trace())
			}
			lastGoAway, anyGoAway = last, true
			if last == frame.MaxStreamID { // ours: the server's never is 2^31-1
				notices++
				switch {
				case notices > 1:
					t.Fatalf("a second GOAWAY(2^31-1) at %d%s", f.start, p.trace())
				case inBlock:
					t.Fatalf("GOAWAY(2^31-1) at %d, inside a header block (RFC 9113 §6.10)%s", f.start, p.trace())
				case !sawSettings:
					t.Fatalf("GOAWAY(2^31-1) at %d, before the server's first SETTINGS%s", f.start, p.trace())
				case serverGone:
					t.Fatalf("GOAWAY(2^31-1) at %d, after the server's GOAWAY%s", f.start, p.trace())
				}
				if i+1 < len(frames) {
					n := &frames[i+1]
					if !n.complete || n.Type != frame.TypePing || n.Flags.Has(frame.FlagAck) || !ping.Ours(n.data8()) {
						t.Fatalf("GOAWAY(2^31-1) at %d not followed by our PING%s", f.start, p.trace())
					}
					i++
				} else if !p.cutEarly {
					t.Fatalf("GOAWAY(2^31-1) at the end of the wire without its PING, on a connection still open%s", p.trace())
				}
				continue
			}
			serverGone = true
		}
		if f.complete && f.Type == frame.TypePing && !f.Flags.Has(frame.FlagAck) && ping.Ours(f.data8()) {
			t.Fatalf("our PING at %d without our GOAWAY before it%s", f.start, p.trace())
		}
		if f.complete && f.Type == frame.TypeSettings && !f.Flags.Has(frame.FlagAck) {
			sawSettings = true
		}
		if f.complete {
			inBlock = opensBlock(f)
		}
		stripped = append(stripped, wire[f.start:min(f.end, len(wire))]...)
	}

	// The server's bytes, then perhaps our last frames.
	written := p.server[:p.written]
	if p.limit > 0 {
		// The tap advertises the limit in the server's first SETTINGS
		// (when that frame is whole in one write): compare the rest.
		w, onWire := maskMaxStreams(written), maskMaxStreams(stripped)
		for _, v := range onWire.values {
			if v != p.limit && !slices.Contains(w.values, v) {
				t.Fatalf("SETTINGS_MAX_CONCURRENT_STREAMS %d on the wire: neither the limit %d nor the server's %v%s", v, p.limit, w.values, p.trace())
			}
		}
		written, stripped = w.masked, onWire.masked
	}
	stripped, p.rewritten, p.refusalResets = forgiveResets(written, stripped, p.cancels, p.refusedStreams())
	kept := serverPrefix(t, written, stripped, p.trace)
	if !p.cutEarly && (kept != len(written) || len(stripped) != kept) {
		t.Fatalf("the connection was open until the server was done, but the wire carries %d of its %d bytes and %d of ours after them%s",
			kept, len(written), len(stripped)-kept, p.trace())
	}
	if len(stripped) > kept && !hasSettings(written[:kept]) {
		// RFC 9113 §3.4: the server's SETTINGS must be its first frame.
		// (Found by this target: the grace deadline's RST_STREAM went out
		// first; corpus input rst-before-settings.)
		t.Fatalf("our RST_STREAM/GOAWAY written before the server's first SETTINGS (RFC 9113 §3.4)%s", p.trace())
	}

	// A drain that was asked for is not lost, unless a policy ended the
	// connection before the server's stream reached a safe point.
	if notices == 0 {
		end := kept
		if p.abortAt >= 0 {
			end = min(end, p.abortAt)
		}
		safe := safePoints(written[:end])
		for _, at := range p.noticeAsked {
			for _, s := range safe {
				if s >= at {
					t.Fatalf("a drain asked at server offset %d left no notice, though the stream passed a safe point at %d before the end at %d%s",
						at, s, end, p.trace())
				}
			}
		}
	}
}

// checkInbound verifies what the server read against what the client sent,
// frame by frame: the same bytes (a prefix of them if the connection closed
// or our error GOAWAY cut the inbound side), except that a HEADERS frame
// opening a stream over the advertised limit is replaced by a HEADERS
// frame whose stream depends on itself and a CONTINUATION carrying the
// frame's header block fragment unchanged — and only when the client had
// at least that many streams open by its own count. Then it checks the
// streams the server would take in: none above the last-stream-id of our
// error GOAWAY, and every one of them counted by the supervisor.
func (p *fuzzProgram) checkInbound() {
	t := p.t
	sent, got := p.sent, p.delivered
	base := 0 // where the frames start in got
	if bytes.HasPrefix(sent, []byte(frame.ClientPreface)) {
		if len(got) < len(frame.ClientPreface) && p.readCut && strings.HasPrefix(frame.ClientPreface, string(got)) {
			return // closed before the preface was read
		}
		if len(got) < len(frame.ClientPreface) && p.abortAt >= 0 {
			return // cut before the preface was read
		}
		if !bytes.HasPrefix(got, []byte(frame.ClientPreface)) {
			t.Fatalf("the server did not read the client preface first%s", p.trace())
		}
		base = len(frame.ClientPreface)
		sent, got = sent[base:], got[base:]
	}
	sf, gf := parseFrames(sent), parseFrames(got)
	open := map[uint32]bool{} // the client's streams by its own count: opened, not reset by it
	var maxID uint32
	type servedStream struct {
		id uint32
		at int // where in what the server read its header block ended
	}
	var served []servedStream
	refusedIDs := map[uint32]bool{} // the server took these ids with the refusal
	var block uint32                // the new stream whose block is open
	blockServed := false
	j := 0
	consumed := 0 // client bytes accounted for
	for i := 0; i < len(sf) && j < len(gf); i++ {
		s, g := &sf[i], &gf[j]
		if isRefusal(g) && j+1 < len(gf) && gf[j+1].Type == frame.TypeContinuation && gf[j+1].StreamID == g.StreamID {
			c := &gf[j+1]
			frag, ok := headersFragment(s)
			switch {
			case p.limit == 0:
				t.Fatalf("a refusal at %d with no advertised limit%s", g.start, p.trace())
			case s.Type != frame.TypeHeaders || s.StreamID != g.StreamID || !ok:
				t.Fatalf("a refusal at %d in place of the client's %v on stream %d%s", g.start, s.Type, s.StreamID, p.trace())
			case g.Flags&frame.FlagEndStream != s.Flags&frame.FlagEndStream || c.Flags&frame.FlagEndHeaders != s.Flags&frame.FlagEndHeaders:
				t.Fatalf("the refusal at %d changed the flags of the client's HEADERS (%v)%s", g.start, s.Flags, p.trace())
			case !bytes.HasPrefix(frag, c.payload) || c.Length != uint32(len(frag)):
				t.Fatalf("the refusal at %d does not carry the client's header block fragment %x (%d bytes): it carries %x (length %d)%s", g.start, frag, len(frag), c.payload, c.Length, p.trace())
			case uint32(len(open)) < p.limit:
				// The limit applies when the stream opens, at its HEADERS
				// (RFC 9113 §5.1.2).
				t.Fatalf("stream %d refused with %d streams open, below the limit %d%s", s.StreamID, len(open), p.limit, p.trace())
			}
			maxID = max(maxID, s.StreamID)
			refusedIDs[s.StreamID] = true
			block, blockServed = 0, false
			if !s.Flags.Has(frame.FlagEndHeaders) {
				block = s.StreamID // its CONTINUATIONs follow, and end a refused block
			}
			consumed = s.end
			j += 2
			continue
		}
		sb, gb := sent[s.start:min(s.end, len(sent))], got[g.start:min(g.end, len(got))]
		if len(gb) > len(sb) || !bytes.Equal(gb, sb[:len(gb)]) || (len(gb) < len(sb) && j != len(gf)-1) {
			t.Fatalf("the server read a frame at %d that differs from the client's %v at %d%s", g.start, s.Type, s.start, p.trace())
		}
		consumed = s.start + len(gb)
		j++
		if !g.complete {
			break
		}
		switch s.Type {
		case frame.TypeHeaders:
			block, blockServed = 0, false
			id := s.StreamID
			if id%2 == 0 || (id <= maxID && open[id]) || refusedIDs[id] {
				// Trailers, or a connection error; on a refused id, the
				// server's connection error or (its reset not yet
				// written) nothing, and then ours (refusedAgain).
				break
			}
			maxID = max(maxID, id)
			open[id] = true
			if s.Flags.Has(frame.FlagEndHeaders) {
				served = append(served, servedStream{id, g.start})
			} else {
				block, blockServed = id, true
			}
		case frame.TypeContinuation:
			if block != 0 && s.StreamID == block && s.Flags.Has(frame.FlagEndHeaders) {
				if blockServed {
					served = append(served, servedStream{block, g.start})
				}
				block = 0
			}
		case frame.TypeRSTStream:
			delete(open, s.StreamID)
			block = 0
		default:
			block = 0
		}
	}
	if j < len(gf) {
		t.Fatalf("the server read %d frames the client never sent%s", len(gf)-j, p.trace())
	}
	if held := len(sent) - consumed; held > frame.HeaderLen+1 && !p.readCut && p.abortAt < 0 {
		t.Fatalf("the server read %d bytes fewer than the client sent, with the connection open%s", held, p.trace())
	}

	// No stream above our error GOAWAY's last-stream-id reaches the server
	// (RFC 9113 §6.8), and the supervisor counts every stream that does.
	wire := p.conn.wire()
	ours := uint32(frame.MaxStreamID)
	for _, f := range parseFrames(wire) {
		if f.complete && f.Type == frame.TypeGoAway && len(f.payload) >= 8 {
			if r := Reason(f.payload[8:]); r == ReasonHeaderTimeout || r == ReasonTooManyPings {
				ours = min(ours, f.goAwayLast())
			}
		}
	}
	// The server's GOAWAYs say which streams it took in: none above the
	// lowest last-stream-id (this fake server may write one after the
	// stream reached it, which a real one would not, had it taken it in).
	final := uint32(frame.MaxStreamID)
	for _, f := range parseFrames(p.server[:p.written]) {
		if f.complete && f.Type == frame.TypeGoAway && len(f.payload) >= 8 {
			final = min(final, f.goAwayLast())
		}
	}
	r := p.sup.Report()
	var counted uint64
	var countedMax uint32
	for _, st := range served {
		if st.id > p.limitAt(base+st.at) || st.id > final {
			continue // above a GOAWAY of the server's: it ignores the stream
		}
		if st.id > ours {
			t.Fatalf("stream %d reached the server after our GOAWAY with last-stream-id %d%s", st.id, ours, p.trace())
		}
		counted++
		countedMax = max(countedMax, st.id)
	}
	if r.StreamsOpened < counted || r.LastStreamID < countedMax {
		t.Fatalf("the server took in %d streams up to %d; the supervisor counted %d, last-stream-id %d%s",
			counted, countedMax, r.StreamsOpened, r.LastStreamID, p.trace())
	}
}

// isRefusal reports whether f is the HEADERS frame the tap gives the server
// in place of one that opens a stream over the limit: a priority that makes
// the stream depend on itself, and nothing else.
func isRefusal(f *wireFrame) bool {
	return f.complete && f.Type == frame.TypeHeaders && f.Length == 5 && f.Flags.Has(frame.FlagPriority) &&
		!f.Flags.Has(frame.FlagPadded) && !f.Flags.Has(frame.FlagEndHeaders) &&
		binary.BigEndian.Uint32(f.payload)&frame.MaxStreamID == f.StreamID
}

// headersFragment returns the header block fragment of the HEADERS frame f:
// its payload without padding and priority fields.
func headersFragment(f *wireFrame) ([]byte, bool) {
	pl := f.payload
	if !f.complete {
		return nil, false
	}
	pad := 0
	if f.Flags.Has(frame.FlagPadded) {
		if len(pl) < 1 {
			return nil, false
		}
		pad, pl = int(pl[0]), pl[1:]
	}
	if f.Flags.Has(frame.FlagPriority) {
		if len(pl) < 5 {
			return nil, false
		}
		pl = pl[5:]
	}
	if pad > len(pl) {
		return nil, false
	}
	return pl[:len(pl)-pad], true
}

// maxStreamsMask is a server stream with the SETTINGS_MAX_CONCURRENT_STREAMS
// values of its first SETTINGS frame zeroed, and those values.
type maxStreamsMask struct {
	masked []byte
	values []uint32
}

func maskMaxStreams(b []byte) maxStreamsMask {
	m := maxStreamsMask{masked: bytes.Clone(b)}
	for _, f := range parseFrames(m.masked) {
		if f.Type != frame.TypeSettings || f.Flags.Has(frame.FlagAck) || f.Length == 0 && !f.complete {
			continue
		}
		end := min(f.end, len(m.masked)) // a cut connection can end mid-frame
		for i := f.start + frame.HeaderLen; i+2 <= end; i += 6 {
			if binary.BigEndian.Uint16(m.masked[i:]) != settingMaxConcurrentStreams {
				continue
			}
			if i+6 <= end {
				m.values = append(m.values, binary.BigEndian.Uint32(m.masked[i+2:]))
			}
			clear(m.masked[i+2 : min(i+6, end)])
		}
		break // the first SETTINGS only
	}
	return m
}

// forgiveResets returns wire with the changes the tap may make to the
// server's resets undone, and how many of each it undid (wire starts with
// the server's bytes, aligned):
//
//   - CANCEL where the server's RST_STREAM said INTERNAL_ERROR, with a
//     per-stream limit on (cancels);
//   - REFUSED_STREAM where the server's RST_STREAM answering a refusal said
//     PROTOCOL_ERROR (limit.go: the refusal makes the server reset with
//     PROTOCOL_ERROR). As in the tap, every refusal of a stream (a reused
//     id is refused again) is answered by the server's next reset of that
//     stream, whatever its code; refused lists them in order, each with the
//     number of the server's bytes written when it reached the server.
//
// (Found by this target: the checker knew only the first rewrite, corpus
// input refused-stream-reset; it counted a reset from before the refusal,
// refused-after-reset; and one refusal per stream, refused-twice.)
//
// Any other change to a reset still fails serverPrefix.
func forgiveResets(server, wire []byte, cancels bool, refused []refusal) (out []byte, canceled, refusals int) {
	out = wire
	undo := func(at int, code frame.ErrCode) {
		if canceled+refusals == 0 {
			out = bytes.Clone(wire)
		}
		binary.BigEndian.PutUint32(out[at:], uint32(code))
	}
	waiting := map[uint32]int{} // refusals the server has not answered yet, by stream
	next := 0
	for _, f := range parseFrames(server) {
		at := f.start + frame.HeaderLen
		if !f.complete || f.Type != frame.TypeRSTStream || f.Length != 4 || at+4 > len(wire) {
			continue
		}
		for ; next < len(refused) && refused[next].written < f.end; next++ {
			waiting[refused[next].stream]++
		}
		answers := waiting[f.StreamID] > 0
		if answers {
			waiting[f.StreamID]--
		}
		code, sent := frame.ErrCode(binary.BigEndian.Uint32(server[at:])), frame.ErrCode(binary.BigEndian.Uint32(wire[at:]))
		switch {
		case cancels && code == frame.ErrCodeInternal && sent == frame.ErrCodeCancel:
			undo(at, code)
			canceled++
		case answers && code == frame.ErrCodeProtocol && sent == frame.ErrCodeRefusedStream:
			undo(at, code)
			refusals++
		}
	}
	return out, canceled, refusals
}

// refusal is a stream the tap refused over the advertised limit, and how
// many of the server's bytes were written when the refusal reached it.
type refusal struct {
	stream  uint32
	written int
}

// refusedStreams returns the tap's refusals (the HEADERS frames that reached
// the server as a refusal, isRefusal), in the order the server read them.
func (p *fuzzProgram) refusedStreams() []refusal {
	got, base := p.delivered, 0
	if bytes.HasPrefix(got, []byte(frame.ClientPreface)) {
		got, base = got[len(frame.ClientPreface):], len(frame.ClientPreface)
	}
	var out []refusal
	for _, f := range parseFrames(got) {
		if !isRefusal(&f) {
			continue
		}
		// The read that delivered the frame's last byte: the last one that
		// began at or before it.
		written := 0
		for _, m := range p.marks {
			if m.at > base+f.end-1 {
				break
			}
			written = m.written
		}
		out = append(out, refusal{f.StreamID, written})
	}
	return out
}

// serverPrefix returns how much of the server's stream the stripped wire
// carries: all of it, or a prefix cut short by the close, or a prefix up to a
// frame boundary outside a header block followed by whole frames of ours
// (RST_STREAM, GOAWAY) and nothing else. Anything else means the tap changed
// a byte of the server's, and fails the test.
func serverPrefix(t *testing.T, server, stripped []byte, trace func() string) int {
	t.Helper()
	n := 0
	for n < len(server) && n < len(stripped) && server[n] == stripped[n] {
		n++
	}
	if n == len(stripped) {
		return n
	}
	// Candidate boundaries at or before n, latest first.
	bounds := []int{0}
	inBlock := false
	for _, f := range parseFrames(server) {
		if f.start > n {
			break
		}
		if !inBlock && f.start > 0 {
			bounds = append(bounds, f.start)
		}
		if !f.complete {
			break
		}
		inBlock = opensBlock(&f)
		if f.end == len(server) && f.end <= n && !inBlock {
			bounds = append(bounds, f.end)
		}
	}
	for i := len(bounds) - 1; i >= 0; i-- {
		if oursOnly(stripped[bounds[i]:]) {
			return bounds[i]
		}
	}
	t.Fatalf("the wire differs from the server's bytes at offset %d (our frames taken out), and what follows is not our RST_STREAM or GOAWAY frames%s", n, trace())
	return 0
}

// oursOnly reports whether b is whole RST_STREAM and GOAWAY frames: what the
// supervisor writes last, before it closes the connection.
func oursOnly(b []byte) bool {
	for _, f := range parseFrames(b) {
		if !f.complete || (f.Type != frame.TypeRSTStream && f.Type != frame.TypeGoAway) {
			return false
		}
	}
	return true
}

// hasSettings reports whether a server stream has a complete SETTINGS
// frame (not an ACK).
func hasSettings(server []byte) bool {
	for _, f := range parseFrames(server) {
		if f.complete && f.Type == frame.TypeSettings && !f.Flags.Has(frame.FlagAck) {
			return true
		}
	}
	return false
}

// safePoints returns the offsets of a server stream where the notice may go:
// frame boundaries outside header blocks, after the first SETTINGS, up to and
// including the start of the server's first GOAWAY.
func safePoints(server []byte) []int {
	var pts []int
	sawSettings, inBlock := false, false
	for _, f := range parseFrames(server) {
		if sawSettings && !inBlock {
			pts = append(pts, f.start)
		}
		if !f.complete {
			return pts
		}
		if f.Type == frame.TypeGoAway {
			return pts
		}
		if f.Type == frame.TypeSettings && !f.Flags.Has(frame.FlagAck) {
			sawSettings = true
		}
		inBlock = opensBlock(&f)
	}
	if sawSettings && !inBlock {
		pts = append(pts, len(server))
	}
	return pts
}

// trace describes the run for a failure message.
func (p *fuzzProgram) trace() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "\nserver wrote %d of %d bytes; notice asked at %v; conn cut=%v", p.written, len(p.server), p.noticeAsked, p.conn.cut())
	sb.WriteString("\nwire:")
	for i, f := range parseFrames(p.conn.wire()) {
		if i == 64 {
			sb.WriteString("\n  …")
			break
		}
		fmt.Fprintf(&sb, "\n  @%d %v flags=%#x stream=%d len=%d complete=%v", f.start, f.Type, uint8(f.Flags), f.StreamID, f.Length, f.complete)
		if f.Type == frame.TypeGoAway {
			fmt.Fprintf(&sb, " last=%d", f.goAwayLast())
		}
	}
	return sb.String()
}

// fuzzConn is the accepted connection under the tap: it records what is
// written and serves what the test feeds it to Read.
type fuzzConn struct {
	mu     sync.Mutex
	out    []byte
	in     []byte
	closed bool
	shut   bool

	// The data of our notice's PING. The tap writes GOAWAY(2^31-1)+PING
	// in a Write of its own; noting it here spares a parse of the whole
	// wire for every ACK the program sends.
	noticePing [8]byte
	sawNotice  bool
}

func (c *fuzzConn) feed(b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.in = append(c.in, b...)
}

func (c *fuzzConn) wire() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.out)
}

// cut reports whether our FIN went out or the connection was closed.
func (c *fuzzConn) cut() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed || c.shut
}

// shutByUs reports whether the supervisor half-closed the connection.
func (c *fuzzConn) shutByUs() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.shut
}

func (c *fuzzConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, net.ErrClosed
	}
	n := copy(p, c.in)
	c.in = c.in[n:]
	return n, nil
}

func (c *fuzzConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closed:
		return 0, net.ErrClosed
	case c.shut:
		return 0, syscall.EPIPE
	}
	c.out = append(c.out, p...)
	if c.sawNotice || len(p) > 256 {
		return len(p), nil
	}
	if fs := parseFrames(p); len(fs) == 2 && fs[0].Type == frame.TypeGoAway && fs[0].complete &&
		fs[0].goAwayLast() == frame.MaxStreamID && fs[1].Type == frame.TypePing && fs[1].complete {
		c.noticePing, c.sawNotice = fs[1].data8(), true
	}
	return len(p), nil
}

func (c *fuzzConn) CloseWrite() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.shut = true
	return nil
}

func (c *fuzzConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	return nil
}

func (c *fuzzConn) LocalAddr() net.Addr                { return loopback }
func (c *fuzzConn) RemoteAddr() net.Addr               { return loopback }
func (c *fuzzConn) SetDeadline(t time.Time) error      { return nil }
func (c *fuzzConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *fuzzConn) SetWriteDeadline(t time.Time) error { return nil }

// TestSupervisorProgramSeeds makes sure the seed programs do what their
// comments say, so that the fuzz target starts from the paths that matter.
func TestSupervisorProgramSeeds(t *testing.T) {
	want := []struct {
		notice, pingTimedOut, graceExpired, fin bool
		refusals, rewritten, refusalResets      int
	}{
		{notice: true, fin: true},
		{notice: true, pingTimedOut: true, fin: true},
		{notice: false, fin: true},
		{notice: true, graceExpired: true},
		{notice: true, fin: true},
		{notice: true},
		{notice: false, fin: true},
		{notice: false, refusals: 2},
		{notice: true, fin: true},
		{rewritten: 1},
		{},
		{refusals: 1, refusalResets: 1},
	}
	seeds := fuzzSeeds()
	if len(seeds) != len(want) {
		t.Fatalf("%d seeds, %d expectations", len(seeds), len(want))
	}
	for i, seed := range seeds {
		synctest.Test(t, func(t *testing.T) {
			p := runFuzzProgram(t, seed)
			r := p.sup.Report()
			notice := false
			for _, f := range parseFrames(p.conn.wire()) {
				notice = notice || (f.Type == frame.TypeGoAway && f.goAwayLast() == frame.MaxStreamID)
			}
			refusals := 0
			for _, f := range parseFrames(p.delivered[min(len(p.delivered), len(frame.ClientPreface)):]) {
				if isRefusal(&f) {
					refusals++
				}
			}
			w := want[i]
			if notice != w.notice || r.PingTimedOut != w.pingTimedOut || r.GraceExpired != w.graceExpired || p.conn.shutByUs() != w.fin || refusals != w.refusals || p.rewritten != w.rewritten || p.refusalResets != w.refusalResets {
				t.Errorf("seed %d: notice=%v ping timeout=%v grace expired=%v FIN=%v refusals=%d rewritten=%d refusal resets=%d, want %+v%s",
					i, notice, r.PingTimedOut, r.GraceExpired, p.conn.shutByUs(), refusals, p.rewritten, p.refusalResets, w, p.trace())
			}
		})
	}
}

// TestAbortGoAwayAfterServerGoAway: PING enforcement ends a connection while
// the server is in the middle of a DATA frame, so our last frames wait for
// the frame boundary. The server's next write finishes the frame and sends
// its own GOAWAY(1): it had not processed stream 3 yet, which the tap had
// already seen open. Our GOAWAY, written after it, must not name a higher
// last-stream-id (RFC 9113 §6.8). Found by FuzzSupervisor (corpus input
// abort-goaway-after-server-goaway).
func TestAbortGoAwayAfterServerGoAway(t *testing.T) {
	const all = 0xff
	gen := func(kind byte, args ...byte) []byte { return append([]byte{opGenBase + kind}, args...) }
	prog := bytes.Join([][]byte{
		{1 | 4}, // h2c with the preface read elsewhere; PING enforcement on
		gen(genSettings, 0), {opWrite, all},
		{opRead, inHeaders, 0, 63}, {opRead, inHeaders, 0, 63}, // streams 1 and 3
		gen(genData, 0, 0, 200), {opWrite, 5}, // the server is mid-frame
		{opRead, inPing, 1, 63}, {opRead, inPing, 2, 63}, {opRead, inPing, 3, 63}, {opRead, inPing, 4, 63},
		gen(genGoAway, 1, 0, 0), {opWrite, all}, // the rest of DATA, then GOAWAY(1)
	}, nil)
	synctest.Test(t, func(t *testing.T) {
		p := runFuzzProgram(t, prog) // fails the test if the GOAWAYs go up
		if r := p.sup.Report(); r.Reason != ReasonTooManyPings {
			t.Errorf("reason %q, want %q: the program did not reach the abort%s", r.Reason, ReasonTooManyPings, p.trace())
		}
	})
}
