package conformance

import (
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"testing/synctest"

	"golang.org/x/net/http2"
)

type stateLog struct {
	mu     sync.Mutex
	states []http.ConnState
	conns  []net.Conn
}

func (l *stateLog) hook(c net.Conn, s http.ConnState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.states = append(l.states, s)
	l.conns = append(l.conns, c)
}

// take returns and clears the states recorded so far; call it after
// synctest.Wait.
func (l *stateLog) take() ([]http.ConnState, []net.Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, c := l.states, l.conns
	l.states, l.conns = nil, nil
	return s, c
}

// Fact 2 (DESIGN.md, rule 8): the throwaway's ConnState reports the server's
// own view of idleness: StateActive then StateIdle once the preface is read,
// StateActive when the first stream opens, nothing while more streams come
// and go, StateIdle when the last one closes; never StateNew or StateClosed
// (net/http reports those, and ServeConn'd conns bypass it). The conn passed
// is the one given to ServeConn. Both wirings are recorded: on Go 1.26 only
// BaseConfig=throwaway calls it at all.
func TestConnStateTransitions(t *testing.T) {
	for _, w := range wirings {
		t.Run(w.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var log stateLog
				g := newGates()
				c, s := pipeConn(t, connConfig{
					wiring:  w,
					handler: g,
					before:  func(hs *http.Server, _ *http2.Server) { hs.ConnState = log.hook },
				})
				works := connStateWorks[w]
				step := func(what string, want ...http.ConnState) {
					t.Helper()
					synctest.Wait()
					got, conns := log.take()
					if !works {
						want = nil
					}
					if !slices.Equal(got, want) {
						t.Fatalf("%s, %v, %s: ConnState calls %v, want %v (connStateWorks=%v); the supervisor's idle detection depends on these", toolchainName, w, what, got, want, works)
					}
					for _, conn := range conns {
						if conn != s.conn {
							t.Fatalf("%s, %v: ConnState got conn %T %p, want the conn given to ServeConn (%p): the supervisor could not map it back", toolchainName, w, conn, conn, s.conn)
						}
					}
				}

				c.Handshake()
				step("after the preface", http.StateActive, http.StateIdle)
				c.WriteHeaders(1, true, ":path", "/block/1")
				g.waitStarted(t, "/block/1")
				step("first stream opened", http.StateActive)
				c.WriteHeaders(3, true, ":path", "/block/3")
				g.waitStarted(t, "/block/3")
				step("second stream opened")
				g.open("1")
				c.ExpectResponse(1)
				step("one of two streams closed")
				g.open("3")
				c.ExpectResponse(3)
				step("last stream closed", http.StateIdle)
				c.WriteHeaders(5, true, ":path", "/5")
				c.ExpectResponse(5)
				step("a whole stream later", http.StateActive, http.StateIdle)
				c.WriteGoAway(0, 0, nil)
				if err := c.WaitClosed(); err != nil {
					t.Fatal(err)
				}
				<-s.done
				step("after the connection closed")
			})
		})
	}
}
