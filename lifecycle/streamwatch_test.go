package lifecycle

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// wrapper is a middleware's ResponseWriter that follows the Unwrap convention.
type wrapper struct{ http.ResponseWriter }

func (w wrapper) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func TestWrapStreamsKeepsInterfaces(t *testing.T) {
	var seen http.ResponseWriter
	h := WrapStreams(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = w }), StreamOptions{IdleTimeout: time.Second})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if _, ok := seen.(http.Flusher); !ok {
		t.Error("not an http.Flusher")
	}
	if _, ok := seen.(http.Pusher); !ok {
		t.Error("not an http.Pusher")
	}
	if _, ok := seen.(io.StringWriter); !ok {
		t.Error("not an io.StringWriter")
	}
	if u, ok := seen.(interface{ Unwrap() http.ResponseWriter }); !ok || u.Unwrap() != rec {
		t.Error("Unwrap does not give the server's ResponseWriter")
	}
	if findWatch(wrapper{wrapper{seen}}) == nil {
		t.Error("findWatch does not look through middleware wrappers")
	}
}

func TestWrapStreamsOffIsTheHandler(t *testing.T) {
	h := http.NotFoundHandler()
	if got := WrapStreams(h, StreamOptions{MaxDuration: time.Minute}); got == nil || findWatch(httptest.NewRecorder()) != nil {
		t.Fatal("WrapStreams with no idle timeout")
	}
}

func TestExtendStreamWithoutDeadlines(t *testing.T) {
	// A ResponseWriter without per-stream deadlines (not HTTP/2) says so.
	if err := ExtendStream(httptest.NewRecorder(), time.Minute); !errors.Is(err, ErrNoStream) {
		t.Errorf("ExtendStream on a recorder: %v", err)
	}
	if err := LiftStreamLimits(httptest.NewRecorder()); !errors.Is(err, ErrNoStream) {
		t.Errorf("LiftStreamLimits on a recorder: %v", err)
	}
}

// TestHoldHeaderFlushAllocs measures what HoldHeaderFlush costs a request
// (README, BENCHMARKS.md): one allocation, the wrapper, when the handler
// writes its body at once; a flush held before the body adds its timer.
func TestHoldHeaderFlushAllocs(t *testing.T) {
	body := []byte("ok")
	for _, tc := range []struct {
		name  string
		flush bool
		want  float64
	}{{"body at once", false, 1}, {"flush held, then body", true, 3}} {
		h := WrapStreams(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if tc.flush {
				w.(http.Flusher).Flush()
			}
			w.Write(body)
		}), StreamOptions{HoldHeaderFlush: time.Minute})
		w, r := httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil)
		w.Body = nil // the recorder's own buffer is not the wrapper's cost
		if got := testing.AllocsPerRun(100, func() { h.ServeHTTP(w, r) }); got != tc.want {
			t.Errorf("%s: %v allocations per request, want %v", tc.name, got, tc.want)
		}
	}
}
