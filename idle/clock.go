package idle

import (
	"math"
	"time"
)

// Never is the deadline of something that will not happen. Durations at or
// near math.MaxInt64 (grpc-go's "infinity") end up here: deadline
// arithmetic saturates instead of wrapping around.
const Never = time.Duration(math.MaxInt64)

// After returns the deadline d after t, saturating at Never. Negative d
// counts as zero.
func After(t, d time.Duration) time.Duration {
	if d <= 0 {
		return t
	}
	if t >= Never-d {
		return Never
	}
	return t + d
}

// Due is a set of policy deadlines that have passed.
type Due uint8

// Deadlines a [Clock] reports.
const (
	DueIdle        Due = 1 << iota // no stream for IdleTimeout: drain ("idle")
	DueMaxAge                      // MaxConnectionAge reached: drain ("max_age")
	DuePreface                     // no preface and first SETTINGS within HeaderTimeout: close
	DueHeaderBlock                 // a header block incomplete for HeaderTimeout: end the connection
	DueFirstStream                 // a drain waiting for the connection's first stream starts anyway
)

// Clock keeps the deadlines of one connection's policy: the idle timeout,
// the maximum age, the header timeout, and the wait of an early drain for
// the connection's first stream. It is pure: events and the current time
// go in, the next deadline and the deadlines due come out; it reads no
// clock and starts nothing. Times are offsets from the start of the
// connection. Each deadline is reported due once; one that has passed is
// never armed again by itself, so a quiet connection costs a bounded number
// of timer fires whatever the settings.
//
// Its owner serializes calls.
type Clock struct {
	p *Policy

	spoke  bool // the client preface is complete: the idle time counts
	framed bool // the client's first SETTINGS arrived
	busy   bool // streams are open
	ending bool // the connection is ending: idle and age no longer apply
	closed bool // nothing applies any more

	idleAt   time.Duration
	ageAt    time.Duration
	headerAt time.Duration // the preface and first SETTINGS, or the header block open now
	streamAt time.Duration // the early drain's wait for the first stream
}

// NewClock returns the clock of a connection that starts now (offset 0)
// under p, which must not change while the clock is in use. ageJitter
// shifts MaxConnectionAge (see AgeJitter), so that connections made
// together do not all end together.
func NewClock(p *Policy, ageJitter time.Duration) Clock {
	c := Clock{p: p, idleAt: Never, ageAt: Never, headerAt: Never, streamAt: Never}
	if p.MaxConnectionAge > 0 {
		if ageJitter >= 0 {
			c.ageAt = After(p.MaxConnectionAge, ageJitter)
		} else {
			c.ageAt = max(p.MaxConnectionAge+max(ageJitter, -p.MaxConnectionAge), 1)
		}
	}
	if p.HeaderTimeout > 0 {
		c.headerAt = p.HeaderTimeout
	}
	return c
}

// PrefaceDone notes the end of the client preface at now (at 0 when it was
// read before the connection was handed over): the idle time counts from
// here, as with the stock server's idle timer. A client that sends its
// preface slowly after its TLS handshake is not drained before it has spoken.
func (c *Clock) PrefaceDone(now time.Duration) {
	if c.spoke {
		return
	}
	c.spoke = true
	c.armIdle(now)
}

// ClientSettings notes the client's first SETTINGS, the end of its
// connection preface (RFC 9113 §3.4): the header timeout for the
// connection's start is met.
func (c *Clock) ClientSettings() {
	if !c.framed {
		c.framed = true
		c.headerAt = Never
	}
}

// BlockOpened notes that a header block began at now and is incomplete.
// Before the client's first SETTINGS, the deadline of the preface applies
// instead.
func (c *Clock) BlockOpened(now time.Duration) {
	if c.p.HeaderTimeout > 0 && c.framed && !c.closed {
		c.headerAt = After(now, c.p.HeaderTimeout)
	}
}

// BlockClosed notes that the incomplete header block ended.
func (c *Clock) BlockClosed() {
	if c.framed {
		c.headerAt = Never
	}
}

// Busy notes that streams are open.
func (c *Clock) Busy() {
	c.busy = true
	c.idleAt = Never
}

// Idle notes that no stream is open any more, at now.
func (c *Clock) Idle(now time.Duration) {
	c.busy = false
	c.armIdle(now)
}

func (c *Clock) armIdle(now time.Duration) {
	if c.p.IdleTimeout > 0 && c.spoke && !c.busy && !c.ending {
		c.idleAt = After(now, c.p.IdleTimeout)
	}
}

// WaitFirstStream makes an early drain wait for the connection's first
// stream until at most until (the earliest of the calls counts); not once
// the connection is ending.
func (c *Clock) WaitFirstStream(until time.Duration) {
	if !c.ending {
		c.streamAt = min(c.streamAt, until)
	}
}

// FirstStreamArrived ends the wait for the first stream.
func (c *Clock) FirstStreamArrived() { c.streamAt = Never }

// Ending notes that the connection started ending (a drain, an abort): the
// idle timeout, the maximum age and the wait for a first stream no longer
// apply.
func (c *Clock) Ending() {
	c.ending = true
	c.idleAt, c.ageAt, c.streamAt = Never, Never, Never
}

// Closing notes that the connection is past serving: no deadline applies.
func (c *Clock) Closing() {
	c.Ending()
	c.closed = true
	c.headerAt = Never
}

// Next returns the earliest deadline; Never if there is none.
func (c *Clock) Next() time.Duration {
	return min(c.idleAt, c.ageAt, c.headerAt, c.streamAt)
}

// Due returns the deadlines that have passed at now, and forgets them.
func (c *Clock) Due(now time.Duration) Due {
	var d Due
	take := func(at *time.Duration, bit Due) {
		if *at <= now && *at != Never {
			*at = Never
			d |= bit
		}
	}
	take(&c.idleAt, DueIdle)
	take(&c.ageAt, DueMaxAge)
	if c.framed {
		take(&c.headerAt, DueHeaderBlock)
	} else {
		take(&c.headerAt, DuePreface)
	}
	take(&c.streamAt, DueFirstStream)
	return d
}

// AgeJitter returns a jitter for MaxConnectionAge age drawn uniformly from
// [-age/10, +age/10] by n (math/rand/v2's Int64N, or a stand-in).
func AgeJitter(age time.Duration, n func(int64) int64) time.Duration {
	if age <= 0 {
		return 0
	}
	return time.Duration(n(int64(age)/5+1)) - age/10
}
