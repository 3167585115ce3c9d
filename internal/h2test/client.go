package h2test

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// DefaultTimeout bounds every read of a [Client] whose Timeout is zero.
const DefaultTimeout = 5 * time.Second

// maxFramesPerCall bounds the loops of the read helpers.
const maxFramesPerCall = 100000

// Client is a raw HTTP/2 client for wire tests.
type Client struct {
	Conn   net.Conn
	Framer *http2.Framer // ReadMetaHeaders is set: header blocks arrive as *http2.MetaHeadersFrame

	// Timeout is the read deadline applied to each read; zero means DefaultTimeout.
	Timeout time.Duration

	// AutoAck makes the read helpers ACK the server's SETTINGS and PINGs
	// (RFC 9113 §6.5.3, §6.7). NewClient sets it; clear it to control ACKs.
	AutoAck bool

	// ServerSettings holds the server's first SETTINGS frame, once read.
	ServerSettings map[http2.SettingID]uint32

	// Scheme and Authority are the :scheme and :authority WriteHeaders uses
	// by default. NewClient sets "https" for TLS conns, "http" otherwise,
	// and the remote address.
	Scheme, Authority string

	tb     testing.TB
	wlock  chan struct{} // serializes writes; a channel so waiting is durably blocking
	enc    *hpack.Encoder
	encBuf bytes.Buffer
	recent []string // last frames read, for failure messages
	pingN  uint64
}

// NewClient wraps c and closes it when the test ends. It writes nothing;
// see [Client.Handshake].
func NewClient(tb testing.TB, c net.Conn) *Client {
	tb.Helper()
	fr := http2.NewFramer(c, c)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	// Tests must be able to send what a broken peer would.
	fr.AllowIllegalWrites = true
	cl := &Client{
		Conn:      c,
		Framer:    fr,
		AutoAck:   true,
		Scheme:    "http",
		Authority: c.RemoteAddr().String(),
		tb:        tb,
		wlock:     make(chan struct{}, 1),
	}
	if _, ok := c.(interface{ ConnectionState() tls.ConnectionState }); ok {
		cl.Scheme = "https"
	}
	cl.enc = hpack.NewEncoder(&cl.encBuf)
	tb.Cleanup(func() { c.Close() })
	return cl
}

// checkLoopback fails the test unless addr is a loopback IP and port.
func checkLoopback(tb testing.TB, addr string) {
	tb.Helper()
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		tb.Fatalf("h2test: bad address %q: %v", addr, err)
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		tb.Fatalf("h2test: refusing to dial %q: tests only dial loopback addresses such as 127.0.0.1", addr)
	}
}

// Dial connects over TCP for HTTP/2 with prior knowledge (h2c, RFC 9113
// §3.3) to a loopback address.
func Dial(tb testing.TB, addr string) *Client {
	tb.Helper()
	checkLoopback(tb, addr)
	c, err := net.DialTimeout("tcp", addr, DefaultTimeout)
	if err != nil {
		tb.Fatalf("h2test: dial %s: %v", addr, err)
	}
	return NewClient(tb, c)
}

// DialTLS connects over TLS to a loopback address, offering only "h2" by
// ALPN and skipping certificate verification; it fails the test unless the
// server selects "h2".
func DialTLS(tb testing.TB, addr string) *Client {
	tb.Helper()
	checkLoopback(tb, addr)
	d := &net.Dialer{Timeout: DefaultTimeout}
	c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{
		InsecureSkipVerify: true,
		NextProtos:         []string{http2.NextProtoTLS},
	})
	if err != nil {
		tb.Fatalf("h2test: TLS dial %s: %v", addr, err)
	}
	if p := c.ConnectionState().NegotiatedProtocol; p != http2.NextProtoTLS {
		c.Close()
		tb.Fatalf("h2test: TLS dial %s: ALPN selected %q, want %q", addr, p, http2.NextProtoTLS)
	}
	return NewClient(tb, c)
}

// write runs f with the write lock held and fails the test if it fails.
func (c *Client) write(what string, f func(fr *http2.Framer) error) {
	c.tb.Helper()
	if err := c.tryWrite(f); err != nil {
		c.tb.Fatalf("h2test: writing %s: %v", what, err)
	}
}

func (c *Client) tryWrite(f func(fr *http2.Framer) error) error {
	c.wlock <- struct{}{}
	defer func() { <-c.wlock }()
	return f(c.Framer)
}

// WritePreface writes the 24-byte client connection preface (RFC 9113 §3.4).
func (c *Client) WritePreface() {
	c.tb.Helper()
	c.write("preface", func(*http2.Framer) error {
		_, err := io.WriteString(c.Conn, http2.ClientPreface)
		return err
	})
}

// WriteSettings writes a SETTINGS frame with the given settings (none: empty).
func (c *Client) WriteSettings(settings ...http2.Setting) {
	c.tb.Helper()
	c.write("SETTINGS", func(fr *http2.Framer) error { return fr.WriteSettings(settings...) })
}

// WriteSettingsAck writes a SETTINGS frame with the ACK flag.
func (c *Client) WriteSettingsAck() {
	c.tb.Helper()
	c.write("SETTINGS ACK", func(fr *http2.Framer) error { return fr.WriteSettingsAck() })
}

// Handshake writes the preface and a SETTINGS frame with the given settings,
// requires the server's first frame to be SETTINGS (stored in
// ServerSettings), ACKs it, reads until the server ACKs ours, and ends with
// a [Client.Sync]. On return the server has processed the preface, both
// SETTINGS and the ACK, and every frame it sent so far (such as its
// connection WINDOW_UPDATE, which x/net may send before or after its
// SETTINGS ACK) has been read. The Sync's PING is the one frame a real
// client would not send.
func (c *Client) Handshake(settings ...http2.Setting) {
	c.tb.Helper()
	c.WritePreface()
	c.WriteSettings(settings...)
	c.ExpectSettings()
	c.WriteSettingsAck()
	if _, err := c.ReadUntil(func(f http2.Frame) bool {
		sf, ok := f.(*http2.SettingsFrame)
		return ok && sf.IsAck()
	}); err != nil {
		c.tb.Fatalf("h2test: waiting for the server's SETTINGS ACK: %v%s", err, c.history())
	}
	c.Sync()
}

// ExpectSettings reads one frame, fails the test unless it is a non-ACK
// SETTINGS frame (RFC 9113 §3.4: the server preface), stores its values in
// ServerSettings and returns them. It does not ACK.
func (c *Client) ExpectSettings() map[http2.SettingID]uint32 {
	c.tb.Helper()
	f, err := c.ReadFrame()
	if err != nil {
		c.tb.Fatalf("h2test: reading the server's first frame: %v", err)
	}
	sf, ok := f.(*http2.SettingsFrame)
	if !ok || sf.IsAck() {
		c.tb.Fatalf("h2test: server's first frame is %s, want SETTINGS (RFC 9113 §3.4)", Summarize(f))
	}
	c.ServerSettings = make(map[http2.SettingID]uint32)
	sf.ForeachSetting(func(s http2.Setting) error {
		c.ServerSettings[s.ID] = s.Val
		return nil
	})
	return c.ServerSettings
}

// requestFields builds a request header list: the pseudo-header fields (with
// defaults for those not given) first, then the regular fields, in order.
func (c *Client) requestFields(fields []string) []hpack.HeaderField {
	c.tb.Helper()
	if len(fields)%2 != 0 {
		c.tb.Fatalf("h2test: odd number of header name/value strings: %q", fields)
	}
	pseudo := []hpack.HeaderField{
		{Name: ":method", Value: "GET"},
		{Name: ":scheme", Value: c.Scheme},
		{Name: ":authority", Value: c.Authority},
		{Name: ":path", Value: "/"},
	}
	var regular []hpack.HeaderField
outer:
	for i := 0; i < len(fields); i += 2 {
		hf := hpack.HeaderField{Name: fields[i], Value: fields[i+1]}
		if !strings.HasPrefix(hf.Name, ":") {
			regular = append(regular, hf)
			continue
		}
		for j := range pseudo {
			if pseudo[j].Name == hf.Name {
				pseudo[j].Value = hf.Value
				continue outer
			}
		}
		pseudo = append(pseudo, hf)
	}
	return append(pseudo, regular...)
}

// encode HPACK-encodes fields with the connection's encoder. Callers hold
// the write lock: the encoder's state must match the order of the blocks
// on the wire (RFC 7541 §2.2).
func (c *Client) encode(fields []hpack.HeaderField) []byte {
	c.encBuf.Reset()
	for _, hf := range fields {
		c.enc.WriteField(hf) // writes to a bytes.Buffer: cannot fail
	}
	return bytes.Clone(c.encBuf.Bytes())
}

func pairs(tb testing.TB, fields []string) []hpack.HeaderField {
	tb.Helper()
	if len(fields)%2 != 0 {
		tb.Fatalf("h2test: odd number of header name/value strings: %q", fields)
	}
	hfs := make([]hpack.HeaderField, 0, len(fields)/2)
	for i := 0; i < len(fields); i += 2 {
		hfs = append(hfs, hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	return hfs
}

// maxFrameSize is the server's SETTINGS_MAX_FRAME_SIZE, or the initial 16384.
func (c *Client) maxFrameSize() int {
	if v, ok := c.ServerSettings[http2.SettingMaxFrameSize]; ok && v >= 16384 {
		return int(v)
	}
	return 16384
}

// WriteHeaders opens (or continues) a stream with a request header block.
// fields are name/value pairs; :method GET, :scheme, :authority and :path /
// are added unless given. Names are sent as given (RFC 9113 §8.2.1 wants
// lowercase). The block is split into HEADERS and CONTINUATION frames when
// it exceeds the server's maximum frame size.
func (c *Client) WriteHeaders(streamID uint32, endStream bool, fields ...string) {
	c.tb.Helper()
	c.WriteHeadersSplit(streamID, endStream, c.maxFrameSize(), fields...)
}

// WriteHeadersSplit is WriteHeaders with header block fragments of at most
// maxFrag bytes: HEADERS followed by CONTINUATION frames (RFC 9113 §6.10).
func (c *Client) WriteHeadersSplit(streamID uint32, endStream bool, maxFrag int, fields ...string) {
	c.tb.Helper()
	hfs := c.requestFields(fields)
	c.write("HEADERS", func(fr *http2.Framer) error {
		return writeBlock(fr, streamID, endStream, c.encode(hfs), maxFrag)
	})
}

// WriteTrailers writes a trailer section: HEADERS with END_STREAM and only
// the given fields, no pseudo-header fields (RFC 9113 §8.1).
func (c *Client) WriteTrailers(streamID uint32, fields ...string) {
	c.tb.Helper()
	hfs := pairs(c.tb, fields)
	c.write("trailers", func(fr *http2.Framer) error {
		return writeBlock(fr, streamID, true, c.encode(hfs), c.maxFrameSize())
	})
}

// EncodeHeaders HPACK-encodes exactly the given fields with the connection's
// encoder, updating its dynamic table, and returns the block for
// [Client.WriteHeaderBlock]. Write the block before encoding another, or the
// server's decoder falls out of step.
func (c *Client) EncodeHeaders(fields ...string) []byte {
	c.tb.Helper()
	hfs := pairs(c.tb, fields)
	c.wlock <- struct{}{}
	defer func() { <-c.wlock }()
	return c.encode(hfs)
}

// WriteHeaderBlock writes an already encoded header block as HEADERS plus
// CONTINUATION frames of at most maxFrag bytes (zero: the maximum frame size).
func (c *Client) WriteHeaderBlock(streamID uint32, endStream bool, block []byte, maxFrag int) {
	c.tb.Helper()
	if maxFrag <= 0 {
		maxFrag = c.maxFrameSize()
	}
	c.write("HEADERS", func(fr *http2.Framer) error {
		return writeBlock(fr, streamID, endStream, block, maxFrag)
	})
}

func writeBlock(fr *http2.Framer, streamID uint32, endStream bool, block []byte, maxFrag int) error {
	if maxFrag <= 0 {
		return errors.New("h2test: header fragment size must be positive")
	}
	first := true
	for first || len(block) > 0 {
		frag := block[:min(maxFrag, len(block))]
		block = block[len(frag):]
		end := len(block) == 0
		var err error
		if first {
			err = fr.WriteHeaders(http2.HeadersFrameParam{
				StreamID:      streamID,
				BlockFragment: frag,
				EndStream:     endStream,
				EndHeaders:    end,
			})
		} else {
			err = fr.WriteContinuation(streamID, end, frag)
		}
		if err != nil {
			return err
		}
		first = false
	}
	return nil
}

// WriteData writes one DATA frame.
func (c *Client) WriteData(streamID uint32, endStream bool, data []byte) {
	c.tb.Helper()
	c.write("DATA", func(fr *http2.Framer) error { return fr.WriteData(streamID, endStream, data) })
}

// WriteRSTStream writes RST_STREAM.
func (c *Client) WriteRSTStream(streamID uint32, code http2.ErrCode) {
	c.tb.Helper()
	c.write("RST_STREAM", func(fr *http2.Framer) error { return fr.WriteRSTStream(streamID, code) })
}

// WritePing writes a PING (without ACK).
func (c *Client) WritePing(data [8]byte) {
	c.tb.Helper()
	c.write("PING", func(fr *http2.Framer) error { return fr.WritePing(false, data) })
}

// WritePingAck writes a PING with the ACK flag.
func (c *Client) WritePingAck(data [8]byte) {
	c.tb.Helper()
	c.write("PING ACK", func(fr *http2.Framer) error { return fr.WritePing(true, data) })
}

// WriteWindowUpdate writes WINDOW_UPDATE (stream 0: the connection window).
func (c *Client) WriteWindowUpdate(streamID, incr uint32) {
	c.tb.Helper()
	c.write("WINDOW_UPDATE", func(fr *http2.Framer) error { return fr.WriteWindowUpdate(streamID, incr) })
}

// WriteGoAway writes GOAWAY.
func (c *Client) WriteGoAway(lastStreamID uint32, code http2.ErrCode, debug []byte) {
	c.tb.Helper()
	c.write("GOAWAY", func(fr *http2.Framer) error { return fr.WriteGoAway(lastStreamID, code, debug) })
}

// WritePriority writes a PRIORITY frame (RFC 9113 §6.3).
func (c *Client) WritePriority(streamID uint32, p http2.PriorityParam) {
	c.tb.Helper()
	c.write("PRIORITY", func(fr *http2.Framer) error { return fr.WritePriority(streamID, p) })
}

func (c *Client) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}

// ReadFrame reads one frame within Timeout. It does not ACK anything.
func (c *Client) ReadFrame() (http2.Frame, error) {
	return c.readFrameWithin(c.timeout())
}

func (c *Client) readFrameWithin(d time.Duration) (http2.Frame, error) {
	c.Conn.SetReadDeadline(time.Now().Add(d))
	f, err := c.Framer.ReadFrame()
	if err == nil {
		c.remember(Summarize(f))
	}
	return f, err
}

func (c *Client) remember(s string) {
	const keep = 20
	if len(c.recent) == keep {
		copy(c.recent, c.recent[1:])
		c.recent = c.recent[:keep-1]
	}
	c.recent = append(c.recent, s)
}

// history describes the last frames read, for failure messages.
func (c *Client) history() string {
	if len(c.recent) == 0 {
		return "\n(no frames read)"
	}
	return "\nlast frames read:\n  " + strings.Join(c.recent, "\n  ")
}

// autoAck ACKs a server SETTINGS or PING if AutoAck is set. Write errors
// are ignored: the connection may be closing, which the next read reports.
func (c *Client) autoAck(f http2.Frame) {
	if !c.AutoAck {
		return
	}
	switch f := f.(type) {
	case *http2.SettingsFrame:
		if !f.IsAck() {
			c.tryWrite(func(fr *http2.Framer) error { return fr.WriteSettingsAck() })
		}
	case *http2.PingFrame:
		if !f.IsAck() {
			data := f.Data
			c.tryWrite(func(fr *http2.Framer) error { return fr.WritePing(true, data) })
		}
	}
}

// IsTimeout reports whether err is a read deadline expiring.
func IsTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// ReadUntil reads frames until pred accepts one, which it returns. Server
// SETTINGS and PINGs are ACKed on the way if AutoAck is set (before pred
// sees them). A read timeout fails the test; any other read error, such as
// io.EOF when the server closes, is returned.
func (c *Client) ReadUntil(pred func(http2.Frame) bool) (http2.Frame, error) {
	c.tb.Helper()
	for range maxFramesPerCall {
		f, err := c.ReadFrame()
		if err != nil {
			if IsTimeout(err) {
				c.tb.Fatalf("h2test: no matching frame within %v%s", c.timeout(), c.history())
			}
			return nil, err
		}
		c.autoAck(f)
		if pred(f) {
			return f, nil
		}
	}
	c.tb.Fatalf("h2test: no matching frame in %d frames%s", maxFramesPerCall, c.history())
	return nil, nil
}

// ExpectGoAway reads until a GOAWAY and returns it; it fails the test if the
// connection ends first. Its debug data is valid until the next read.
func (c *Client) ExpectGoAway() *http2.GoAwayFrame {
	c.tb.Helper()
	f, err := c.ReadUntil(func(f http2.Frame) bool {
		_, ok := f.(*http2.GoAwayFrame)
		return ok
	})
	if err != nil {
		c.tb.Fatalf("h2test: waiting for GOAWAY: %v%s", err, c.history())
	}
	return f.(*http2.GoAwayFrame)
}

// ExpectRSTStream reads until a RST_STREAM for streamID and returns its
// code; it fails the test if the connection ends first.
func (c *Client) ExpectRSTStream(streamID uint32) http2.ErrCode {
	c.tb.Helper()
	f, err := c.ReadUntil(func(f http2.Frame) bool {
		rst, ok := f.(*http2.RSTStreamFrame)
		return ok && rst.StreamID == streamID
	})
	if err != nil {
		c.tb.Fatalf("h2test: waiting for RST_STREAM on stream %d: %v%s", streamID, err, c.history())
	}
	return f.(*http2.RSTStreamFrame).ErrCode
}

// Sync writes a PING and reads until its ACK: a barrier. The Go servers
// handle inbound frames one at a time in arrival order, so on return the
// server has processed every frame written before the PING. Frames read
// meanwhile are discarded; use it where those do not matter to the test.
func (c *Client) Sync() {
	c.tb.Helper()
	c.pingN++
	data := [8]byte{'h', '2', 's', 'y', 'n', 'c', byte(c.pingN >> 8), byte(c.pingN)}
	c.WritePing(data)
	if _, err := c.ReadUntil(func(f http2.Frame) bool {
		p, ok := f.(*http2.PingFrame)
		return ok && p.IsAck() && p.Data == data
	}); err != nil {
		c.tb.Fatalf("h2test: waiting for PING ACK: %v%s", err, c.history())
	}
}

// Response is what ExpectResponse collected for one stream.
type Response struct {
	StreamID uint32
	Status   string      // :status of the final (non-1xx) header block
	Header   http.Header // regular fields of the final header block
	Body     []byte
	Trailer  http.Header         // nil without a trailer section
	Frames   []http2.FrameHeader // every frame of the stream, in order
}

// ExpectResponse reads until the stream ends (END_STREAM) and returns the
// response. It fails the test on RST_STREAM for the stream or if the
// connection ends first. Other streams' frames, and GOAWAY, are discarded:
// use ExpectResponses for responses that may interleave. It sends no
// WINDOW_UPDATE: bodies above the stream's window (65535 by default) need
// the test's own.
func (c *Client) ExpectResponse(streamID uint32) *Response {
	c.tb.Helper()
	return c.ExpectResponses(streamID)[streamID]
}

// ExpectResponses is ExpectResponse for several streams at once, whose
// frames may interleave; it returns when all of them have ended.
func (c *Client) ExpectResponses(streamIDs ...uint32) map[uint32]*Response {
	c.tb.Helper()
	type state struct {
		res          *Response
		finalHeaders bool
		ended        bool
	}
	streams := make(map[uint32]*state, len(streamIDs))
	for _, id := range streamIDs {
		streams[id] = &state{res: &Response{StreamID: id}}
	}
	open := len(streams)
	_, err := c.ReadUntil(func(f http2.Frame) bool {
		st := streams[f.Header().StreamID]
		if st == nil || st.ended {
			return false
		}
		res := st.res
		res.Frames = append(res.Frames, f.Header())
		switch f := f.(type) {
		case *http2.MetaHeadersFrame:
			if !st.finalHeaders {
				status := f.PseudoValue("status")
				if strings.HasPrefix(status, "1") && !f.StreamEnded() {
					return false // informational (RFC 9113 §8.1)
				}
				st.finalHeaders = true
				res.Status = status
				res.Header = make(http.Header)
				for _, hf := range f.RegularFields() {
					res.Header.Add(hf.Name, hf.Value)
				}
			} else {
				res.Trailer = make(http.Header)
				for _, hf := range f.RegularFields() {
					res.Trailer.Add(hf.Name, hf.Value)
				}
			}
			st.ended = f.StreamEnded()
		case *http2.DataFrame:
			res.Body = append(res.Body, f.Data()...)
			st.ended = f.StreamEnded()
		case *http2.RSTStreamFrame:
			c.tb.Fatalf("h2test: stream %d reset with %v%s", res.StreamID, f.ErrCode, c.history())
		}
		if st.ended {
			open--
		}
		return open == 0
	})
	if err != nil {
		c.tb.Fatalf("h2test: waiting for the responses on streams %v: %v%s", streamIDs, err, c.history())
	}
	out := make(map[uint32]*Response, len(streams))
	for id, st := range streams {
		out[id] = st.res
	}
	return out
}

// ExpectNoFrames fails the test if any frame arrives within d, or if the
// connection ends. It proves absence only where the test controls all
// timing, such as inside a synctest bubble after synctest.Wait, or when the
// frame would have been sent before something the test already saw; on a
// real network "nothing within d" proves nothing about d+1.
func (c *Client) ExpectNoFrames(d time.Duration) {
	c.tb.Helper()
	f, err := c.readFrameWithin(d)
	switch {
	case err == nil:
		c.tb.Fatalf("h2test: got %s, want no frame within %v%s", Summarize(f), d, c.history())
	case !IsTimeout(err):
		c.tb.Fatalf("h2test: want no frame within %v, got read error %v%s", d, err, c.history())
	}
}

// ReadUntilClosed reads until the connection ends, calling each (if not nil)
// with every frame and ACKing as ReadUntil does. It returns nil on a clean
// EOF and the read error otherwise (such as a reset); a read timeout fails
// the test.
func (c *Client) ReadUntilClosed(each func(http2.Frame)) error {
	c.tb.Helper()
	for range maxFramesPerCall {
		f, err := c.ReadFrame()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			if IsTimeout(err) {
				c.tb.Fatalf("h2test: connection still open after %v without frames%s", c.timeout(), c.history())
			}
			return err
		}
		c.autoAck(f)
		if each != nil {
			each(f)
		}
	}
	c.tb.Fatalf("h2test: connection still open after %d frames%s", maxFramesPerCall, c.history())
	return nil
}

// WaitClosed reads and discards frames until the connection ends; nil means
// a clean EOF.
func (c *Client) WaitClosed() error {
	c.tb.Helper()
	return c.ReadUntilClosed(nil)
}

// Summarize describes a frame in one line, for logs and failure messages.
func Summarize(f http2.Frame) string {
	h := f.Header()
	s := fmt.Sprintf("%v stream=%d flags=%v len=%d", h.Type, h.StreamID, h.Flags, h.Length)
	switch f := f.(type) {
	case *http2.GoAwayFrame:
		s += fmt.Sprintf(" last=%d code=%v debug=%q", f.LastStreamID, f.ErrCode, f.DebugData())
	case *http2.RSTStreamFrame:
		s += fmt.Sprintf(" code=%v", f.ErrCode)
	case *http2.WindowUpdateFrame:
		s += fmt.Sprintf(" incr=%d", f.Increment)
	case *http2.PingFrame:
		s += fmt.Sprintf(" data=%x", f.Data)
	case *http2.MetaHeadersFrame:
		var fields []string
		for _, hf := range f.Fields {
			v := hf.Value
			if len(v) > 32 {
				v = v[:32] + "…"
			}
			fields = append(fields, hf.Name+"="+v)
		}
		s += " " + strings.Join(fields, " ")
	case *http2.SettingsFrame:
		var settings []string
		f.ForeachSetting(func(st http2.Setting) error {
			settings = append(settings, st.String())
			return nil
		})
		s += " " + strings.Join(settings, " ")
	}
	return s
}
