package conformance

import (
	"net/http"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"golang.org/x/net/http2"
)

// A HEADERS frame padded with more bytes than its payload holds (RFC 9113
// §6.2) is a stream error the server answers, RST_STREAM(PROTOCOL_ERROR),
// before it takes the stream in: no handler runs, the CONTINUATION that
// ends the frame's block is ignored (no connection error), and the id stays
// idle: HEADERS again on it opens the stream. lifecycle's inFrame counts no
// stream for such a frame (frame.Frame.HeadersPadTooLong).
func TestHeadersPaddedPastPayloadLeaveTheStreamIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var badRan atomic.Bool
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/bad" {
				badRan.Store(true)
			}
		})
		c, _ := pipeConn(t, connConfig{wiring: chosen(), handler: h})
		c.Handshake()
		block := c.EncodeHeaders(":method", "GET", ":scheme", "http", ":authority", "x", ":path", "/bad")
		payload := append([]byte{0xff}, block[:2]...) // pad length 255, two bytes of block
		c.Conn.Write(append([]byte{0, 0, byte(len(payload)), byte(http2.FrameHeaders),
			byte(http2.FlagHeadersPadded | http2.FlagHeadersEndStream), 0, 0, 0, 1}, payload...))
		if code := c.ExpectRSTStream(1); code != http2.ErrCodeProtocol {
			t.Fatalf("%s: HEADERS padded past its payload: RST_STREAM(%v), want PROTOCOL_ERROR", toolchainName, code)
		}
		c.Framer.WriteContinuation(1, true, block[2:])
		c.WriteHeaders(1, true, ":path", "/again")
		if res := c.ExpectResponse(1); res.Status != "200" {
			t.Fatalf("%s: HEADERS again on the stream: %s, want 200: the server took the id", toolchainName, res.Status)
		}
		if badRan.Load() {
			t.Fatalf("%s: the handler ran for HEADERS padded past its payload", toolchainName)
		}
	})
}
