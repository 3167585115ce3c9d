package lifecycle

import (
	"net"
	"testing"
	"time"
	"unsafe"

	"github.com/h2lifecycle/h2lifecycle/drain"
	"github.com/h2lifecycle/h2lifecycle/idle"
)

// TestSupervisorSize keeps the supervisor in the 640-byte size class: it is
// most of what h2lifecycle adds to an idle connection, and the budget is
// 1 KiB (issue 15; BENCHMARKS.md, Memory). An object
// with pointers over 512 bytes carries an 8-byte malloc header (Go 1.22 and
// later), so the struct itself may have 632 bytes at most.
func TestSupervisorSize(t *testing.T) {
	if n := unsafe.Sizeof(Supervisor{}); n+mallocHeader > 640 {
		t.Errorf("Supervisor is %d bytes, plus its %d-byte malloc header over the 640-byte size class", n, mallocHeader)
	}
}

// mallocHeader is the runtime's header on objects with pointers larger than
// 512 bytes.
const mallocHeader = 8

// TestIntern: equal settings share one copy, different ones do not, past
// maxInterned values a supervisor gets a copy of its own, and invalid ones
// are refused every time, never interned.
func TestIntern(t *testing.T) {
	interned.Lock()
	interned.m = nil // other tests' supervisors may have filled it
	interned.Unlock()
	a, _ := intern(settings{Policy: idle.Policy{IdleTimeout: time.Minute}})
	b, _ := intern(settings{Policy: idle.Policy{IdleTimeout: time.Minute}})
	c, _ := intern(settings{Drain: drain.Config{Grace: time.Minute}})
	if a != b || a == c || a.Policy.IdleTimeout != time.Minute || c.Drain.Grace != time.Minute {
		t.Fatalf("intern: %p %p %p", a, b, c)
	}
	for i := range maxInterned + 1 { // fills the table
		intern(settings{Policy: idle.Policy{MaxStreamsPerConnection: 1000 + i}})
	}
	over := settings{Policy: idle.Policy{MaxStreamsPerConnection: 999}}
	p, _ := intern(over)
	q, _ := intern(over)
	if p == q || *p != over {
		t.Errorf("past the limit: %p %p, want two copies of the value", p, q)
	}
	bad := settings{Policy: idle.Policy{MaxConnectionAgeGrace: -time.Second}}
	for range 2 {
		if p, err := intern(bad); p != nil || err == nil {
			t.Errorf("invalid settings: %v, %v; want an error", p, err)
		}
	}
}

// TestEventsAfterCloseWithoutDrain: a connection closed before any drain
// has no drain state until something late arrives (the server's last
// write, a Drain call); then it is a closed one, and nothing starts.
func TestEventsAfterCloseWithoutDrain(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	s, err := New(a, Config{GoAway: func() { t.Error("a final GOAWAY requested after the close") }})
	if err != nil {
		t.Fatal(err)
	}
	s.streamOpened(1, true)
	s.conn.Close()
	if s.dr != nil {
		t.Error("the close allocated the drain state")
	}
	s.run(s.serverEndedAll([]uint32{1})) // the server's END_STREAM, written after the close
	s.Drain("late", 0)
	r := s.Report()
	if r.Reason != ReasonClosed || r.Drained || r.Timeline.Closed.IsZero() {
		t.Errorf("report: reason %q, drained %v, closed at %v", r.Reason, r.Drained, r.Timeline.Closed)
	}
	if snap := s.Snapshot(); snap.State != "closed" || snap.Reason != ReasonClosed {
		t.Errorf("snapshot: state %q, reason %q", snap.State, snap.Reason)
	}
}

// idleConn is a net.Conn that is never read or written and closes at once.
type idleConn struct{ net.Conn }

func (idleConn) RemoteAddr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }
func (idleConn) Close() error         { return nil }

// TestSupervisorAllocs: with nobody logging or recording, a supervisor's
// whole life allocates the Supervisor and its final Report, nothing else:
// no options, no interned copy, no enforcer, no close event, no remote
// address, no log fields (issue 15). With a logger at Debug the report's
// line is still built (TestReport* and the log-line tests check its
// content).
func TestSupervisorAllocs(t *testing.T) {
	cfg := Config{GoAway: func() {}, SawClientPreface: true}
	life := func() {
		s, err := New(idleConn{}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		s.Conn().Close()
	}
	interned.Lock()
	interned.m = nil // other tests may have filled it: then every supervisor validates and copies
	interned.Unlock()
	life() // intern the settings
	if n := testing.AllocsPerRun(100, life); n != 2 {
		t.Errorf("a supervisor's life allocates %v times, want 2 (Supervisor, final Report)", n)
	}
}
