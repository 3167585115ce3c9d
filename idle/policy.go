package idle

import (
	"time"

	"github.com/h2lifecycle/h2lifecycle/ping"
)

// Policy is the connection policy. The zero value imposes no limit; every
// field states its default and its range. Each limit ends a connection with
// the same two-phase drain, except where the connection cannot carry one
// (noted).
type Policy struct {
	// IdleTimeout drains a connection that has had no open stream for this
	// long (reason "idle"). Idleness is the HTTP/2 server's own view of the
	// connection. Zero means none; package server then applies
	// http.Server.IdleTimeout (or ReadTimeout), as net/http would.
	IdleTimeout time.Duration

	// MaxConnectionAge drains a connection this old (reason "max_age"),
	// with ±10% jitter so that connections made together do not all end —
	// and reconnect — together. Zero means no limit.
	MaxConnectionAge time.Duration

	// MaxConnectionAgeGrace is the grace deadline of a max_age drain. Zero
	// means the drain's default grace (drain.Config.Grace).
	MaxConnectionAgeGrace time.Duration

	// MaxStreamsPerConnection drains a connection once it has carried this
	// many streams (reason "max_streams"), rotating peers across
	// connections. The stream that reaches the limit, and any crossing the
	// first GOAWAY, are served. Zero means no limit.
	MaxStreamsPerConnection int

	// HeaderTimeout bounds how long a peer may take to send the client
	// preface and its first SETTINGS after the connection starts, and to
	// complete each header block (HEADERS … CONTINUATION). Past it the
	// connection is closed (preface) or the stream is reset with
	// RST_STREAM(CANCEL) — and, since an incomplete header block stops the
	// whole connection (RFC 9113 §6.10), the connection ends too, with
	// GOAWAY. A connection that opens no stream is governed by IdleTimeout.
	// Zero means none.
	HeaderTimeout time.Duration

	// MaxStreamDuration resets a stream older than this with
	// RST_STREAM(CANCEL) and cancels its handler's context, through the
	// HTTP/2 server's per-stream write deadline (whose resets, such as
	// http.Server.WriteTimeout's, then also say CANCEL; a handler's panic
	// keeps INTERNAL_ERROR; for a lifecycle.Supervisor used directly, once
	// its Handler wraps the connection's handler). A handler may extend or lift it for its own
	// stream with lifecycle.ExtendStream and lifecycle.LiftStreamLimits.
	// Zero means none.
	MaxStreamDuration time.Duration

	// StreamIdleTimeout resets, the same way, a stream whose request body
	// was not read and whose response was not written for this long.
	// Enabling it wraps each handler's ResponseWriter and request Body (one
	// small allocation per request). Zero means none.
	StreamIdleTimeout time.Duration

	// KeepaliveInterval makes the server PING a connection from which it
	// has read nothing for this long; KeepaliveTimeout later without the
	// ACK, the connection is considered dead and closed (reason
	// "keepalive_timeout"). Zero means no keepalive; values below 1s are
	// raised to 1s (MinKeepaliveInterval), as grpc-go and Kestrel do.
	KeepaliveInterval time.Duration

	// KeepaliveTimeout is how long a keepalive PING waits for its ACK. Zero
	// means 20s.
	KeepaliveTimeout time.Duration

	// PingMinInterval enforces a minimum interval between the client's
	// PINGs: closer ones are strikes, and more than PingMaxStrikes strikes
	// end the connection with GOAWAY(ENHANCE_YOUR_CALM, "too_many_pings").
	// The server sending data resets the count. Zero means no enforcement.
	PingMinInterval time.Duration

	// PingPermitWithoutStream allows client PINGs on a connection with no
	// open stream; without it, with enforcement on, such PINGs closer than
	// two hours apart are strikes (as in grpc-go).
	PingPermitWithoutStream bool

	// PingMaxStrikes is how many strikes are forgiven. Zero means 2.
	PingMaxStrikes int
}

// MinKeepaliveInterval is the shortest KeepaliveInterval: a shorter one is
// raised to it. Without a floor a 1 ns interval made the server PING
// without pause, thousands of times during one request.
const MinKeepaliveInterval = time.Second

// Validate reports the first setting that is out of range, as a
// *SettingError naming it as the configuration files do.
func (p Policy) Validate() error {
	for _, f := range p.fields() {
		if err := f.check(); err != nil {
			return err
		}
	}
	return nil
}

// KeepaliveTimeoutOrDefault returns KeepaliveTimeout with its default.
func (p Policy) KeepaliveTimeoutOrDefault() time.Duration {
	if p.KeepaliveTimeout == 0 {
		return ping.DefaultKeepaliveTimeout
	}
	return p.KeepaliveTimeout
}

// Enforcer returns the PING enforcer the policy describes.
func (p Policy) Enforcer() ping.Enforcer {
	return ping.NewEnforcer(p.PingMinInterval, p.PingPermitWithoutStream, p.PingMaxStrikes)
}
