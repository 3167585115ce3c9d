package lifecycle

import (
	"net/http"
	"reflect"
	"slices"

	"github.com/h2lifecycle/h2lifecycle/drain"
)

// Reset codes of per-stream deadlines.
//
// The HTTP/2 server enforces MaxStreamDuration and StreamIdleTimeout
// through its per-stream write deadline (streams_limits.go). When one
// passes, the server resets the stream with RST_STREAM(INTERNAL_ERROR): the
// code it also sends for a handler that panics. A stream cut by the policy
// is not an internal error, so with per-stream limits in the policy the tap
// sends that reset as CANCEL (RFC 9113 §7: the stream is no longer needed)
// and leaves a panic's INTERNAL_ERROR alone. To tell the two apart it needs
// [Supervisor.Handler] around the connection's handler: a panic is noted,
// with its stream, before the server writes its reset.

// Handler wraps h, the handler of the supervised connection, so that the
// tap can tell a handler's panic from a stream deadline (see above), and
// turns the CANCEL rewrite on: without it deadline resets keep the server's
// INTERNAL_ERROR, since panics could not be told apart. Call it before the
// connection is served. With no per-stream limit in the policy it returns
// h. It costs one deferred call per request, and nothing more unless the
// handler panics.
func (s *Supervisor) Handler(h http.Handler) http.Handler {
	if p := &s.set.Policy; p.MaxStreamDuration == 0 && p.StreamIdleTimeout == 0 {
		return h
	}
	s.cancelDeadlines = true
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		returned := false
		defer func() {
			// A panic or runtime.Goexit: the server resets the stream with
			// INTERNAL_ERROR, unless it has closed it already (a deadline,
			// the client's reset), which is when it cancels the context.
			if !returned && r.Context().Err() == nil {
				s.handlerPanicked(w)
			}
		}()
		h.ServeHTTP(w, r)
		returned = true
	})
}

// handlerPanicked notes the stream of a panicking handler, whose reset the
// server writes after this returns. A stream that cannot be identified
// turns the rewriting off for the connection: stock codes are better than
// wrong ones. A panic at the very instant of the stream's deadline may
// leave the deadline's reset as INTERNAL_ERROR.
func (s *Supervisor) handlerPanicked(w http.ResponseWriter) {
	id, ok := streamIDOf(w)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case !ok:
		s.keepResetCodes = true
	case s.streams.has(id):
		s.panicked = append(s.panicked, id)
	}
}

// serverReset notes the server's RST_STREAM on stream id, and reports
// whether its code, when INTERNAL_ERROR (internal), is a deadline's, to be
// sent as CANCEL. Called by the tap before it writes the frame.
func (s *Supervisor) serverReset(id uint32, internal bool) (cancel bool, act drain.Action) {
	s.mu.Lock()
	defer s.mu.Unlock()
	panicked := len(s.panicked) > 0 && s.forgetPanic(id)
	return internal && !s.keepResetCodes && !panicked, s.endStream(id, false)
}

// forgetPanic drops the mark of stream id, if it has one, and reports
// whether it had. Call with mu held.
func (s *Supervisor) forgetPanic(id uint32) bool {
	i := slices.Index(s.panicked, id)
	if i >= 0 {
		s.panicked = slices.Delete(s.panicked, i, i+1)
	}
	return i >= 0
}

// streamIDOf returns the id of the stream that w, the HTTP/2 server's own
// ResponseWriter, answers: x/net's *http2.responseWriter, or from Go 1.27
// net/http's one-field wrapper around the same type in net/http. Both keep
// it at rws.stream.id, and nothing exported carries it, so it is read with
// reflection (only when a handler panics). ok is false for any other shape.
func streamIDOf(w http.ResponseWriter) (id uint32, ok bool) {
	v := reflect.ValueOf(w)
	if v.Kind() == reflect.Struct && v.NumField() == 1 {
		v = v.Field(0) // net/http's wrapper (Go 1.27)
	}
	for _, name := range [...]string{"rws", "stream", "id"} {
		if v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return 0, false
			}
			v = v.Elem()
		}
		if v.Kind() != reflect.Struct {
			return 0, false
		}
		if v = v.FieldByName(name); !v.IsValid() {
			return 0, false
		}
	}
	if v.Kind() != reflect.Uint32 {
		return 0, false
	}
	return uint32(v.Uint()), true
}
