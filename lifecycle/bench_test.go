package lifecycle

import (
	"bytes"
	"net/http"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// loopConn feeds a fixed inbound byte stream forever and discards writes.
type loopConn struct {
	recConn
	in  []byte
	off int
}

func (c *loopConn) Read(p []byte) (int, error) {
	if c.off == len(c.in) {
		c.off = 0
	}
	n := copy(p, c.in[c.off:])
	c.off += n
	return n, nil
}

func (c *loopConn) Write(p []byte) (int, error) { return len(p), nil }

// benchExchange returns a GET's header block and the server's response to
// stream 1: HEADERS, then DATA(END_STREAM) "ok".
func benchExchange() (block, resp []byte) {
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, kv := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", "x"}, {":path", "/"}} {
		enc.WriteField(hpack.HeaderField{Name: kv[0], Value: kv[1]})
	}
	var out bytes.Buffer
	fr := http2.NewFramer(&out, nil)
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: make([]byte, 40), EndHeaders: true})
	fr.WriteData(1, true, []byte("ok"))
	return hb.Bytes(), out.Bytes()
}

// BenchmarkTapRequest is the tap's work for one request: the server reads a
// HEADERS frame (header and payload in two Reads, as x/net does), reports
// the connection active, writes HEADERS and DATA(END_STREAM) in one Write,
// and reports it idle. Without metrics, and with live metrics that count
// nothing: both allocate nothing per request.
func BenchmarkTapRequest(b *testing.B) {
	b.Run("metrics=none", func(b *testing.B) { benchTapRequest(b, nil) })
	b.Run("metrics=live", func(b *testing.B) { benchTapRequest(b, WithMetrics(nopLive{})) })
}

// nopLive is a LiveMetrics that does nothing: the cost of the calls alone.
type nopLive struct{}

func (nopLive) ConnOpened()                     {}
func (nopLive) ConnClosed(*Report)              {}
func (nopLive) ConnStateChanged(from, to State) {}
func (nopLive) StreamOpened()                   {}
func (nopLive) StreamClosed(StreamEnd)          {}

func benchTapRequest(b *testing.B, opt Option) {
	block, resp := benchExchange()

	lc := &loopConn{}
	s, err := New(lc, Config{GoAway: func() {}, SawClientPreface: true}, opt)
	if err != nil {
		b.Fatal(err)
	}
	c := s.Conn()
	c.Write(mustSettings()) // the server's first SETTINGS
	// Every request needs a new stream id: prepare them all.
	n := b.N
	ins := make([][]byte, n)
	resps := make([][]byte, n)
	for i := range n {
		id := uint32(2*i + 1)
		ins[i] = headersFrame(id, block)
		resps[i] = bytes.Clone(resp)
		setStream(resps[i], id)
	}
	hdr := make([]byte, 9)
	payload := make([]byte, 64)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range n {
		lc.in, lc.off = ins[i], 0
		c.Read(hdr)
		c.Read(payload[:len(ins[i])-9])
		s.ConnState(http.StateActive)
		c.Write(resps[i])
		s.ConnState(http.StateIdle)
	}
}

func headersFrame(id uint32, block []byte) []byte {
	var b bytes.Buffer
	http2.NewFramer(&b, nil).WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block, EndStream: true, EndHeaders: true})
	return b.Bytes()
}

// setStream rewrites the stream id of the two frames in resp.
func setStream(resp []byte, id uint32) {
	for off := 0; off+9 <= len(resp); {
		n := int(resp[off])<<16 | int(resp[off+1])<<8 | int(resp[off+2])
		resp[off+5], resp[off+6], resp[off+7], resp[off+8] = byte(id>>24), byte(id>>16), byte(id>>8), byte(id)
		off += 9 + n
	}
}

func mustSettings() []byte {
	var b bytes.Buffer
	http2.NewFramer(&b, nil).WriteSettings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 250})
	return b.Bytes()
}
