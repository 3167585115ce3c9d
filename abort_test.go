package h2lifecycle_test

import (
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/net/http2"

	"github.com/h2lifecycle/h2lifecycle/idle"
	"github.com/h2lifecycle/h2lifecycle/internal/h2test"
	"github.com/h2lifecycle/h2lifecycle/server"
)

// TestAbortStopsInbound: when the supervisor itself ends a connection with
// an error GOAWAY (a PING flood, a header block that takes too long), no
// stream above that GOAWAY's last-stream-id reaches a handler, even one the
// client sent before it read the GOAWAY (RFC 9113 §6.8: such streams were
// not processed, and Go's client retries them elsewhere: run here too, the
// request would run twice). The stock server discards every frame after its
// own error GOAWAY.
func TestAbortStopsInbound(t *testing.T) {
	t.Run("ping flood", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := newHandlerRuns()
			pol := idle.Policy{PingMinInterval: time.Second, PingPermitWithoutStream: true}
			b := startSubject(t, &http.Server{Handler: h}, setup{bubble: true, cfg: server.Config{Policy: pol}})
			c := b.client()
			c.Handshake()
			c.WriteHeaders(1, true, ":path", "/first")
			c.ExpectResponse(1)
			for i := range 5 {
				c.WritePing([8]byte{'f', byte(i)})
			}
			c.WriteHeaders(3, true, ":path", "/after")
			synctest.Wait()
			last := lastGoAway(t, c)
			if n := h.count("/after"); n != 0 && last < 3 {
				t.Errorf("the handler ran for stream 3, above the GOAWAY's last-stream-id %d", last)
			}
			if last != 1 {
				t.Errorf("GOAWAY last-stream-id %d, want 1", last)
			}
			c.Conn.Close()
			b.stop()
		})
	})
	t.Run("header timeout", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := newHandlerRuns()
			pol := idle.Policy{HeaderTimeout: time.Second}
			b := startSubject(t, &http.Server{Handler: h}, setup{bubble: true, cfg: server.Config{Policy: pol}})
			c := b.client()
			c.Handshake()
			block := c.EncodeHeaders(":method", "GET", ":scheme", "http", ":authority", "x", ":path", "/late")
			c.Framer.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block[:3], EndStream: true})
			h2test.Advance(1500 * time.Millisecond) // fake time: past HeaderTimeout, within the linger; the client has not read the GOAWAY yet
			c.Framer.WriteContinuation(1, true, block[3:])
			c.Conn.Write(rawHeaders(t, 3, true, c.EncodeHeaders(":method", "GET", ":scheme", "http", ":authority", "x", ":path", "/after")))
			synctest.Wait()
			last := lastGoAway(t, c)
			for id, p := range map[uint32]string{1: "/late", 3: "/after"} {
				if n := h.count(p); n != 0 && id > last {
					t.Errorf("the handler ran for stream %d, above the GOAWAY's last-stream-id %d", id, last)
				}
			}
			c.Conn.Close()
			b.stop()
		})
	})
}

// lastGoAway reads until the server closes the connection and returns the
// lowest last-stream-id of the GOAWAY frames read; it fails the test if
// there was none.
func lastGoAway(t *testing.T, c *h2test.Client) uint32 {
	t.Helper()
	last, seen := uint32(1<<31-1), false
	c.Timeout = time.Minute
	c.ReadUntilClosed(func(f http2.Frame) {
		if ga, ok := f.(*http2.GoAwayFrame); ok {
			last, seen = min(last, ga.LastStreamID), true
		}
	})
	if !seen {
		t.Fatal("the connection closed without a GOAWAY")
	}
	return last
}

// closedWithin reads (ACKing the server's SETTINGS and PINGs) until the
// server closes the connection, or until d has passed; it reports whether
// the connection closed, and never fails the test itself, so that a
// connection left open is reported by the caller with what it means.
func closedWithin(c *h2test.Client, d time.Duration) bool {
	end := time.Now().Add(d)
	for range 100000 {
		left := time.Until(end)
		if left <= 0 {
			return false
		}
		c.Timeout = left
		f, err := c.ReadFrame()
		if err != nil {
			return !h2test.IsTimeout(err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				c.Framer.WriteSettingsAck()
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				c.Framer.WritePing(true, f.Data)
			}
		}
	}
	return false
}
