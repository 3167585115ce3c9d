package lifecycle

import (
	"net/http"
	"reflect"
	"slices"

	"github.com/h2lifecycle/h2lifecycle/drain"
	"github.com/h2lifecycle/h2lifecycle/internal/frame"
)

// Reset codes of per-stream deadlines.
//
// The HTTP/2 server enforces MaxStreamDuration and StreamIdleTimeout
// through its per-stream write deadline (streamwatch.go). When one
// passes, the server resets the stream with RST_STREAM(INTERNAL_ERROR): the
// code it also sends for a handler that panics. A stream cut by the policy
// is not an internal error, so with per-stream limits in the policy the tap
// sends that reset as CANCEL (RFC 9113 §7: the stream is no longer needed)
// and leaves a panic's INTERNAL_ERROR alone. To tell the two apart it needs
// [Supervisor.Handler] around the connection's handler: a panic is noted,
// with its stream, before the server writes its reset.
//
// The tap also gives the stock server's code to the reset of a stream it
// refused over the stream limit (limit.go): the server resets it with
// PROTOCOL_ERROR, which the stock server sends once the client has ACKed
// its SETTINGS; before, it sends REFUSED_STREAM, which tells the client the
// request is safe to retry (RFC 9113 §8.7: the client may not have seen the
// limit yet). Go's client sends requests before it reads the server's
// SETTINGS.

// streamMarks are the streams whose reset code the tap treats apart: rare,
// so kept out of line.
type streamMarks struct {
	panicked []uint32 // the handler panicked, the reset is not yet written: INTERNAL_ERROR stays
	refused  []uint32 // refused before the client ACKed the server's SETTINGS: REFUSED_STREAM

	// Refused by the tap, the server's reset not yet written. The server
	// made a stream of each (the refusal is its self-dependency check,
	// fact 15) and ignores HEADERS on it until that reset is out, where the
	// stock server, which refuses before it makes the stream, answers
	// HEADERS again on a refused id with a connection error
	// (FuzzDifferential b7c4088e3544f2cb): the tap gives that error itself
	// (evIsOpen).
	resetting []uint32
}

// marked returns the marks, made on first use. Call with mu held.
func (s *Supervisor) marked() *streamMarks {
	if s.marks == nil {
		s.marks = new(streamMarks)
	}
	return s.marks
}

// unmark removes id from ids and reports whether it was there.
func unmark(ids *[]uint32, id uint32) bool {
	i := slices.Index(*ids, id)
	if i >= 0 {
		*ids = slices.Delete(*ids, i, i+1)
	}
	return i >= 0
}

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
		m := s.marked()
		m.panicked = append(m.panicked, id)
	}
}

// serverReset notes the server's RST_STREAM on stream id with code, and
// returns the code to send instead, if any (inWrite: the code is in the
// write under way, so it can be changed). Called by the tap before it
// writes the frame.
func (s *Supervisor) serverReset(id uint32, code frame.ErrCode, inWrite bool) (verdict, drain.Action) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var v verdict
	panicked := false
	if m := s.marks; m != nil {
		panicked = unmark(&m.panicked, id)
		if unmark(&m.refused, id) && code == frame.ErrCodeProtocol && inWrite {
			v = vRefused
		}
		unmark(&m.resetting, id)
	}
	if code == frame.ErrCodeInternal && inWrite && s.cancelDeadlines && !s.keepResetCodes && !panicked {
		v = vCancel
	}
	return v, s.streamReset(id)
}

// forgetPanic drops the mark of stream id, if it has one. Call with mu
// held.
func (s *Supervisor) forgetPanic(id uint32) {
	if s.marks != nil {
		unmark(&s.marks.panicked, id)
	}
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
