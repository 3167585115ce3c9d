package experiment

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"

	"golang.org/x/net/http2"
)

// Side says which end of a connection a recording was made at.
type Side uint8

const (
	ClientSide Side = iota // the client's end: it writes the preface
	ServerSide             // the server's end: it reads the preface
)

func (s Side) String() string {
	if s == ServerSide {
		return "server"
	}
	return "client"
}

// Direction is which way a frame went, seen from the recorded end.
type Direction uint8

const (
	Sent     Direction = iota // written by the recorded end
	Received                  // read by the recorded end
)

// Event is one frame seen on a recorded connection.
type Event struct {
	At           time.Time
	Dir          Direction
	Type         http2.FrameType
	Flags        http2.Flags
	StreamID     uint32
	LastStreamID uint32        // GOAWAY
	Code         http2.ErrCode // GOAWAY, RST_STREAM
	PingData     [8]byte       // PING
	Debug        string        // GOAWAY debug data
}

func (e Event) String() string {
	arrow := "→"
	if e.Dir == Received {
		arrow = "←"
	}
	switch e.Type {
	case http2.FrameGoAway:
		s := fmt.Sprintf("%s GOAWAY last-stream-id=%d %v", arrow, e.LastStreamID, e.Code)
		if e.Debug != "" {
			s += fmt.Sprintf(" debug=%q", e.Debug)
		}
		return s
	case http2.FramePing:
		if e.Flags.Has(http2.FlagPingAck) {
			return fmt.Sprintf("%s PING ACK %x", arrow, e.PingData)
		}
		return fmt.Sprintf("%s PING %x", arrow, e.PingData)
	case http2.FrameRSTStream:
		return fmt.Sprintf("%s RST_STREAM stream %d %v", arrow, e.StreamID, e.Code)
	case http2.FrameHeaders, http2.FrameData:
		es := ""
		if e.Flags.Has(http2.FlagDataEndStream) { // same bit for HEADERS
			es = " END_STREAM"
		}
		return fmt.Sprintf("%s %v stream %d%s", arrow, e.Type, e.StreamID, es)
	}
	return fmt.Sprintf("%s %v stream %d flags=%#x", arrow, e.Type, e.StreamID, uint8(e.Flags))
}

// ConnRecord is what a recorded connection saw.
type ConnRecord struct {
	ID     int // in the order the recorder saw the connections
	Side   Side
	Opened time.Time
	Closed time.Time // zero while open

	BytesSent, BytesReceived int64
	StreamsSent              int    // streams opened by HEADERS this end wrote
	StreamsReceived          int    // streams opened by HEADERS this end read
	MaxStreamSent            uint32 // highest stream id opened by a HEADERS this end wrote
	GoAwaysSent, GoAwaysRecv int
	FirstGoAwaySent          time.Time
	FirstGoAwayRecv          time.Time
	MinLastStreamIDRecv      uint32 // lowest last-stream-id of the GOAWAYs received
	// StreamsSentAfterGoAway counts the streams this end opened (wrote the
	// HEADERS of) after it had received a GOAWAY. RFC 9113 §6.8 says a
	// receiver of GOAWAY must not open streams; x/net's client can still
	// write the HEADERS of a stream whose id it allocated just before.
	StreamsSentAfterGoAway int
	// PingAckedAfterGoAway is when this end first wrote a PING ACK after it
	// had received a GOAWAY: zero if it never did. A client's read loop
	// handles frames in order, so by then it had taken the GOAWAY in, and a
	// stream it opens later breaks RFC 9113 §6.8.
	PingAckedAfterGoAway time.Time
	// StreamsReceivedAfterGoAway counts the streams whose HEADERS this end
	// read after it had written its first GOAWAY: on the server's end, the
	// streams that crossed the GOAWAY on the wire.
	StreamsReceivedAfterGoAway int

	// Events holds GOAWAY, PING and RST_STREAM frames, and HEADERS and
	// DATA with END_STREAM once either side sent a GOAWAY and the last few
	// just before it, up to the recorder's MaxEvents.
	Events  []Event
	Dropped int // events not kept beyond MaxEvents
}

// StreamsAboveGoAway counts the streams this end opened with ids above the
// lowest last-stream-id it received in a GOAWAY: on the client's end, the
// streams the server said it never processed. Client stream ids are
// consecutive odd numbers, so the count follows from the ids.
func (c *ConnRecord) StreamsAboveGoAway() int {
	if c.GoAwaysRecv == 0 || c.MaxStreamSent <= c.MinLastStreamIDRecv {
		return 0
	}
	return int((c.MaxStreamSent+1)/2 - (c.MinLastStreamIDRecv+1)/2)
}

// Recorder records the frames crossing the connections it wraps. It decodes
// the frame headers of both directions incrementally, whatever the
// chunking, and the bodies of the few control frames it keeps with
// http2.Framer. It never changes a byte. Safe for concurrent use.
type Recorder struct {
	// MaxEvents bounds the events kept per connection; zero means 256.
	MaxEvents int

	mu    sync.Mutex
	conns []*recConn
}

// NewRecorder returns an empty recorder.
func NewRecorder() *Recorder { return &Recorder{} }

// Wrap records c, the connection of the given side. The result forwards
// ConnectionState (so a TLS client still sees the negotiated protocol) and
// CloseWrite (so a server's half-close still half-closes).
func (r *Recorder) Wrap(c net.Conn, side Side) net.Conn {
	rc := &recConn{Conn: c, r: r}
	rc.rec.Side = side
	rc.rec.Opened = time.Now()
	rc.rec.MinLastStreamIDRecv = 1<<31 - 1
	// RFC 9113 §3.4: the client's first 24 bytes are the preface, not a frame.
	if side == ClientSide {
		rc.out.preface = len(http2.ClientPreface)
	} else {
		rc.in.preface = len(http2.ClientPreface)
	}
	r.mu.Lock()
	rc.rec.ID = len(r.conns) + 1
	r.conns = append(r.conns, rc)
	r.mu.Unlock()
	if _, ok := c.(interface{ ConnectionState() tls.ConnectionState }); ok {
		return recTLSConn{rc}
	}
	return rc
}

// Listener wraps ln so that every accepted connection is recorded as a
// server's end.
func (r *Recorder) Listener(ln net.Listener) net.Listener { return recListener{ln, r} }

// Conns returns a copy of what every connection saw so far.
func (r *Recorder) Conns() []ConnRecord {
	r.mu.Lock()
	conns := append([]*recConn(nil), r.conns...)
	r.mu.Unlock()
	out := make([]ConnRecord, len(conns))
	for i, c := range conns {
		out[i] = c.record()
	}
	return out
}

func (r *Recorder) maxEvents() int {
	if r.MaxEvents <= 0 {
		return 256
	}
	return r.MaxEvents
}

type recListener struct {
	net.Listener
	r *Recorder
}

func (l recListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return l.r.Wrap(c, ServerSide), nil
}

type recConn struct {
	net.Conn
	r *Recorder

	rmu sync.Mutex // serializes the inbound parser
	in  parser
	wmu sync.Mutex // serializes the outbound parser
	out parser

	mu  sync.Mutex // guards rec and recent
	rec ConnRecord
	// recent keeps the last stream frames before the first GOAWAY, so that
	// the requests that crossed it show in Events.
	recent [recentFrames]Event
	nrec   int
}

// recentFrames is how many stream frames before the first GOAWAY are kept.
const recentFrames = 32

type recTLSConn struct{ *recConn }

func (c recTLSConn) ConnectionState() tls.ConnectionState {
	return c.Conn.(interface{ ConnectionState() tls.ConnectionState }).ConnectionState()
}

func (c *recConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.rmu.Lock()
		c.in.feed(p[:n], func(h http2.FrameHeader, payload []byte) { c.frame(Received, h, payload) })
		c.rmu.Unlock()
		c.mu.Lock()
		c.rec.BytesReceived += int64(n)
		c.mu.Unlock()
	}
	return n, err
}

func (c *recConn) Write(p []byte) (int, error) {
	// Parse before writing: the frame is on its way once Write starts, and
	// the peer may answer before Write returns.
	c.wmu.Lock()
	c.out.feed(p, func(h http2.FrameHeader, payload []byte) { c.frame(Sent, h, payload) })
	c.wmu.Unlock()
	n, err := c.Conn.Write(p)
	c.mu.Lock()
	c.rec.BytesSent += int64(n)
	c.mu.Unlock()
	return n, err
}

// CloseWrite half-closes the connection when the wrapped one can.
func (c *recConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// NetConn returns the wrapped connection.
func (c *recConn) NetConn() net.Conn { return c.Conn }

func (c *recConn) Close() error {
	err := c.Conn.Close()
	c.mu.Lock()
	if c.rec.Closed.IsZero() {
		c.rec.Closed = time.Now()
	}
	c.mu.Unlock()
	return err
}

// ackedAfterGoAway says whether this end has written a PING ACK after it
// received a GOAWAY (ConnRecord.PingAckedAfterGoAway).
func (c *recConn) ackedAfterGoAway() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.rec.PingAckedAfterGoAway.IsZero()
}

func (c *recConn) record() ConnRecord {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.rec
	r.Events = append([]Event(nil), c.rec.Events...)
	// The frames kept from just before the first GOAWAY were added late.
	slices.SortStableFunc(r.Events, func(a, b Event) int { return a.At.Compare(b.At) })
	return r
}

// frame notes one frame; payload is set for the control frames parser keeps.
func (c *recConn) frame(dir Direction, h http2.FrameHeader, payload []byte) {
	now := time.Now()
	ev := Event{At: now, Dir: dir, Type: h.Type, Flags: h.Flags, StreamID: h.StreamID}
	if payload != nil {
		decodeControl(&ev, h, payload)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	r := &c.rec
	keep := false
	switch h.Type {
	case http2.FrameHeaders:
		// A HEADERS frame opens a stream unless it carries trailers; the
		// opener's ids only grow (RFC 9113 §5.1.1).
		// Clients open odd streams (RFC 9113 §5.1.1); a server's HEADERS on
		// them are responses.
		clientStream := h.StreamID%2 == 1
		if dir == Sent && r.Side == ClientSide && clientStream && h.StreamID > r.MaxStreamSent {
			r.MaxStreamSent = h.StreamID
			r.StreamsSent++
			if !r.FirstGoAwayRecv.IsZero() {
				r.StreamsSentAfterGoAway++
			}
		} else if dir == Received && r.Side == ServerSide && clientStream && c.in.newStream(h.StreamID) {
			r.StreamsReceived++
			if !r.FirstGoAwaySent.IsZero() {
				r.StreamsReceivedAfterGoAway++
			}
		}
		keep = !r.FirstGoAwaySent.IsZero() || !r.FirstGoAwayRecv.IsZero()
	case http2.FrameData:
		keep = h.Flags.Has(http2.FlagDataEndStream) && (!r.FirstGoAwaySent.IsZero() || !r.FirstGoAwayRecv.IsZero())
	case http2.FrameGoAway:
		keep = true
		if r.FirstGoAwaySent.IsZero() && r.FirstGoAwayRecv.IsZero() {
			c.flushRecent()
		}
		if dir == Sent {
			r.GoAwaysSent++
			if r.FirstGoAwaySent.IsZero() {
				r.FirstGoAwaySent = now
			}
		} else {
			r.GoAwaysRecv++
			if r.FirstGoAwayRecv.IsZero() {
				r.FirstGoAwayRecv = now
			}
			r.MinLastStreamIDRecv = min(r.MinLastStreamIDRecv, ev.LastStreamID)
		}
	case http2.FramePing, http2.FrameRSTStream:
		keep = true
		if h.Type == http2.FramePing && dir == Sent && h.Flags.Has(http2.FlagPingAck) &&
			!r.FirstGoAwayRecv.IsZero() && r.PingAckedAfterGoAway.IsZero() {
			r.PingAckedAfterGoAway = now
		}
	}
	if !keep {
		if h.Type == http2.FrameHeaders || h.Type == http2.FrameData && h.Flags.Has(http2.FlagDataEndStream) {
			c.recent[c.nrec%recentFrames] = ev
			c.nrec++
		}
		return
	}
	c.keep(ev)
}

// flushRecent moves the stream frames seen just before the first GOAWAY
// into the events, oldest first. Call with mu held.
func (c *recConn) flushRecent() {
	for i := max(c.nrec-recentFrames, 0); i < c.nrec; i++ {
		c.keep(c.recent[i%recentFrames])
	}
	c.nrec = 0
}

// keep appends ev to the events, within MaxEvents. Call with mu held.
func (c *recConn) keep(ev Event) {
	r := &c.rec
	if len(r.Events) >= c.r.maxEvents() {
		r.Dropped++
		return
	}
	r.Events = append(r.Events, ev)
}

// decodeControl fills ev from a control frame's payload with x/net's own
// decoder.
func decodeControl(ev *Event, h http2.FrameHeader, payload []byte) {
	var buf bytes.Buffer
	var hdr [9]byte
	hdr[0], hdr[1], hdr[2] = byte(h.Length>>16), byte(h.Length>>8), byte(h.Length)
	hdr[3], hdr[4] = byte(h.Type), byte(h.Flags)
	binary.BigEndian.PutUint32(hdr[5:], h.StreamID)
	buf.Write(hdr[:])
	buf.Write(payload)
	f, err := http2.NewFramer(nil, &buf).ReadFrame()
	if err != nil {
		return // a malformed frame: the header fields are all we have
	}
	switch f := f.(type) {
	case *http2.GoAwayFrame:
		ev.LastStreamID, ev.Code, ev.Debug = f.LastStreamID, f.ErrCode, string(f.DebugData())
	case *http2.PingFrame:
		ev.PingData = f.Data
	case *http2.RSTStreamFrame:
		ev.Code = f.ErrCode
	}
}

// parser follows the frame boundaries of one direction of a connection.
type parser struct {
	preface int // preface bytes still to skip
	hdr     [9]byte
	hn      int // header bytes collected
	h       http2.FrameHeader
	left    int // payload bytes still to come
	keep    bool
	payload []byte
	maxIn   uint32 // highest stream id opened by an inbound HEADERS
	lost    bool   // a frame header made no sense; stop parsing
}

// newStream reports whether id opens a stream (it is above every stream
// opened before) and notes it.
func (p *parser) newStream(id uint32) bool {
	if id <= p.maxIn {
		return false
	}
	p.maxIn = id
	return true
}

// keepPayload says which frames the recorder decodes in full: small ones.
func keepPayload(t http2.FrameType) bool {
	return t == http2.FrameGoAway || t == http2.FramePing || t == http2.FrameRSTStream
}

// feed consumes b and calls frame for every frame that ends in it, with the
// payload for the frames keepPayload names.
func (p *parser) feed(b []byte, frame func(http2.FrameHeader, []byte)) {
	for len(b) > 0 && !p.lost {
		if p.preface > 0 {
			k := min(p.preface, len(b))
			p.preface -= k
			b = b[k:]
			continue
		}
		if p.hn < len(p.hdr) {
			k := copy(p.hdr[p.hn:], b)
			p.hn += k
			b = b[k:]
			if p.hn < len(p.hdr) {
				return
			}
			p.h = http2.FrameHeader{
				Length:   uint32(p.hdr[0])<<16 | uint32(p.hdr[1])<<8 | uint32(p.hdr[2]),
				Type:     http2.FrameType(p.hdr[3]),
				Flags:    http2.Flags(p.hdr[4]),
				StreamID: binary.BigEndian.Uint32(p.hdr[5:]) & (1<<31 - 1),
			}
			if p.h.Length > 1<<24-1 {
				p.lost = true
				return
			}
			p.left = int(p.h.Length)
			p.keep = keepPayload(p.h.Type) && p.h.Length <= 1<<14
			p.payload = p.payload[:0]
		}
		k := min(p.left, len(b))
		if p.keep {
			p.payload = append(p.payload, b[:k]...)
		}
		p.left -= k
		b = b[k:]
		if p.left == 0 {
			var payload []byte
			if p.keep {
				payload = p.payload
			}
			frame(p.h, payload)
			p.hn = 0
		}
	}
}
