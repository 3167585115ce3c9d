package lifecycle

import (
	"context"

	"github.com/h2lifecycle/h2lifecycle/drain"
)

// The drain notice: how a handler learns that its connection began to end,
// so that a long-lived stream (Server-Sent Events, a gRPC server stream, a
// long poll, a streamed download) can finish at a point of its choosing
// before the grace deadline cuts it.
//
// The supervisor is found through the request's context: package server
// builds every connection's base context with [Supervisor.Context], and the
// HTTP/2 server derives each request's context from it. Nothing is added
// per request; the channel is made when a handler first asks, once per
// connection.

// supervisorKey is the context key under which Supervisor.Context's context
// answers with its supervisor.
type supervisorKey struct{}

// connContext is the base context of a supervised connection's requests:
// parent, plus its supervisor under supervisorKey. A type of its own rather
// than context.WithValue: 24 bytes a connection instead of 48.
type connContext struct {
	context.Context
	s *Supervisor
}

func (c *connContext) Value(key any) any {
	if key == (supervisorKey{}) {
		return c.s
	}
	return c.Context.Value(key)
}

// Context returns parent with s in it, for the base context of the
// connection's requests: [DrainNotice] finds s there. It costs one 24-byte
// allocation, once per connection; cancellation and every other value are
// parent's.
func (s *Supervisor) Context(parent context.Context) context.Context {
	return &connContext{Context: parent, s: s}
}

// DrainNotice returns a channel that is closed when the supervised HTTP/2
// connection carrying the request of ctx (a request's r.Context(), or a
// context derived from it, such as a gRPC stream's) begins to end:
//
//   - when the supervisor has queued its GOAWAY(2^31-1)+PING (phase 1 of a
//     drain, whatever its reason: shutdown, idle, max age, ...); the
//     GOAWAY goes out ahead of any frame the server writes afterwards, so
//     a response the handler ends on the notice ends after it on the wire,
//     and the client opens its next request elsewhere;
//   - when the connection starts ending without that notice: the HTTP/2
//     server's own GOAWAY, the client's GOAWAY, or an abort with an error
//     GOAWAY (a protocol error, a PING flood, an incomplete header block);
//   - at the latest when the connection is closed.
//
// In every case the stream is still served until the grace deadline (an
// abort's streams are cut at once: their contexts are cancelled as well).
// A drain that waits for the connection's first stream
// (drain.Config.FirstStreamWait) closes it when it starts.
//
// DrainNotice returns nil, a channel that never closes, when ctx does not
// come from a supervised HTTP/2 connection: an HTTP/1.1 request, an HTTP/2
// connection not under supervision. A handler selects on it together with
// r.Context().Done().
//
// It costs nothing to handlers that never call it. The first call on a
// connection allocates the channel (shared by all the connection's
// streams); later calls allocate nothing.
func DrainNotice(ctx context.Context) <-chan struct{} {
	s, _ := ctx.Value(supervisorKey{}).(*Supervisor)
	if s == nil {
		return nil
	}
	return s.drainNotice()
}

// drainNotice returns the connection's notice channel, made on first use:
// closed already if the connection has begun to end.
func (s *Supervisor) drainNotice() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.notice == nil {
		if s.closed || s.phase() != drain.Active {
			s.notice = closedChan
		} else {
			s.notice = make(chan struct{})
		}
	}
	return s.notice
}

// announce closes the notice channel, if a handler asked for it, and makes
// later callers get a closed one. Call with mu held.
func (s *Supervisor) announce() {
	if s.notice == nil {
		return // nobody asked: drainNotice sees the phase
	}
	if s.notice != closedChan {
		close(s.notice)
		s.notice = closedChan
	}
}
