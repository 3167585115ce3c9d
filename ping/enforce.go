package ping

import "time"

// Enforcer applies a policy against PING floods to one connection's client
// PINGs, in the manner of grpc-go's keepalive enforcement: a PING that comes
// too soon after the previous one is a strike; more than maxStrikes strikes
// and the connection must end with GOAWAY(ENHANCE_YOUR_CALM, "too_many_pings")
// (RFC 9113 §5.4.1 allows treating abuse as a connection error). The server
// sending response data resets the count: a peer that keeps a busy
// connection alive is not abusing it. The zero Enforcer enforces nothing.
type Enforcer struct {
	minInterval    time.Duration // zero: no enforcement
	withoutStreams bool          // PINGs while no stream is open are allowed
	maxStrikes     int

	last    time.Time
	strikes int
	reset   bool
}

// IdlePingInterval is how far apart PINGs must be on a connection with no
// open stream, unless such PINGs are permitted: a client keeps an idle
// connection alive with a PING every few minutes at most.
const IdlePingInterval = 2 * time.Hour

// NewEnforcer returns an enforcer. minInterval zero disables enforcement;
// maxStrikes zero means 2.
func NewEnforcer(minInterval time.Duration, permitWithoutStream bool, maxStrikes int) Enforcer {
	if maxStrikes == 0 {
		maxStrikes = 2
	}
	return Enforcer{minInterval: minInterval, withoutStreams: permitWithoutStream, maxStrikes: maxStrikes}
}

// Enabled reports whether the enforcer enforces anything.
func (e *Enforcer) Enabled() bool { return e.minInterval > 0 }

// Ping records a client PING received at now while openStreams were open
// and reports whether the connection has now broken the policy.
func (e *Enforcer) Ping(now time.Time, openStreams int) (violation bool) {
	if !e.Enabled() {
		return false
	}
	last := e.last
	e.last = now
	if e.reset {
		e.reset, e.strikes = false, 0
		return false
	}
	min := e.minInterval
	if openStreams == 0 && !e.withoutStreams {
		min = max(min, IdlePingInterval)
	}
	if !last.IsZero() && now.Sub(last) < min {
		e.strikes++
	}
	return e.strikes > e.maxStrikes
}

// DataSent records that the server sent response headers or data.
func (e *Enforcer) DataSent() { e.reset = true }

// Strikes returns the current number of strikes.
func (e *Enforcer) Strikes() int { return e.strikes }
