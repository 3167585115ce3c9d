package lifecycle

import (
	"errors"
	"io"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Per-stream limits (idle.Policy.MaxStreamDuration, StreamIdleTimeout) are
// enforced through the HTTP/2 server's own per-stream write deadline: when
// it passes, the server resets the stream and cancels the handler's
// context. The server's reset says INTERNAL_ERROR, as for
// http.Server.WriteTimeout; the supervisor's tap sends it as CANCEL
// (deadlines.go).
// MaxStreamDuration alone allocates nothing per request: package server sets
// it as the write timeout of the server that serves the connection, and
// Supervisor.Handler adds one deferred call (TestHandlerCost).
// StreamIdleTimeout needs to see activity, so WrapStreams wraps the
// handler's ResponseWriter and request Body.

// ErrNoStream is returned by ExtendStream and LiftStreamLimits for a
// ResponseWriter that does not belong to an HTTP/2 stream with deadlines.
var ErrNoStream = errors.New("lifecycle: the ResponseWriter has no stream deadline to change")

// ExtendStream lets the stream answered by w run for d from now, and stay
// idle up to d at a time, whatever the connection's MaxStreamDuration,
// StreamIdleTimeout and http.Server.WriteTimeout say. A handler uses it for
// a request that has earned more time, such as an authenticated upload.
func ExtendStream(w http.ResponseWriter, d time.Duration) error {
	if sw := findWatch(w); sw != nil {
		return sw.extend(time.Now().Add(d), d)
	}
	return setWriteDeadline(w, time.Now().Add(d))
}

// LiftStreamLimits removes the stream limits of the stream answered by w:
// MaxStreamDuration, StreamIdleTimeout and http.Server.WriteTimeout.
func LiftStreamLimits(w http.ResponseWriter) error {
	if sw := findWatch(w); sw != nil {
		return sw.extend(time.Time{}, 0)
	}
	return setWriteDeadline(w, time.Time{})
}

func setWriteDeadline(w http.ResponseWriter, t time.Time) error {
	if err := http.NewResponseController(w).SetWriteDeadline(t); err != nil {
		return errors.Join(ErrNoStream, err)
	}
	return nil
}

// findWatch finds the streamWatch in w's Unwrap chain.
func findWatch(w http.ResponseWriter) *streamWatch {
	for range 32 {
		switch v := w.(type) {
		case *streamWatch:
			return v
		case interface{ Unwrap() http.ResponseWriter }:
			w = v.Unwrap()
		default:
			return nil
		}
	}
	return nil
}

// StreamOptions are per-stream behaviours that need to see a handler's
// writes: package server builds them from idle.Policy and server.Config.
type StreamOptions struct {
	// IdleTimeout resets a stream whose request body is not read and whose
	// response is not written for this long. Zero: none.
	IdleTimeout time.Duration

	// MaxDuration, with IdleTimeout, is the time a stream may run at most
	// (the server's own write timeout enforces it alone). Zero: none.
	MaxDuration time.Duration

	// HoldHeaderFlush holds a Flush that comes before any body byte for up
	// to this long. If the handler returns meanwhile, the response ends on
	// its HEADERS frame (END_STREAM on HEADERS) instead of HEADERS and an
	// empty DATA(END_STREAM), which gRPC clients reject ("server closed the
	// stream without sending trailers"; httputil.ReverseProxy flushes from a
	// timer goroutine that races the handler's return). If it writes body
	// data, headers and data go out together, at once. If the hold runs out
	// first and the handler then returns without a body, a gRPC status in
	// the headers is repeated as trailers, so the stream still ends in a way
	// gRPC clients accept. Zero: none.
	HoldHeaderFlush time.Duration
}

func (o StreamOptions) enabled() bool { return o.IdleTimeout > 0 || o.HoldHeaderFlush > 0 }

// WrapStreams wraps h with the per-stream behaviours of o; with none
// enabled it returns h. Handlers keep every optional interface of the
// ResponseWriter through Unwrap (http.ResponseController) and directly for
// http.Flusher, http.Pusher and io.StringWriter. The wrapper costs one
// small allocation per request.
func WrapStreams(h http.Handler, o StreamOptions) http.Handler {
	if !o.enabled() {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		sw := &streamWatch{ResponseWriter: w, idle: o.IdleTimeout, hold: o.HoldHeaderFlush}
		if o.MaxDuration > 0 && o.IdleTimeout > 0 {
			if hard := addNanos(now.UnixNano(), o.MaxDuration); hard != noDeadline {
				sw.hard = hard // a huge MaxDuration means none
			}
		}
		if o.IdleTimeout > 0 && r.Body != nil && r.Body != http.NoBody {
			sw.body.ReadCloser, sw.body.sw = r.Body, sw
			r.Body = &sw.body
		}
		sw.touch(now)
		defer sw.finish()
		h.ServeHTTP(sw, r)
	})
}

// streamWatch is a ResponseWriter whose stream's write deadline follows its
// activity.
type streamWatch struct {
	http.ResponseWriter
	body watchedBody
	idle time.Duration
	hold time.Duration

	mu       sync.Mutex // orders deadline changes; serializes writes while a flush is held
	hard     int64      // unix ns the stream may not outlive; 0 if none
	deadline atomic.Int64
	lifted   atomic.Bool
	done     atomic.Bool // the handler returned: the stream is gone

	// HoldHeaderFlush, under mu.
	wroteBody bool
	held      bool
	released  bool // the hold ran out and the headers went without END_STREAM
	holdTimer *time.Timer
}

const noDeadline = math.MaxInt64

// addNanos is ns+d in Unix nanoseconds, saturating at noDeadline: a huge d
// means no deadline, never one in the past.
func addNanos(ns int64, d time.Duration) int64 {
	if d > 0 && ns > noDeadline-int64(d) {
		return noDeadline
	}
	return ns + int64(d)
}

// unixNanos is t in Unix nanoseconds, noDeadline past what an int64 holds.
func unixNanos(t time.Time) int64 {
	if t.After(time.Unix(0, noDeadline)) {
		return noDeadline
	}
	return t.UnixNano()
}

// touch notes activity at now, moving the deadline when less than half the
// idle period is left: at most about two deadline changes per idle period.
func (sw *streamWatch) touch(now time.Time) {
	if sw.idle <= 0 || sw.lifted.Load() || sw.done.Load() {
		return
	}
	ns := now.UnixNano()
	if d := sw.deadline.Load(); d-ns > int64(sw.idle)/2 || (sw.hard != 0 && d == sw.hard) {
		return
	}
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if sw.lifted.Load() {
		return
	}
	next := addNanos(ns, sw.idle)
	if sw.hard != 0 && sw.hard < next {
		next = sw.hard
	}
	if next <= sw.deadline.Load() {
		return
	}
	sw.deadline.Store(next)
	http.NewResponseController(sw.ResponseWriter).SetWriteDeadline(time.Unix(0, next))
}

// extend replaces the limits: until (zero: none) and an idle period.
func (sw *streamWatch) extend(until time.Time, idle time.Duration) error {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if until.IsZero() {
		sw.lifted.Store(true)
		sw.deadline.Store(noDeadline)
		return setWriteDeadline(sw.ResponseWriter, time.Time{})
	}
	sw.idle, sw.hard = idle, unixNanos(until)
	sw.deadline.Store(sw.hard)
	return setWriteDeadline(sw.ResponseWriter, until)
}

func (sw *streamWatch) Write(p []byte) (int, error) {
	sw.touch(time.Now())
	if sw.hold <= 0 {
		return sw.ResponseWriter.Write(p)
	}
	sw.mu.Lock()
	defer sw.mu.Unlock()
	n, err := sw.ResponseWriter.Write(p)
	sw.bodyWrittenLocked(n)
	return n, err
}

func (sw *streamWatch) WriteString(s string) (int, error) {
	sw.touch(time.Now())
	if sw.hold <= 0 {
		return io.WriteString(sw.ResponseWriter, s)
	}
	sw.mu.Lock()
	defer sw.mu.Unlock()
	n, err := io.WriteString(sw.ResponseWriter, s)
	sw.bodyWrittenLocked(n)
	return n, err
}

// bodyWrittenLocked notes body bytes; a held flush goes out with them.
func (sw *streamWatch) bodyWrittenLocked(n int) {
	if n == 0 || sw.wroteBody {
		return
	}
	sw.wroteBody = true
	if sw.held {
		sw.releaseLocked()
	}
}

func (sw *streamWatch) Flush() { sw.FlushError() }

func (sw *streamWatch) FlushError() error {
	sw.touch(time.Now())
	if sw.hold <= 0 {
		return http.NewResponseController(sw.ResponseWriter).Flush()
	}
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if !sw.wroteBody {
		// Headers alone: hold them, in case the handler is about to return
		// with no body, so that the stream can end on its HEADERS frame.
		if !sw.held {
			sw.held = true
			sw.holdTimer = time.AfterFunc(sw.hold, sw.holdExpired)
		}
		return nil
	}
	return http.NewResponseController(sw.ResponseWriter).Flush()
}

// holdExpired sends a held flush: the handler neither wrote nor returned in
// time (a stream that sends its headers and waits, such as SSE).
func (sw *streamWatch) holdExpired() {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if sw.held && !sw.done.Load() {
		sw.released = true
		sw.releaseLocked()
	}
}

func (sw *streamWatch) releaseLocked() {
	sw.held = false
	sw.holdTimer.Stop()
	http.NewResponseController(sw.ResponseWriter).Flush()
}

// finish runs when the handler returns: a held flush is dropped, and the
// server ends the stream with whatever was written.
func (sw *streamWatch) finish() {
	if sw.hold <= 0 {
		sw.done.Store(true)
		return
	}
	sw.mu.Lock()
	defer sw.mu.Unlock()
	sw.done.Store(true)
	if sw.held {
		sw.held = false
		sw.holdTimer.Stop()
	}
	if sw.released && !sw.wroteBody {
		sw.statusAsTrailers()
	}
}

// grpcStatusFields are the fields of a gRPC status (gRPC over HTTP/2,
// "Trailers-Only" responses carry them in the headers).
var grpcStatusFields = [...]string{"Grpc-Status", "Grpc-Message", "Grpc-Status-Details-Bin"}

// statusAsTrailers repeats a gRPC status sent in headers that went out
// without END_STREAM (the hold ran out) as trailers, so that the stream ends
// on a trailers HEADERS frame, which gRPC clients accept, rather than on an
// empty DATA(END_STREAM), which they reject.
func (sw *streamWatch) statusAsTrailers() {
	h := sw.ResponseWriter.Header()
	if h.Get("Grpc-Status") == "" {
		return
	}
	for _, k := range grpcStatusFields {
		if v := h.Values(k); len(v) > 0 {
			h[http.TrailerPrefix+k] = v
		}
	}
}

func (sw *streamWatch) Push(target string, opts *http.PushOptions) error {
	if p, ok := sw.ResponseWriter.(http.Pusher); ok {
		return p.Push(target, opts)
	}
	return http.ErrNotSupported
}

// CloseNotify forwards the deprecated http.CloseNotifier of the server's
// ResponseWriter, which x/net implements.
func (sw *streamWatch) CloseNotify() <-chan bool {
	if cn, ok := sw.ResponseWriter.(http.CloseNotifier); ok {
		return cn.CloseNotify()
	}
	return make(chan bool)
}

// Unwrap gives http.ResponseController the server's ResponseWriter.
func (sw *streamWatch) Unwrap() http.ResponseWriter { return sw.ResponseWriter }

// watchedBody is a request body whose reads count as activity.
type watchedBody struct {
	io.ReadCloser
	sw *streamWatch
}

func (b *watchedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.sw.touch(time.Now())
	}
	return n, err
}
