package experiment

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
)

// Cause is the family of a failed request's error.
type Cause uint8

// The causes, in the order Classify tests them: the first that matches wins.
const (
	// CauseCannotRetry: the client had to replay a request whose body it
	// cannot replay, typically because a GOAWAY's last-stream-id was below
	// its stream: "http2: Transport: cannot retry err [...] after
	// Request.Body was written", or Go 1.27's "net/http: cannot rewind
	// body after connection loss".
	CauseCannotRetry Cause = iota
	// CauseGoAwayClosed: the server sent GOAWAY and closed the connection
	// while the stream was still open ("http2: server sent GOAWAY and
	// closed the connection; LastStreamID=...").
	CauseGoAwayClosed
	CauseReset      // connection reset by peer (ECONNRESET)
	CauseBrokenPipe // broken pipe (EPIPE)
	CauseEOF        // EOF or unexpected EOF
	CauseRefused    // connection refused while the listener was meant to be open
	CauseTimeout    // the request's deadline passed
	CauseStatus     // an answer other than 200 "ok"
	CauseOther
	numCauses
)

var causeNames = [...]string{"cannot retry after body written", "GOAWAY and closed", "connection reset",
	"broken pipe", "EOF", "connection refused", "timeout", "bad status", "other"}

func (c Cause) String() string {
	if int(c) < len(causeNames) {
		return causeNames[c]
	}
	return "invalid"
}

// Causes lists every cause, in order.
func Causes() []Cause {
	cs := make([]Cause, numCauses)
	for i := range cs {
		cs[i] = Cause(i)
	}
	return cs
}

// Classify returns the family of a request's error. The client wraps errors
// in strings as often as with %w ("cannot retry err [%v]"), so the outermost
// message decides first, then the chain.
func Classify(err error) Cause {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "cannot retry"), strings.Contains(msg, "cannot rewind body"):
		return CauseCannotRetry
	case strings.Contains(msg, "server sent GOAWAY and closed the connection"):
		return CauseGoAwayClosed
	case errors.Is(err, syscall.ECONNRESET) || strings.Contains(msg, "connection reset by peer"):
		return CauseReset
	case errors.Is(err, syscall.EPIPE) || strings.Contains(msg, "broken pipe"):
		return CauseBrokenPipe
	case errors.Is(err, syscall.ECONNREFUSED) || strings.Contains(msg, "connection refused"):
		return CauseRefused
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || isTimeout(err):
		return CauseTimeout
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || strings.HasSuffix(msg, "EOF"):
		return CauseEOF
	case errors.Is(err, errBadAnswer):
		return CauseStatus
	}
	return CauseOther
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

var errBadAnswer = errors.New("experiment: answer is not 200 ok")

// Counts are the outcomes of the requests of a load.
//
// What "failed" means — the rule behind every "0 failures" claim: a request
// fails when it does not end with 200 and the body "ok", for any reason,
// with three exceptions, counted apart and always reported:
//
//   - ListenerClosed: a shutdown had begun before the request failed, and
//     it never reached a server: its dial failed, or the connection it was
//     sent on never received a single byte from the server (it was still in
//     the kernel's accept queue when the listener closed, and the kernel
//     reset it). It failed because the server stopped accepting
//     connections — which is what shutting down means — not because of how
//     the server ended the connections it served; a real client would be
//     sent to another instance. In the idle race the listener stays open
//     and this never applies.
//   - NotSent: the client was handed a connection for the request but
//     failed the request without writing its HEADERS (httptrace's
//     WroteHeaders never fired). No server saw it; the client gave up on
//     its own after learning that the connection was going away. Go 1.27's
//     client does this to requests with bodies it cannot rewind when any
//     GOAWAY arrives, even GOAWAY(2^31-1), failing them with "net/http:
//     cannot rewind body after connection loss"; x/net's own client (Go
//     1.26) retries them on a new connection. No server can prevent it,
//     exactly like the nghttp2 clients that cancel their queued requests on
//     any GOAWAY (DESIGN.md, rule 10).
//   - OpenedAfterGoAway: the client wrote the request's HEADERS after it
//     had taken in a GOAWAY on that connection, which RFC 9113 §6.8 forbids
//     ("Receivers of a GOAWAY frame MUST NOT open additional streams"): the
//     client had already written a PING ACK after receiving the GOAWAY when
//     its trace's WroteHeaders fired, and its read loop handles frames in
//     order, so the GOAWAY was taken in before. x/net's client does this
//     when it allocated the stream's id just before the GOAWAY arrived and
//     writes its HEADERS late (TestClientOpensStreamAfterGoAway), rarely,
//     under CPU contention. The stream lands above the final GOAWAY's
//     last-stream-id, which the server must not process; a GET is replayed,
//     a POST fails. A HEADERS merely flushed after the ACK but encoded
//     before it is not in this count: the rule can only leave a failure
//     counted, never excuse one it cannot prove.
//
// Every other failure counts, whatever its cause, including requests whose
// HEADERS the client wrote on connections the server had served.
type Counts struct {
	Requests int // requests started
	OK       int // answered 200 "ok"
	Gets     int
	Posts    int // with a body that cannot be replayed

	Failed      int // every failure but the three exceptions; the sum of ByCause
	FailedGets  int
	FailedPosts int
	ByCause     [numCauses]int
	// Examples holds the first error message seen for each cause.
	Examples [numCauses]string

	// ListenerClosed counts the requests that failed only because a
	// shutdown had closed the listener (see the type's comment); they are
	// not failures.
	ListenerClosed int

	// NotSent counts the requests the client failed before writing them
	// (see the type's comment); they are not failures.
	NotSent        int
	NotSentExample string

	// OpenedAfterGoAway counts the requests that failed after the client
	// opened their stream on a connection whose GOAWAY it had taken in (see
	// the type's comment); they are not failures.
	OpenedAfterGoAway        int
	OpenedAfterGoAwayExample string

	// Replayed counts requests the client sent on more than one
	// connection: it retried them on its own (GETs refused by a GOAWAY, say).
	Replayed int
}

// Add adds o to c.
func (c *Counts) Add(o Counts) {
	c.Requests += o.Requests
	c.OK += o.OK
	c.Gets += o.Gets
	c.Posts += o.Posts
	c.Failed += o.Failed
	c.FailedGets += o.FailedGets
	c.FailedPosts += o.FailedPosts
	for i := range c.ByCause {
		c.ByCause[i] += o.ByCause[i]
		if c.Examples[i] == "" {
			c.Examples[i] = o.Examples[i]
		}
	}
	c.ListenerClosed += o.ListenerClosed
	c.NotSent += o.NotSent
	if c.NotSentExample == "" {
		c.NotSentExample = o.NotSentExample
	}
	c.OpenedAfterGoAway += o.OpenedAfterGoAway
	if c.OpenedAfterGoAwayExample == "" {
		c.OpenedAfterGoAwayExample = o.OpenedAfterGoAwayExample
	}
	c.Replayed += o.Replayed
}

// String summarizes the counts on one line.
func (c Counts) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d requests (%d GET, %d POST), %d ok, %d failed", c.Requests, c.Gets, c.Posts, c.OK, c.Failed)
	if c.Failed > 0 {
		b.WriteString(" [")
		first := true
		for i, n := range c.ByCause {
			if n == 0 {
				continue
			}
			if !first {
				b.WriteString(", ")
			}
			first = false
			fmt.Fprintf(&b, "%v: %d", Cause(i), n)
		}
		b.WriteString("]")
	}
	fmt.Fprintf(&b, "; not failures: %d listener closed, %d not sent by the client, %d opened by the client after it took in a GOAWAY; %d replayed by the client",
		c.ListenerClosed, c.NotSent, c.OpenedAfterGoAway, c.Replayed)
	return b.String()
}
