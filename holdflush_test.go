package h2lifecycle_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/net/http2"

	"github.com/h2lifecycle/h2lifecycle/internal/h2test"
	"github.com/h2lifecycle/h2lifecycle/server"
)

// TestHoldHeaderFlush: a handler that flushes its headers and returns with
// no body ends the stream on its HEADERS frame when HoldHeaderFlush is set
// (and with HEADERS + empty DATA(END_STREAM) when not, x/net's behaviour,
// golang/go#56317). A stream that writes data right after its flush is not
// delayed; one that flushes and waits gets its headers after the hold.
func TestHoldHeaderFlush(t *testing.T) {
	const hold = 5 * time.Millisecond
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("grpc-status", "5")
		w.WriteHeader(200)
		http.NewResponseController(w).Flush()
		switch r.URL.Path {
		case "/stream":
			w.Write([]byte("data"))
			http.NewResponseController(w).Flush()
			h2test.Advance(time.Second) // fake time: served only in the bubbles below
		case "/sse":
			h2test.Advance(time.Second) // fake time, as above
			w.Write([]byte("event"))
		}
	})
	frames := func(t *testing.T, b *subject, path string) (string, time.Duration) {
		c := b.client()
		c.Handshake()
		start := time.Now()
		c.WriteHeaders(1, true, ":path", path)
		var out []string
		var first time.Duration
		c.ReadUntil(func(f http2.Frame) bool {
			if f.Header().StreamID != 1 {
				return false
			}
			if len(out) == 0 {
				first = time.Since(start)
			}
			h := f.Header()
			out = append(out, fmt.Sprintf("%v(len=%d,end=%v)", h.Type, h.Length, h.Flags.Has(http2.FlagDataEndStream)))
			return h.Flags.Has(http2.FlagDataEndStream)
		})
		return strings.Join(out, " "), first
	}
	for _, tc := range []struct {
		hold  time.Duration
		path  string
		want  string
		first time.Duration
	}{
		{0, "/empty", "HEADERS(len=*,end=false) DATA(len=0,end=true)", 0},
		{hold, "/empty", "HEADERS(len=*,end=true)", 0},
		{hold, "/stream", "HEADERS(len=*,end=false) DATA(len=4,end=false) DATA(len=0,end=true)", 0},
		{hold, "/sse", "HEADERS(len=*,end=false) DATA(len=5,end=true)", hold},
	} {
		t.Run(fmt.Sprintf("hold=%v%s", tc.hold, tc.path), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := startSubject(t, &http.Server{Handler: h}, setup{bubble: true, cfg: server.Config{HoldHeaderFlush: tc.hold}})
				got, first := frames(t, b, tc.path)
				got = maskHeaderLen(got)
				if got != tc.want || first != tc.first {
					t.Errorf("frames %s after %v\nwant   %s after %v", got, first, tc.want, tc.first)
				}
				b.stop()
			})
		})
	}
}

func maskHeaderLen(s string) string {
	var out []string
	for _, f := range strings.Fields(s) {
		if strings.HasPrefix(f, "HEADERS(len=") {
			f = "HEADERS(len=*," + f[strings.Index(f, ",")+1:]
		}
		out = append(out, f)
	}
	return strings.Join(out, " ")
}

// TestHoldHeaderFlushRunsOut: when the hold runs out before a handler with a
// gRPC status and no body returns, the status is repeated as trailers: the
// stream ends on a trailers HEADERS frame, never on an empty DATA.
func TestHoldHeaderFlushRunsOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const hold = 5 * time.Millisecond
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/grpc")
			w.Header().Set("Grpc-Status", "5")
			w.Header().Set("Grpc-Message", "not found")
			w.WriteHeader(200)
			http.NewResponseController(w).Flush()
			h2test.Advance(2 * hold) // slower than the hold
		})
		b := startSubject(t, &http.Server{Handler: h}, setup{bubble: true, cfg: server.Config{HoldHeaderFlush: hold}})
		c := b.client()
		c.Handshake()
		c.WriteHeaders(1, true)
		res := c.ExpectResponse(1)
		var kinds []string
		for _, f := range res.Frames {
			kinds = append(kinds, fmt.Sprintf("%v(end=%v)", f.Type, f.Flags.Has(http2.FlagDataEndStream)))
		}
		if got := strings.Join(kinds, " "); got != "HEADERS(end=false) HEADERS(end=true)" {
			t.Errorf("frames %s, want headers then trailers", got)
		}
		if res.Trailer.Get("Grpc-Status") != "5" || res.Trailer.Get("Grpc-Message") != "not found" {
			t.Errorf("trailers %v", res.Trailer)
		}
		b.stop()
	})
}
