package drain

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

var timing = Timing{Grace: 30 * time.Second, PingTimeout: 2 * time.Second, Linger: time.Second}

// step is one input to a Sequence in a scripted run.
type step struct {
	at   time.Duration // since t0
	in   string        // "start", an Event name, or "tick"
	want Action
}

func run(t *testing.T, s *Sequence, steps []step) {
	t.Helper()
	for i, st := range steps {
		now := t0.Add(st.at)
		var got Action
		switch st.in {
		case "start":
			got = s.Start(now, 0)
		case "tick":
			got = s.Tick(now)
		default:
			ev := eventByName(t, st.in)
			got = s.Handle(ev, now)
		}
		if got != st.want {
			t.Fatalf("step %d (%s at %v): actions %v, want %v (phase now %v)", i, st.in, st.at, got, st.want, s.Phase())
		}
	}
}

func eventByName(t *testing.T, name string) Event {
	for e := Event(0); e < numEvents; e++ {
		if e.String() == name {
			return e
		}
	}
	t.Fatalf("no event %q", name)
	return 0
}

func (a Action) String() string {
	if a == 0 {
		return "none"
	}
	var parts []string
	for i, n := range []string{"inject-notice", "final-goaway", "half-close", "reset-streams", "close"} {
		if a&(1<<i) != 0 {
			parts = append(parts, n)
		}
	}
	return strings.Join(parts, "+")
}

const ms = time.Millisecond

// TestSettleWaitsForStragglers: after the ACK the final GOAWAY waits until no
// new stream has arrived for Settle; each straggler restarts the wait, up to
// a ping timeout past the ACK.
func TestSettleWaitsForStragglers(t *testing.T) {
	s := &Sequence{Timing: settling}
	run(t, s, []step{
		{0, "start", InjectNotice},
		{1 * ms, "notice-written", 0},
		{2 * ms, "ping-acked", 0},
		{10 * ms, "stream-opened", 0}, // numbered before GOAWAY #1, written after the ACK
		{21 * ms, "tick", 0},          // 11 ms of quiet is not enough
		{30 * ms, "tick", FinalGoAway},
	})
	if d := s.Deadline(); d != t0.Add(timing.Grace) {
		t.Fatalf("deadline after the final GOAWAY %v, want the grace", d.Sub(t0))
	}
	s = &Sequence{Timing: settling}
	run(t, s, []step{
		{0, "start", InjectNotice},
		{1 * ms, "notice-written", 0},
		{2 * ms, "ping-acked", 0},
	})
	for at := 10 * ms; at < settling.PingTimeout; at += 10 * ms { // a peer that never stops
		run(t, s, []step{{at, "stream-opened", 0}})
	}
	run(t, s, []step{{2*ms + settling.PingTimeout, "tick", FinalGoAway}})
}

func TestAckAfterStreamsFinish(t *testing.T) {
	s := &Sequence{Timing: timing}
	run(t, s, []step{
		{0, "streams-open", 0},
		{0, "start", InjectNotice},
		{1 * ms, "notice-written", 0},
		{2 * ms, "streams-idle", 0}, // streams done, but a new one may be on the wire
		{3 * ms, "ping-acked", FinalGoAway},
		{3 * ms, "server-goaway", HalfClose},
		{5 * ms, "conn-gone", 0},
	})
	tl := s.Timeline()
	if s.Phase() != Closed || tl.Ack != t0.Add(3*ms) || tl.Final != t0.Add(3*ms) || tl.HalfClosed != t0.Add(3*ms) || tl.Closed != t0.Add(5*ms) {
		t.Fatalf("phase %v timeline %+v", s.Phase(), tl)
	}
	if s.PingTimedOut() || s.GraceExpired() {
		t.Fatal("clean drain reported a timeout")
	}
}

func TestAckBeforeStreamsFinish(t *testing.T) {
	s := &Sequence{Timing: timing}
	run(t, s, []step{
		{0, "start", InjectNotice},
		{1 * ms, "notice-written", 0},
		{1 * ms, "streams-open", 0}, // the request that crossed GOAWAY #1
		{2 * ms, "ping-acked", FinalGoAway},
		{2 * ms, "server-goaway", 0},
		{2 * ms, "tick", 0},
		{500 * ms, "server-goaway", 0}, // a repeat changes nothing
		{900 * ms, "streams-idle", HalfClose},
		{1900 * ms, "tick", CloseConn}, // the peer never sent its FIN: linger ends
	})
	if tl := s.Timeline(); tl.Final != t0.Add(2*ms) || tl.StreamsDone != t0.Add(900*ms) || tl.Closed != t0.Add(1900*ms) {
		t.Fatalf("timeline %+v", tl)
	}
}

func TestPingTimeout(t *testing.T) {
	s := &Sequence{Timing: timing}
	run(t, s, []step{
		{0, "start", InjectNotice},
		{1 * ms, "notice-written", 0},
	})
	if d := s.Deadline(); d != t0.Add(1*ms+timing.PingTimeout) {
		t.Fatalf("deadline %v, want the ping timeout", d.Sub(t0))
	}
	run(t, s, []step{
		{1*ms + timing.PingTimeout - 1, "tick", 0},
		{1*ms + timing.PingTimeout, "tick", FinalGoAway},
		{1*ms + timing.PingTimeout, "ping-acked", 0}, // late ACK changes nothing
		{3 * time.Second, "server-goaway", HalfClose},
	})
	if !s.PingTimedOut() {
		t.Fatal("PingTimedOut = false")
	}
}

// The ping timer starts only when the notice is on the wire: a notice stuck
// behind a full TCP window is bounded by the grace deadline instead.
func TestNoticeNeverWritten(t *testing.T) {
	s := &Sequence{Timing: timing}
	run(t, s, []step{
		{0, "start", InjectNotice},
		{10 * time.Second, "tick", 0},
		{timing.Grace, "tick", ResetStreams | CloseConn},
	})
	if !s.GraceExpired() || s.Phase() != Closed {
		t.Fatalf("phase %v forced %v", s.Phase(), s.GraceExpired())
	}
}

func TestPeerGoAwayDuringNotice(t *testing.T) {
	s := &Sequence{Timing: timing}
	run(t, s, []step{
		{0, "streams-open", 0},
		{0, "start", InjectNotice},
		{1 * ms, "notice-written", 0},
		{2 * ms, "peer-goaway", FinalGoAway}, // don't wait for an ACK that may never come
		{3 * ms, "server-goaway", 0},
		{4 * ms, "streams-idle", HalfClose},
	})
}

func TestPeerGoAwayWhileActive(t *testing.T) {
	s := &Sequence{Timing: timing}
	run(t, s, []step{
		{0, "peer-goaway", FinalGoAway},
		{0, "start", 0}, // a drain asked later joins the one under way
		{1 * ms, "server-goaway", HalfClose},
	})
}

func TestServerGoAwayFirst(t *testing.T) {
	// The server drains on its own (e.g. its own shutdown) before any drain of ours.
	s := &Sequence{Timing: timing}
	run(t, s, []step{
		{0, "streams-open", 0},
		{0, "server-goaway", 0},
		{0, "start", 0}, // no notice may follow the server's GOAWAY
		{5 * ms, "streams-idle", HalfClose},
	})
	if s.Phase() != Closing {
		t.Fatalf("phase %v", s.Phase())
	}
}

func TestAckReportedBeforeWrite(t *testing.T) {
	s := &Sequence{Timing: timing}
	run(t, s, []step{
		{0, "start", InjectNotice},
		{1 * ms, "ping-acked", FinalGoAway}, // the reader beat the injector's report
		{1 * ms, "notice-written", 0},
		{2 * ms, "server-goaway", HalfClose},
	})
}

func TestServerGoAwayBeforeNoticeWritten(t *testing.T) {
	s := &Sequence{Timing: timing}
	run(t, s, []step{
		{0, "start", InjectNotice},
		{1 * ms, "server-goaway", HalfClose}, // the tap drops the pending notice
		{1 * ms, "notice-written", 0},
		{1 * ms, "ping-acked", 0},
	})
}

func TestServerErrorMidDrain(t *testing.T) {
	s := &Sequence{Timing: timing}
	run(t, s, []step{
		{0, "streams-open", 0},
		{0, "start", InjectNotice},
		{1 * ms, "notice-written", 0},
		{2 * ms, "server-error", HalfClose}, // the server stops serving: close behind its GOAWAY
		{3 * ms, "ping-acked", 0},
		{4 * ms, "conn-gone", 0},
	})
}

func TestServerErrorWhileActive(t *testing.T) {
	s := &Sequence{Timing: timing}
	run(t, s, []step{
		{0, "server-error", HalfClose},
		{0, "start", 0},
		{timing.Linger, "tick", CloseConn},
	})
}

func TestConnGoneMidDrain(t *testing.T) {
	s := &Sequence{Timing: timing}
	run(t, s, []step{
		{0, "streams-open", 0},
		{0, "start", InjectNotice},
		{1 * ms, "notice-written", 0},
		{2 * ms, "conn-gone", 0},
		{3 * ms, "ping-acked", 0},
		{timing.Grace, "tick", 0},
	})
	if s.Phase() != Closed || !s.Deadline().IsZero() {
		t.Fatalf("phase %v deadline %v", s.Phase(), s.Deadline())
	}
}

func TestCloseDuringDrain(t *testing.T) {
	s := &Sequence{Timing: timing}
	run(t, s, []step{
		{0, "streams-open", 0},
		{0, "start", InjectNotice},
		{1 * ms, "close-now", CloseConn},
		{2 * ms, "close-now", 0},
		{3 * ms, "start", 0},
	})
}

func TestDrainRequestedTwice(t *testing.T) {
	s := &Sequence{Timing: timing}
	s.Start(t0, 30*time.Second)
	if a := s.Start(t0.Add(ms), 5*time.Second); a != 0 {
		t.Fatalf("second Start: %v", a)
	}
	if d := s.Deadline(); d != t0.Add(ms+5*time.Second) {
		t.Fatalf("grace deadline %v, want the shorter one", d.Sub(t0))
	}
	if a := s.Start(t0.Add(2*ms), time.Minute); a != 0 || s.Deadline() != t0.Add(ms+5*time.Second) {
		t.Fatalf("a later Start moved the deadline to %v", s.Deadline().Sub(t0))
	}
}

func TestGraceCutsInFlightStreams(t *testing.T) {
	s := &Sequence{Timing: timing}
	run(t, s, []step{
		{0, "streams-open", 0},
		{0, "start", InjectNotice},
		{1 * ms, "notice-written", 0},
		{2 * ms, "ping-acked", FinalGoAway},
		{2 * ms, "server-goaway", 0},
		{timing.Grace - 1, "tick", 0},
		{timing.Grace, "tick", ResetStreams | CloseConn},
	})
	if !s.GraceExpired() {
		t.Fatal("GraceExpired = false")
	}
}

func TestPhaseStrings(t *testing.T) {
	want := "active draining(notice) draining(final) closing closed"
	var got []string
	for p := Active; p <= Closed; p++ {
		got = append(got, p.String())
	}
	if strings.Join(got, " ") != want {
		t.Fatalf("phases %q", got)
	}
}

// input is one symbol of the exhaustive exploration.
type input uint8

const (
	inStart input = input(numEvents) + iota
	inTickSoon
	inTickLate
	numInputs
)

func (in input) String() string {
	switch in {
	case inStart:
		return "start"
	case inTickSoon:
		return "tick+1ms"
	case inTickLate:
		return "tick+1h"
	}
	return Event(in).String()
}

// checker drives a Sequence and checks the invariants that must hold after
// every input, whatever the order.
type checker struct {
	s                                        Sequence
	now                                      time.Time
	notices, finals, halfCloses, closes      int
	serverWent, serverErr, noticeDone, acked bool
	open                                     bool
	trace                                    []input
}

func newChecker(tm Timing) *checker { return &checker{s: Sequence{Timing: tm}, now: t0} }

// settling is timing with a settle period after the ACK.
var settling = Timing{Grace: 30 * time.Second, PingTimeout: 2 * time.Second, Settle: 20 * time.Millisecond, Linger: time.Second}

func (c *checker) fail(format string, args ...any) error {
	return fmt.Errorf("after %v: %s", c.trace, fmt.Sprintf(format, args...))
}

func (c *checker) feed(in input) error {
	c.trace = append(c.trace, in)
	before := c.s.Phase()
	c.now = c.now.Add(time.Millisecond)
	var a Action
	switch in {
	case inStart:
		a = c.s.Start(c.now, 0)
	case inTickSoon:
		a = c.s.Tick(c.now)
	case inTickLate:
		c.now = c.now.Add(time.Hour)
		a = c.s.Tick(c.now)
	default:
		ev := Event(in)
		switch ev {
		case NoticeWritten:
			if c.notices == 0 || c.noticeDone || c.serverWent {
				return nil // only the tap reports it, once, after being asked
			}
			c.noticeDone = true
		case PingAcked:
			if c.notices == 0 {
				return nil // no ACK for a PING never asked for
			}
			c.acked = true // possibly before the injector reported the write
		case StreamsOpen:
			if c.open || c.serverWent && c.s.Phase() >= Closing {
				return nil
			}
			c.open = true
		case StreamsIdle:
			if !c.open {
				return nil
			}
			c.open = false
		case ServerGoAway:
			c.serverWent = true
		case ServerError:
			c.serverWent, c.serverErr = true, true
		}
		a = c.s.Handle(ev, c.now)
	}
	after := c.s.Phase()
	if after < before {
		return c.fail("phase went back from %v to %v", before, after)
	}
	if before == Closed && a != 0 {
		return c.fail("closed sequence returned %v", a)
	}
	if a&InjectNotice != 0 {
		c.notices++
		if c.notices > 1 || c.serverWent || in != inStart {
			return c.fail("InjectNotice #%d (server GOAWAY seen: %v) on %v", c.notices, c.serverWent, in)
		}
	}
	if a&FinalGoAway != 0 {
		c.finals++
		if c.finals > 1 || c.serverWent {
			return c.fail("FinalGoAway #%d (server GOAWAY seen: %v)", c.finals, c.serverWent)
		}
		if c.notices == 1 && !c.noticeDone && !c.acked && in != input(PeerGoAway) {
			return c.fail("FinalGoAway before the notice was on the wire")
		}
	}
	if a&HalfClose != 0 {
		c.halfCloses++
		if c.halfCloses > 1 || !c.serverWent || (c.open && !c.serverErr) {
			return c.fail("HalfClose #%d with server GOAWAY %v, open streams %v", c.halfCloses, c.serverWent, c.open)
		}
	}
	if a&ResetStreams != 0 && (a&CloseConn == 0 || !c.s.GraceExpired()) {
		return c.fail("ResetStreams %v without the grace deadline", a)
	}
	if a&CloseConn != 0 {
		c.closes++
		if c.closes > 1 || after != Closed {
			return c.fail("CloseConn #%d in phase %v", c.closes, after)
		}
	}
	d := c.s.Deadline()
	switch after {
	case Notice, Final, Closing:
		if d.IsZero() {
			return c.fail("no deadline in phase %v", after)
		}
		if after != Closing && d.After(c.s.timeline.Start.Add(timing.Grace)) {
			return c.fail("deadline %v past the grace deadline", d.Sub(c.s.timeline.Start))
		}
	default:
		if !d.IsZero() {
			return c.fail("deadline in phase %v", after)
		}
	}
	return nil
}

// liveness: whatever happened, a started drain ends by itself.
func (c *checker) liveness() error {
	if c.s.Phase() == Active {
		return nil
	}
	for i := 0; i < 4 && c.s.Phase() != Closed; i++ {
		if err := c.feed(inTickLate); err != nil {
			return err
		}
	}
	if c.s.Phase() != Closed {
		return c.fail("drain never closed; phase %v", c.s.Phase())
	}
	return nil
}

// TestEveryOrder explores every sequence of inputs up to a length and checks
// the invariants after every step, and that each drain ends.
func TestEveryOrder(t *testing.T) {
	depth := 6
	if testing.Short() || raceEnabled {
		depth = 5
	}
	for _, tm := range []Timing{timing, settling} {
		seqs := 0
		var walk func(prefix []input) bool
		walk = func(prefix []input) bool {
			c := newChecker(tm)
			for _, in := range prefix {
				if err := c.feed(in); err != nil {
					t.Error(err)
					return false
				}
			}
			if err := c.liveness(); err != nil {
				t.Error(err)
				return false
			}
			seqs++
			if len(prefix) == depth {
				return true
			}
			for in := input(0); in < numInputs; in++ {
				if !walk(append(prefix, in)) {
					return false
				}
			}
			return true
		}
		walk(nil)
		t.Logf("settle %v: %d input sequences checked", tm.Settle, seqs)
	}
}

func FuzzSequence(f *testing.F) {
	f.Add([]byte{byte(inStart), byte(NoticeWritten), byte(PingAcked), byte(ServerGoAway)})
	f.Add([]byte{byte(StreamsOpen), byte(inStart), byte(PeerGoAway), byte(inTickLate)})
	f.Fuzz(func(t *testing.T, b []byte) {
		c := newChecker(settling)
		for _, x := range b {
			if err := c.feed(input(x % byte(numInputs))); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.liveness(); err != nil {
			t.Fatal(err)
		}
	})
}
