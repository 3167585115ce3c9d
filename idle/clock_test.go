package idle

import (
	"fmt"
	"math"
	"math/bits"
	"testing"
	"time"
)

func TestAfterSaturates(t *testing.T) {
	for _, tc := range []struct{ t, d, want time.Duration }{
		{0, 0, 0},
		{5, -3, 5},
		{1, 2, 3},
		{Never, 1, Never},
		{Never - 1, 1, Never},
		{Never - 2, 1, Never - 1},
		{1, Never, Never},
		{time.Hour, Never - time.Minute, Never},
	} {
		if got := After(tc.t, tc.d); got != tc.want {
			t.Errorf("After(%d, %d) = %d, want %d", tc.t, tc.d, got, tc.want)
		}
	}
}

func TestAgeJitter(t *testing.T) {
	for _, age := range []time.Duration{1, 10, time.Second, time.Hour, Never} {
		lo := AgeJitter(age, func(int64) int64 { return 0 })
		hi := AgeJitter(age, func(n int64) int64 { return n - 1 })
		if lo != -(age/10) || hi < age/10-1 || hi > age/10+1 {
			t.Errorf("age %v: jitter in [%v, %v], want about ±%v", age, lo, hi, age/10)
		}
		c := NewClock(&Policy{MaxConnectionAge: age}, hi)
		if at := c.Next(); at < age || at < 0 {
			t.Errorf("age %v, jitter %v: deadline %v", age, hi, at)
		}
		c = NewClock(&Policy{MaxConnectionAge: age}, lo)
		if at := c.Next(); at <= 0 || at > age {
			t.Errorf("age %v, jitter %v: deadline %v", age, lo, at)
		}
	}
}

// TestClockDeadlines walks each deadline through its life.
func TestClockDeadlines(t *testing.T) {
	s := time.Second
	t.Run("idle counts from the preface and from the last stream", func(t *testing.T) {
		c := NewClock(&Policy{IdleTimeout: 10 * s}, 0)
		if c.Next() != Never {
			t.Fatal("idle deadline before the client spoke")
		}
		c.PrefaceDone(3 * s)
		if c.Next() != 13*s {
			t.Fatalf("next %v, want 13s", c.Next())
		}
		c.Busy()
		if c.Next() != Never || c.Due(100*s) != 0 {
			t.Fatal("idle deadline while busy")
		}
		c.Idle(20 * s)
		if c.Due(29*s) != 0 || c.Due(30*s) != DueIdle || c.Due(31*s) != 0 || c.Next() != Never {
			t.Fatal("idle fires once, at 30s")
		}
	})
	t.Run("age", func(t *testing.T) {
		c := NewClock(&Policy{MaxConnectionAge: 10 * s}, -s)
		if c.Next() != 9*s || c.Due(9*s) != DueMaxAge || c.Next() != Never {
			t.Fatal("age with -1s jitter")
		}
		c = NewClock(&Policy{MaxConnectionAge: 10 * s}, 0)
		c.Ending()
		if c.Next() != Never {
			t.Fatal("age applies while ending")
		}
	})
	t.Run("preface and blocks", func(t *testing.T) {
		c := NewClock(&Policy{HeaderTimeout: 2 * s}, 0)
		if c.Next() != 2*s {
			t.Fatal("preface deadline")
		}
		c.ClientSettings()
		c.BlockOpened(5 * s)
		if c.Next() != 7*s || c.Due(7*s) != DueHeaderBlock {
			t.Fatal("block deadline")
		}
		c.BlockOpened(8 * s)
		c.BlockClosed()
		if c.Next() != Never {
			t.Fatal("closed block still armed")
		}
		c.BlockOpened(9 * s)
		c.Closing()
		if c.Next() != Never {
			t.Fatal("block armed after Closing")
		}
	})
	t.Run("first stream wait", func(t *testing.T) {
		c := NewClock(&Policy{}, 0)
		c.WaitFirstStream(5 * s)
		c.WaitFirstStream(7 * s) // a later bound does not move it
		if c.Next() != 5*s || c.Due(5*s) != DueFirstStream || c.Next() != Never {
			t.Fatal("first stream wait")
		}
		c.WaitFirstStream(9 * s)
		c.FirstStreamArrived()
		if c.Next() != Never {
			t.Fatal("wait armed after the first stream")
		}
	})
}

// clockOp is one event fed to a Clock in TestClockExhaustive.
type clockOp uint8

const (
	opPreface clockOp = iota
	opClientSettings
	opBlockOpened
	opBlockClosed
	opBusy
	opIdle
	opWait
	opArrived
	opEnding
	opClosing
	opDue
	numClockOps
)

var clockOpNames = [...]string{"preface", "client-settings", "block-opened", "block-closed", "busy",
	"idle", "wait", "arrived", "ending", "closing", "due"}

// satAdd is After computed another way, for the reference checks.
func satAdd(a, b time.Duration) time.Duration {
	if b <= 0 {
		return a
	}
	s, carry := bits.Add64(uint64(a), uint64(b), 0)
	if carry != 0 || s > math.MaxInt64 {
		return Never
	}
	return time.Duration(s)
}

// TestClockExhaustive feeds every sequence of up to five events, at every
// combination of a few time steps, to clocks of policies at their extremes
// (0, 1 ns, typical, near math.MaxInt64), and checks after each event:
//   - no deadline that has passed stays armed once Due has run: a timer
//     armed at Next fires at most once per arming event (no spin);
//   - each deadline is exactly when the policy says, computed without
//     wrapping around;
//   - nothing is due twice without an event that arms it again;
//   - after Ending, neither idle, age nor the first-stream wait is due;
//     after Closing, nothing is.
func TestClockExhaustive(t *testing.T) {
	huge := Never
	policies := []Policy{
		{},
		{IdleTimeout: 1, MaxConnectionAge: 1, HeaderTimeout: 1},
		{IdleTimeout: time.Second, MaxConnectionAge: time.Minute, HeaderTimeout: 5 * time.Second},
		{IdleTimeout: huge, MaxConnectionAge: huge, HeaderTimeout: huge},
		{IdleTimeout: huge - 1, MaxConnectionAge: 10, HeaderTimeout: huge / 2},
	}
	steps := []time.Duration{0, time.Second, Never / 2}
	const depth = 4
	runs := 0
	for _, p := range policies {
		var seq []clockOp
		var times []time.Duration
		var walk func(c Clock, now time.Duration, st refState)
		walk = func(c Clock, now time.Duration, st refState) {
			if len(seq) == depth {
				return
			}
			for op := range numClockOps {
				for _, step := range steps {
					at := satAdd(now, step)
					cc, s := c, st
					seq, times = append(seq, op), append(times, at)
					s.apply(t, &cc, &p, op, at, func() string { return trace(p, seq, times) })
					runs++
					walk(cc, at, s)
					seq, times = seq[:len(seq)-1], times[:len(times)-1]
				}
			}
		}
		walk(NewClock(&p, 0), 0, newRefState(&p))
	}
	t.Logf("%d event sequences", runs)
}

// refState is what the checks know of a clock's history.
type refState struct {
	spoke, busy, ending, closed, firstFrame, prefaceFired bool
	idleFrom                                              time.Duration // when the idle time started; -1 if not counting
	blockFrom                                             time.Duration // when the open block began; -1 if none
	wait                                                  time.Duration // the first-stream wait; Never if none
	fired                                                 Due           // deadlines reported and not armed since
}

func newRefState(p *Policy) refState {
	return refState{idleFrom: -1, blockFrom: -1, wait: Never}
}

func trace(p Policy, seq []clockOp, times []time.Duration) string {
	s := fmt.Sprintf("policy idle=%d age=%d header=%d:", p.IdleTimeout, p.MaxConnectionAge, p.HeaderTimeout)
	for i, op := range seq {
		s += fmt.Sprintf(" %s@%d", clockOpNames[op], times[i])
	}
	return s
}

func (s *refState) apply(t *testing.T, c *Clock, p *Policy, op clockOp, now time.Duration, tr func() string) {
	switch op {
	case opPreface:
		c.PrefaceDone(now)
		if !s.spoke {
			s.spoke = true
			if !s.busy {
				s.idleFrom, s.fired = now, s.fired&^DueIdle
			}
		}
	case opClientSettings:
		c.ClientSettings()
		if !s.firstFrame {
			s.firstFrame, s.blockFrom = true, -1
		}
	case opBlockOpened:
		c.BlockOpened(now)
		if !s.closed && s.firstFrame {
			s.blockFrom, s.fired = now, s.fired&^DueHeaderBlock
		}
	case opBlockClosed:
		c.BlockClosed()
		if s.firstFrame {
			s.blockFrom = -1
		}
	case opBusy:
		c.Busy()
		s.busy, s.idleFrom = true, -1
	case opIdle:
		c.Idle(now)
		s.busy = false
		if s.spoke {
			s.idleFrom, s.fired = now, s.fired&^DueIdle
		}
	case opWait:
		until := satAdd(now, time.Second)
		c.WaitFirstStream(until)
		if !s.ending && until < s.wait {
			s.wait, s.fired = until, s.fired&^DueFirstStream
		}
	case opArrived:
		c.FirstStreamArrived()
		s.wait = Never
	case opEnding:
		c.Ending()
		s.ending = true
	case opClosing:
		c.Closing()
		s.ending, s.closed = true, true
	case opDue:
		due := c.Due(now)
		if again := due & s.fired; again != 0 {
			t.Fatalf("due %b again without being armed: %s", again, tr())
		}
		s.fired |= due
		if due&(DueIdle|DueMaxAge|DueFirstStream) != 0 && s.ending {
			t.Fatalf("due %b after Ending: %s", due, tr())
		}
		if due != 0 && s.closed {
			t.Fatalf("due %b after Closing: %s", due, tr())
		}
		if next := c.Next(); next <= now && next != Never {
			t.Fatalf("after Due(%d), the next deadline %d has passed: a timer would spin: %s", now, next, tr())
		}
		if due&DueIdle != 0 {
			s.idleFrom = -1
		}
		if due&DueHeaderBlock != 0 {
			s.blockFrom = -1
		}
		if due&DueFirstStream != 0 {
			s.wait = Never
		}
		if due&DuePreface != 0 {
			s.prefaceFired = true
		}
	}
	// Every deadline armed is where the policy puts it.
	want := Never
	if p.IdleTimeout > 0 && s.spoke && !s.busy && !s.ending && s.idleFrom >= 0 && s.fired&DueIdle == 0 {
		want = min(want, satAdd(s.idleFrom, p.IdleTimeout))
	}
	if p.MaxConnectionAge > 0 && !s.ending && s.fired&DueMaxAge == 0 {
		want = min(want, p.MaxConnectionAge)
	}
	if p.HeaderTimeout > 0 && !s.firstFrame && !s.closed && !s.prefaceFired {
		want = min(want, p.HeaderTimeout)
	}
	if p.HeaderTimeout > 0 && s.firstFrame && s.blockFrom >= 0 && !s.closed && s.fired&DueHeaderBlock == 0 {
		want = min(want, satAdd(s.blockFrom, p.HeaderTimeout))
	}
	if !s.ending && s.fired&DueFirstStream == 0 {
		want = min(want, s.wait)
	}
	if got := c.Next(); got != want {
		t.Fatalf("next deadline %d, want %d: %s", got, want, tr())
	}
}
