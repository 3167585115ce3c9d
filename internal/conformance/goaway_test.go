package conformance

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/h2lifecycle/h2lifecycle/internal/h2test"
	"golang.org/x/net/http2"
)

// goAwayTimeout is x/net's linger between a finished GOAWAY and the close.
const goAwayTimeout = time.Second

// Fact 4 (DESIGN.md): after a NO_ERROR GOAWAY the server waits for open
// streams with no deadline of its own, and closes the connection
// goAwayTimeout (1s) after the last stream ends. The supervisor must own the
// grace deadline, and closes sooner than x/net would.
func TestGracefulGoAwayWaitsForStreamsThenLingers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const work = 6 * time.Hour
		started := make(chan struct{})
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			close(started)
			h2test.Advance(work) // a slow handler, in fake time
			io.WriteString(w, "late but complete")
		})
		c, s := pipeConn(t, connConfig{wiring: chosen(), handler: h})
		c.Timeout = 2 * work
		c.Handshake()
		c.WriteHeaders(1, true)
		<-started
		begin := time.Now()
		if err := s.hs.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if ga := c.ExpectGoAway(); ga.LastStreamID != 1 || ga.ErrCode != http2.ErrCodeNo {
			t.Fatalf("GOAWAY(%d, %v), want (1, NO_ERROR)", ga.LastStreamID, ga.ErrCode)
		}
		res := c.ExpectResponse(1)
		if d := time.Since(begin); string(res.Body) != "late but complete" || d != work {
			t.Fatalf("%s: after GOAWAY, a %v handler answered %q after %v; x/net must let it finish (no deadline of its own), so the supervisor's grace deadline is the only one", toolchainName, work, res.Body, d)
		}
		ended := time.Now()
		if err := c.WaitClosed(); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(ended); d != goAwayTimeout {
			t.Fatalf("%s: connection closed %v after its last stream ended, want goAwayTimeout (%v); the supervisor's close timing assumes it", toolchainName, d, goAwayTimeout)
		}
	})
}

// Fact 4, idle case: the handle on a connection without streams sends
// GOAWAY(0, NO_ERROR) and closes goAwayTimeout later.
func TestGracefulGoAwayOnIdleConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, s := pipeConn(t, connConfig{wiring: chosen(), handler: newGates()})
		c.Handshake()
		s.hs.Shutdown(context.Background())
		ga := c.ExpectGoAway()
		if ga.LastStreamID != 0 || ga.ErrCode != http2.ErrCodeNo {
			t.Fatalf("%s: GOAWAY(%d, %v) on an idle connection, want (0, NO_ERROR)", toolchainName, ga.LastStreamID, ga.ErrCode)
		}
		sent := time.Now()
		if err := c.WaitClosed(); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(sent); d != goAwayTimeout {
			t.Fatalf("%s: idle connection closed %v after GOAWAY, want %v", toolchainName, d, goAwayTimeout)
		}
	})
}

// Fact 5 (DESIGN.md; RFC 9113 §6.8): once in GOAWAY, frames of streams above
// the last stream id are discarded without a RST_STREAM or a response; DATA
// on them still returns connection flow control (a WINDOW_UPDATE on stream 0,
// batched until x/net's 4 KiB refresh threshold is reached); and the ignored HEADERS
// is still HPACK-decoded, so a later block that refers to the dynamic table
// entry it added decodes correctly. Two-phase drain depends on all three: a
// client's crossing stream must fail cleanly without desynchronising the
// connection's compression state or its flow-control window.
func TestFramesAboveLastStreamIDDiscarded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		started := make(chan struct{})
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			close(started)
			io.Copy(io.Discard, r.Body)
			io.WriteString(w, "trailer="+r.Trailer.Get("X-Sync"))
		})
		c, s := pipeConn(t, connConfig{wiring: chosen(), handler: h})
		c.Handshake()
		c.WriteHeaders(1, false, ":method", "POST", "trailer", "x-sync")
		<-started
		s.hs.Shutdown(context.Background())
		if ga := c.ExpectGoAway(); ga.LastStreamID != 1 {
			t.Fatalf("GOAWAY last=%d, want 1", ga.LastStreamID)
		}

		// A crossing stream 3: its HEADERS adds "x-sync: hpack-state" to both
		// dynamic tables (literal with incremental indexing, RFC 7541 §6.2.1).
		block := c.EncodeHeaders(":method", "POST", ":scheme", "http", ":authority", c.Authority, ":path", "/crossing", "x-sync", "hpack-state")
		c.WriteHeaderBlock(3, false, block, 0)
		// Below x/net's 4 KiB refresh threshold the window update waits.
		const small, dataLen = 1000, 16 << 10
		c.WriteData(3, false, bytes.Repeat([]byte{'d'}, small))
		for _, f := range syncSeen(t, c, 1) {
			if f.StreamID == 3 || f.Type == http2.FrameWindowUpdate {
				t.Fatalf("%s: got %s after %d bytes of DATA on discarded stream 3; want nothing yet (x/net batches window updates below 4 KiB)", toolchainName, f.summary, small)
			}
		}
		c.WriteData(3, true, bytes.Repeat([]byte{'d'}, dataLen-small))

		// Stream 1's trailer refers to that entry by index alone.
		trailer := c.EncodeHeaders("x-sync", "hpack-state")
		if len(trailer) != 1 || trailer[0]&0x80 == 0 {
			t.Fatalf("test bug: trailer block %x is not a single indexed field", trailer)
		}
		c.WriteHeaderBlock(1, true, trailer, 0)

		var body []byte
		var status string
		var windowed uint32
		for _, f := range readUntilClosed(t, c) {
			switch {
			case f.StreamID == 3:
				t.Fatalf("%s: got %s for stream 3, above GOAWAY's last stream id; want it discarded silently", toolchainName, f.summary)
			case f.StreamID == 0 && f.Type == http2.FrameWindowUpdate:
				windowed += f.increment
			case f.StreamID == 1 && f.fields != nil && status == "":
				status = f.fields[":status"]
			case f.StreamID == 1 && f.Type == http2.FrameData:
				body = append(body, f.data...)
			case f.goAway != nil && f.goAway.code != http2.ErrCodeNo:
				t.Fatalf("%s: connection error %v: the discarded HEADERS left HPACK or flow control out of step", toolchainName, f.goAway.code)
			}
		}
		if windowed != dataLen {
			t.Fatalf("%s: connection WINDOW_UPDATEs added %d for %d bytes of discarded DATA; without them a client's connection window leaks on every crossing upload", toolchainName, windowed, dataLen)
		}
		if status != "200" || string(body) != "trailer=hpack-state" {
			t.Fatalf("%s: stream 1 got status %q body %q, want 200 and trailer=hpack-state: the ignored HEADERS was not HPACK-decoded, so dropping crossing streams desynchronises the header table", toolchainName, status, body)
		}
	})
}

// Fact 6 (DESIGN.md): a client's GOAWAY, whatever its code, makes the server
// start its own graceful shutdown: GOAWAY(max client stream id, NO_ERROR),
// then the usual wait for streams and close. The supervisor must treat an
// inbound GOAWAY as the start of x/net's drain.
func TestClientGoAwayStartsServerGoAway(t *testing.T) {
	for _, code := range []http2.ErrCode{http2.ErrCodeNo, http2.ErrCodeEnhanceYourCalm} {
		t.Run(code.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				g := newGates()
				c, _ := pipeConn(t, connConfig{wiring: chosen(), handler: g})
				c.Handshake()
				c.WriteHeaders(1, true, ":path", "/1")
				c.ExpectResponse(1)
				c.WriteHeaders(3, true, ":path", "/block/3")
				g.waitStarted(t, "/block/3")
				c.WriteGoAway(0, code, []byte("client leaving"))
				ga := c.ExpectGoAway()
				if ga.LastStreamID != 3 || ga.ErrCode != http2.ErrCodeNo {
					t.Fatalf("%s: client GOAWAY(%v) answered with GOAWAY(%d, %v), want GOAWAY(3, NO_ERROR)", toolchainName, code, ga.LastStreamID, ga.ErrCode)
				}
				g.open("3")
				c.ExpectResponse(3)
				if err := c.WaitClosed(); err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}

// Fact 14 and 8 (DESIGN.md; RFC 9113 §5.1, §5.4.1): a frame other than
// HEADERS or PRIORITY on an idle stream is a connection error: GOAWAY with
// PROTOCOL_ERROR, then the close goAwayTimeout later. Subtle: x/net raises
// the GOAWAY's last stream id to the offending frame's stream id, so this
// GOAWAY can carry a higher id than an earlier one; the tap must not treat
// an increase as its own bug.
func TestConnectionErrorGoAwayAndClose(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write func(c *clientT)
	}{
		{"DATA", func(c *clientT) { c.WriteData(7, false, []byte("x")) }},
		{"WINDOW_UPDATE", func(c *clientT) { c.WriteWindowUpdate(7, 100) }},
		{"RST_STREAM", func(c *clientT) { c.WriteRSTStream(7, http2.ErrCodeCancel) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c, _ := pipeConn(t, connConfig{wiring: chosen(), handler: newGates()})
				c.Handshake()
				c.WriteHeaders(1, true, ":path", "/1")
				c.ExpectResponse(1)
				tc.write(c)
				ga := c.ExpectGoAway()
				if ga.ErrCode != http2.ErrCodeProtocol || ga.LastStreamID != 7 {
					t.Fatalf("%s: %s on idle stream 7 gave GOAWAY(%d, %v), want GOAWAY(7, PROTOCOL_ERROR)", toolchainName, tc.name, ga.LastStreamID, ga.ErrCode)
				}
				sent := time.Now()
				if err := c.WaitClosed(); err != nil {
					t.Fatal(err)
				}
				if d := time.Since(sent); d != goAwayTimeout {
					t.Fatalf("%s: closed %v after GOAWAY(PROTOCOL_ERROR), want goAwayTimeout (%v)", toolchainName, d, goAwayTimeout)
				}
			})
		})
	}
}

// Fact 14 (RFC 9113 §6.7): PINGs are answered with a PING ACK carrying the
// same 8 bytes, also during a graceful drain; and a PING ACK the server
// never asked for is ignored. The supervisor's own PING goes to the client,
// whose ACK the tap lets through to x/net unmodified: x/net must ignore it.
func TestPingBehaviour(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newGates()
		c, s := pipeConn(t, connConfig{wiring: chosen(), handler: g})
		c.Handshake()
		ping := func(data [8]byte) {
			t.Helper()
			c.WritePing(data)
			f, err := c.ReadFrame()
			p, ok := f.(*http2.PingFrame)
			if err != nil || !ok || !p.IsAck() || p.Data != data {
				t.Fatalf("%s: PING %x answered with %v, %v; want PING ACK with the same data", toolchainName, data, f, err)
			}
		}
		ping([8]byte{1, 2, 3, 4, 5, 6, 7, 8})

		c.WritePingAck([8]byte{'s', 'u', 'p', 'e', 'r', 'v', 'i', 's'})
		synctest.Wait()
		expectQuiet(t, c, time.Minute, "x/net reacted to an unsolicited PING ACK; the supervisor's PING ACKs reach it unmodified")
		c.WriteHeaders(1, true, ":path", "/block/1")
		g.waitStarted(t, "/block/1")

		s.hs.Shutdown(context.Background())
		c.ExpectGoAway()
		ping([8]byte{'d', 'r', 'a', 'i', 'n', 'i', 'n', 'g'})
		g.open("1")
		c.ExpectResponse(1)
	})
}

// Fact 6, for one server shared by many connections (server/h2server.go):
// a client GOAWAY on one connection drains that connection alone. The
// splice (lifecycle/splice.go) gives the shared HTTP/2 server a client
// GOAWAY to end one connection's drain; the server's other connections
// must go on serving new streams and hear no GOAWAY.
func TestClientGoAwayDrainsItsConnectionAlone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hs, h2 := &http.Server{ErrorLog: newDiscardLogger()}, &http2.Server{}
		serveConn, err := register(chosen(), hs, h2)
		if err != nil {
			t.Fatal(err)
		}
		g := newGates()
		clients := make([]*h2test.Client, 2)
		for i := range clients {
			cli, srv := h2test.Pipe()
			done := make(chan struct{})
			go func() {
				defer close(done)
				serveConn(srv, &http2.ServeConnOpts{Handler: g})
			}()
			t.Cleanup(func() { srv.Close(); <-done })
			clients[i] = h2test.NewClient(t, cli)
			clients[i].Handshake()
		}
		a, b := clients[0], clients[1]
		b.WriteHeaders(1, true, ":path", "/block/b1")
		g.waitStarted(t, "/block/b1")
		a.WriteHeaders(1, true, ":path", "/a1")
		a.ExpectResponse(1)
		a.WriteGoAway(0, http2.ErrCodeNo, nil)
		if ga := a.ExpectGoAway(); ga.LastStreamID != 1 || ga.ErrCode != http2.ErrCodeNo {
			t.Fatalf("%s: GOAWAY(%d, %v) on the connection that sent GOAWAY, want (1, NO_ERROR)", toolchainName, ga.LastStreamID, ga.ErrCode)
		}
		if err := a.WaitClosed(); err != nil {
			t.Fatal(err)
		}
		b.WriteHeaders(3, true, ":path", "/b3")
		b.ExpectResponse(3)
		g.open("b1")
		b.ExpectResponse(1)
		expectQuiet(t, b, time.Second, "the other connection of the same server after a client GOAWAY on the first")
	})
}
