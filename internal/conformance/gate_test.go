package conformance

import (
	"net"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/h2lifecycle/h2lifecycle/internal/frame"
	"github.com/h2lifecycle/h2lifecycle/internal/h2test"
)

// gateConn calls atNextRead at the first Read after one that gave the
// server the end of a HEADERS frame with END_HEADERS.
type gateConn struct {
	net.Conn
	mu         sync.Mutex
	tr         frame.Tracker
	armed      bool
	atNextRead func()
}

func (c *gateConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	f := c.atNextRead
	if !c.armed {
		f = nil
	}
	c.armed = false
	c.mu.Unlock()
	if f != nil {
		f()
	}
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	defer c.mu.Unlock()
	for off := 0; off < n; {
		k, done := c.tr.Next(p[off:n])
		off += k
		if done {
			if l := c.tr.Last(); l.Type == frame.TypeHeaders && l.Flags.Has(frame.FlagEndHeaders) {
				c.armed = true
			}
		}
	}
	return n, err
}

// Fact 16 (DESIGN.md; lifecycle's inbound.go): the server takes in the frames it reads
// one at a time: it reads the next frame only once its serve loop has
// processed the last. So a shutdown asked for when the server comes back to
// Read after a stream's HEADERS always names that stream in its GOAWAY,
// though the serve loop picks between frames read and the shutdown message
// at random. The supervisor asks for a drain's final GOAWAY only then.
func TestServerReadsNextFrameAfterProcessing(t *testing.T) {
	for i := range 50 { // the serve loop's choice is random: many tries
		synctest.Test(t, func(t *testing.T) {
			cli, srv := h2test.Pipe()
			g := &gateConn{Conn: srv}
			g.tr.ExpectPreface()
			s := serve(t, g, connConfig{wiring: chosen(), handler: newGates()})
			g.mu.Lock()
			g.atNextRead = func() { go s.hs.Shutdown(t.Context()) }
			g.mu.Unlock()
			c := h2test.NewClient(t, cli)
			c.Handshake()
			c.WriteHeaders(1, true, ":path", "/block/1")
			ga := c.ExpectGoAway()
			if ga.LastStreamID != 1 {
				t.Fatalf("try %d, %s: GOAWAY(last=%d) asked for when the server came back to Read after stream 1's HEADERS; want 1", i, toolchainName, ga.LastStreamID)
			}
		})
	}
}
