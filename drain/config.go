package drain

import (
	"time"

	"github.com/h2lifecycle/h2lifecycle/idle"
)

// Config holds the drain settings of a server. The zero value works; every
// field documents its default.
type Config struct {
	// Grace bounds a drain: from its start to the forced close of streams
	// still open. Zero means 30s.
	Grace time.Duration

	// PingTimeout is how long to wait for the ACK of the PING that follows
	// GOAWAY(2^31-1) before sending the final GOAWAY anyway. ACKs can queue
	// behind uploads and some peers stop answering after their own GOAWAY,
	// so it is generous. Zero means automatic: twice SRTT+4·RTTVAR of the
	// connection's measured round trips, never below 1s. A positive value
	// is used as is. It never exceeds Grace.
	PingTimeout time.Duration

	// Settle is the quiet period between the PING ACK and the final
	// GOAWAY: it goes out once no new stream has arrived for this long (at
	// most a ping timeout after the ACK). Go's client numbers a request's
	// stream, then writes its HEADERS under another lock, so under load its
	// PING ACK can overtake a request it numbered before it read GOAWAY
	// #1; the settle period lets such stragglers in. Zero means 20ms.
	Settle time.Duration

	// Linger is how long to wait for the peer's FIN after our side is shut
	// down, before closing. Zero means 1s.
	Linger time.Duration

	// FirstStreamWait holds back the drain of a connection that has carried
	// no stream yet and is younger than this, until its first stream arrives
	// (it is served) or it reaches this age. A client opens a connection to
	// send a request, and Go's client fails, without retrying, a request
	// whose brand-new connection closes before the request is sent. Zero
	// means 100ms; the grace deadline still counts from the drain request.
	FirstStreamWait time.Duration
}

// Defaults.
const (
	DefaultGrace            = 30 * time.Second
	DefaultPingTimeoutFloor = time.Second
	DefaultLinger           = time.Second
	DefaultSettle           = 20 * time.Millisecond
	DefaultFirstStreamWait  = 100 * time.Millisecond
)

// Validate reports the first setting that is out of range, as an
// *idle.SettingError.
func (c Config) Validate() error {
	for _, f := range [...]struct {
		name string
		v    time.Duration
	}{{"grace", c.Grace}, {"ping_timeout", c.PingTimeout}, {"settle", c.Settle}, {"linger", c.Linger}, {"first_stream_wait", c.FirstStreamWait}} {
		if err := idle.NonNegative("drain", f.name, f.v); err != nil {
			return err
		}
	}
	return nil
}

// GraceOrDefault returns Grace with its default applied.
func (c Config) GraceOrDefault() time.Duration {
	if c.Grace == 0 {
		return DefaultGrace
	}
	return c.Grace
}

// FirstStreamWaitOrDefault returns FirstStreamWait with its default applied.
func (c Config) FirstStreamWaitOrDefault() time.Duration {
	if c.FirstStreamWait == 0 {
		return DefaultFirstStreamWait
	}
	return c.FirstStreamWait
}

// Timing resolves the settings into a Sequence's timing. timeout derives the
// automatic ping timeout from a floor (see ping.Tracker.Timeout); nil means
// the floor alone.
func (c Config) Timing(timeout func(floor time.Duration) time.Duration) Timing {
	t := Timing{Grace: c.GraceOrDefault(), PingTimeout: c.PingTimeout, Settle: c.Settle, Linger: c.Linger}
	if t.PingTimeout == 0 {
		t.PingTimeout = DefaultPingTimeoutFloor
		if timeout != nil {
			t.PingTimeout = timeout(DefaultPingTimeoutFloor)
		}
	}
	t.PingTimeout = min(t.PingTimeout, t.Grace)
	if t.Settle == 0 {
		t.Settle = DefaultSettle
	}
	if t.Linger == 0 {
		t.Linger = DefaultLinger
	}
	return t
}
