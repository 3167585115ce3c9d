package conformance

import (
	"context"
	"log"
	"net"
	"net/http"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/net/http2"

	"github.com/h2lifecycle/h2lifecycle/internal/h2test"
)

// Fact 1 (DESIGN.md): with the chosen wiring, the throwaway's
// Shutdown makes exactly its connection send GOAWAY(last = its real max
// client stream id, NO_ERROR), stop accepting streams above that id, and
// returns without waiting for the connection. A second connection with its
// own throwaway is unaffected.
func TestShutdownHandleDrainsOnlyItsConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newGates()
		a, sa := pipeConn(t, connConfig{wiring: chosen(), handler: g})
		b, _ := pipeConn(t, connConfig{wiring: chosen(), handler: g})
		a.Handshake()
		b.Handshake()
		a.WriteHeaders(1, true, ":path", "/block/a1")
		g.waitStarted(t, "/block/a1")
		a.WriteHeaders(3, true, ":path", "/block/a3")
		g.waitStarted(t, "/block/a3")
		b.WriteHeaders(1, true, ":path", "/block/b1")
		g.waitStarted(t, "/block/b1")

		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := sa.hs.Shutdown(ctx); err != nil {
			t.Fatalf("%s: throwaway.Shutdown = %v with streams open; the supervisor needs it to return at once and to own the grace deadline itself", toolchainName, err)
		}
		if d := time.Since(start); d != 0 {
			t.Fatalf("%s: throwaway.Shutdown took %v of fake time; it must not wait for the connection", toolchainName, d)
		}

		ga := a.ExpectGoAway()
		if ga.LastStreamID != 3 || ga.ErrCode != http2.ErrCodeNo {
			t.Fatalf("%s: handle sent GOAWAY(last=%d, %v), want GOAWAY(3, NO_ERROR): phase 2 of the drain would announce the wrong last stream", toolchainName, ga.LastStreamID, ga.ErrCode)
		}

		// RFC 9113 §6.8: streams above the last id are not processed.
		a.WriteHeaders(5, true, ":path", "/a5")
		got := syncSeen(t, a, 1)
		synctest.Wait()
		g.noneStarted(t, "stream 5 is above GOAWAY's last stream id; the drain promises the client it was not processed")
		for _, s := range got {
			if s.StreamID == 5 {
				t.Fatalf("%s: got %s for stream 5 after GOAWAY(3); want it ignored silently", toolchainName, s.summary)
			}
		}

		// The other connection neither saw a GOAWAY nor stopped serving.
		if ga := firstGoAway(syncSeen(t, b, 2)); ga != nil {
			t.Fatalf("%s: Shutdown of connection A's throwaway sent GOAWAY(%d, %v) on connection B: one connection's drain would hit others", toolchainName, ga.last, ga.code)
		}
		b.WriteHeaders(3, true, ":path", "/b3")
		if res := b.ExpectResponse(3); string(res.Body) != "/b3" {
			t.Fatalf("connection B after A's drain: body %q", res.Body)
		}

		// In-flight streams of A still complete.
		g.open("a1")
		g.open("a3")
		g.open("b1")
		res := a.ExpectResponses(1, 3)
		if string(res[1].Body) != "/block/a1" || string(res[3].Body) != "/block/a3" {
			t.Fatalf("%s: in-flight streams after the handle's GOAWAY: bodies %q, %q", toolchainName, res[1].Body, res[3].Body)
		}
		if err := a.WaitClosed(); err != nil {
			t.Fatalf("connection A after its drain: %v", err)
		}
		b.ExpectResponse(1)
		b.WriteHeaders(5, true, ":path", "/b5")
		b.ExpectResponse(5)
	})
}

// Fact 1 (DESIGN.md): whether the throwaway's Shutdown reaches the
// connection, for both wirings. On Go 1.27 a non-nil BaseConfig makes
// ServeConn serve on a one-off copy of it, out of the throwaway's reach; on
// Go 1.26 both wirings work. A change in either cell changes which wiring
// h2lifecycle must use.
func TestShutdownHandleByWiring(t *testing.T) {
	for _, w := range wirings {
		t.Run(w.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				g := newGates()
				c, s := pipeConn(t, connConfig{wiring: w, handler: g})
				c.Handshake()
				c.WriteHeaders(1, true, ":path", "/block/1")
				g.waitStarted(t, "/block/1")

				if err := s.hs.Shutdown(context.Background()); err != nil {
					t.Fatalf("throwaway.Shutdown: %v", err)
				}
				synctest.Wait() // let the OnShutdown goroutines run
				ga := firstGoAway(syncSeen(t, c, 1))
				want := handleWorks[w]
				switch {
				case want && ga == nil:
					t.Fatalf("%s, %v: throwaway.Shutdown sent no GOAWAY; DESIGN.md's fact 1 says the handle works here: the supervisor's phase 2 would never happen", toolchainName, w)
				case want && (ga.last != 1 || ga.code != http2.ErrCodeNo):
					t.Fatalf("%s, %v: GOAWAY(%d, %v), want GOAWAY(1, NO_ERROR)", toolchainName, w, ga.last, ga.code)
				case !want && ga != nil:
					t.Fatalf("%s, %v: throwaway.Shutdown sent GOAWAY(%d, %v); DESIGN.md's fact 1 says this wiring's handle is broken here: update the table and the chosen wiring", toolchainName, w, ga.last, ga.code)
				}
				if !want {
					// Not drained: new streams are still served.
					c.WriteHeaders(3, true, ":path", "/3")
					c.ExpectResponse(3)
				}
				g.open("1")
				c.ExpectResponse(1)
			})
		})
	}
}

// Fact 1, reused (server/handle.go relies on it): a throwaway whose
// connection's serve has returned, and whose Shutdown was never called,
// serves a second connection as a fresh throwaway would, and its Shutdown
// then makes exactly that connection send GOAWAY(last processed stream,
// NO_ERROR) and ignore streams above it; its ConnState hook reports the
// second connection. The HTTP/2 server keeps nothing of the first one: x/net
// and net/http both unregister a connection when its serve returns.
func TestShutdownHandleReusedAfterItsConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newGates()
		var states stateLog
		hs := &http.Server{ErrorLog: log.New(new(logBuffer), "", 0), ConnState: states.hook}
		serveConn, err := register(chosen(), hs, &http2.Server{})
		if err != nil {
			t.Fatalf("%v: configuring HTTP/2: %v", chosen(), err)
		}
		start := func() (*h2test.Client, net.Conn, chan struct{}) {
			cli, srv := h2test.Pipe()
			done := make(chan struct{})
			go func() {
				defer close(done)
				serveConn(srv, &http2.ServeConnOpts{Handler: g})
			}()
			t.Cleanup(func() {
				srv.Close()
				<-done
			})
			return h2test.NewClient(t, cli), srv, done
		}

		a, aConn, aDone := start()
		a.Handshake()
		a.WriteHeaders(1, true, ":path", "/a1")
		a.ExpectResponse(1)
		aConn.Close() // the client went away: no Shutdown
		<-aDone
		synctest.Wait()
		states.take()

		b, bConn, bDone := start()
		b.Handshake()
		b.WriteHeaders(1, true, ":path", "/block/b1")
		g.waitStarted(t, "/block/b1")
		b.WriteHeaders(3, true, ":path", "/block/b3")
		g.waitStarted(t, "/block/b3")
		synctest.Wait()
		if _, conns := states.take(); len(conns) == 0 || slices.ContainsFunc(conns, func(c net.Conn) bool { return c != bConn }) {
			t.Fatalf("%s: the reused throwaway's ConnState reported conns %v, want only the second connection %v", toolchainName, conns, bConn)
		}
		if err := hs.Shutdown(context.Background()); err != nil {
			t.Fatalf("%s: reused throwaway.Shutdown = %v", toolchainName, err)
		}
		ga := b.ExpectGoAway()
		if ga.LastStreamID != 3 || ga.ErrCode != http2.ErrCodeNo {
			t.Fatalf("%s: reused handle sent GOAWAY(last=%d, %v), want GOAWAY(3, NO_ERROR)", toolchainName, ga.LastStreamID, ga.ErrCode)
		}
		b.WriteHeaders(5, true, ":path", "/b5")
		synctest.Wait()
		g.noneStarted(t, "stream 5 is above GOAWAY's last stream id")
		g.open("b1")
		g.open("b3")
		b.ExpectResponses(1, 3)
		if err := b.WaitClosed(); err != nil {
			t.Fatalf("second connection after its drain: %v", err)
		}
		<-bDone
	})
}
