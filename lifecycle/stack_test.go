package lifecycle

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/net/http2"

	"github.com/h2lifecycle/h2lifecycle/idle"
)

// TestWritePathFitsFlushStack: the tap's Write of a response, with the
// supervisor's work on the streams it ends, fits in what x/net's flush
// goroutine has left of its first stack, so that the runtime does not grow
// (copy) that stack at every flush (DESIGN.md, rule 7). It grew it at every
// flush from the one-way events of issue 12 on, reporting each END_STREAM
// from under observeOut: 5 % of h2c throughput (BENCHMARKS.md, Throughput).
//
// The test first measures, with the real HTTP/2 server (x/net's, or
// net/http's on Go 1.27) serving through a supervised connection, how deep
// the flush goroutine is where the tap writes to the socket; then it writes
// responses through the tap from a fresh goroutine whose stack is used down
// to that same point, and checks that the stack did not grow: a stack that
// grew has moved, so the address of the goroutine's first local changes.
//
// Not under the race detector: its instrumentation makes every frame, the
// server's and the tap's, bigger (the flush goroutine writes 985 bytes deep
// instead of 721), and the property is one of production builds; .ci/run
// runs this test without -race too.
func TestWritePathFitsFlushStack(t *testing.T) {
	if raceEnabled {
		t.Skip("stack depths under -race are not those of production builds")
	}
	want := flushDepth(t)
	t.Logf("the server's flush goroutine writes to the socket %d bytes deep", want)
	cases := []struct {
		name string
		cfg  Config
		opts []Option
	}{
		{"defaults", Config{}, nil},
		{"live metrics", Config{}, []Option{WithMetrics(nopLive{})}},
		{"every policy", Config{
			Policy: idle.Policy{IdleTimeout: time.Minute, MaxConnectionAge: time.Hour, MaxStreamsPerConnection: 1000,
				HeaderTimeout: time.Second, MaxStreamDuration: time.Minute, StreamIdleTimeout: time.Minute,
				KeepaliveInterval: time.Minute},
			AdvertiseMaxStreams: 100,
		}, []Option{WithMetrics(nopLive{})}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// One response, and more than an endBatch holds in one write.
			for _, streams := range []int{1, 10} {
				// The shallowest padding that puts the socket write at
				// least as deep as the server's flush goroutine puts it;
				// then deeper, to see how much room is left.
				pad := uintptr(0)
				at, moved := writeResponsesAt(t, tc.cfg, tc.opts, streams, pad)
				for ; at < want && pad <= 2048; pad += 16 {
					at, moved = writeResponsesAt(t, tc.cfg, tc.opts, streams, pad)
				}
				if at < want {
					t.Fatalf("could not reach the server's depth %d (reached %d)", want, at)
				}
				if moved {
					t.Errorf("%d responses in one Write, the socket write %d bytes deep (the server's flush goroutine: %d): the tap's work grew the stack",
						streams, at, want)
					continue
				}
				deepest := at
				for pad += 16; pad <= 2048; pad += 16 {
					d, m := writeResponsesAt(t, tc.cfg, tc.opts, streams, pad)
					if m {
						break
					}
					deepest = d
				}
				t.Logf("%d responses: no growth down to a socket write %d bytes deep, %d below the server's", streams, deepest, deepest-want)
			}
		})
	}
}

// writeResponsesAt opens streams on a fresh supervised connection, then, on
// a fresh goroutine whose stack is used down to pad bytes, writes their
// responses through the tap in one Write. It returns how deep the socket
// write was and whether the goroutine's stack moved (grew).
func writeResponsesAt(t *testing.T, cfg Config, opts []Option, streams int, pad uintptr) (uintptr, bool) {
	t.Helper()
	block, resp := benchExchange()
	cfg.GoAway, cfg.SawClientPreface = func() {}, true
	lc := &loopConn{}
	dc := &depthConn{Conn: lc}
	s, err := New(dc, cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := s.Conn()
	c.Write(mustSettings())
	var respFrames []byte
	hdr, payload := make([]byte, 9), make([]byte, 64)
	for i := range streams {
		id := uint32(2*i + 1)
		lc.in, lc.off = headersFrame(id, block), 0
		c.Read(hdr)
		c.Read(payload[:len(lc.in)-9])
		r := append([]byte(nil), resp...)
		setStream(r, id)
		respFrames = append(respFrames, r...)
	}
	s.ConnState(http.StateActive)
	dc.deepest.Store(0)
	done := make(chan bool, 1)
	go func() {
		var top byte
		before := uintptr(unsafe.Pointer(&top))
		atDepth(before, pad, func() { c.Write(respFrames) })
		done <- uintptr(unsafe.Pointer(&top)) != before
	}()
	moved := <-done
	if n := s.Snapshot().OpenStreams; n != 0 {
		t.Errorf("%d streams open after the responses", n)
	}
	return dc.deepest.Load(), moved
}

// flushDepth is how deep the HTTP/2 server's flush goroutine is when the
// tap writes to the socket: a server serving two requests through a
// supervised connection, the deepest write from writeFrameAsync.
func flushDepth(t *testing.T) uintptr {
	cs, ss := net.Pipe()
	defer cs.Close()
	dc := &depthConn{Conn: ss, onlyFlush: true}
	s, err := New(dc, Config{GoAway: func() {}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	go newH2Server(t).ServeConn(s.Conn(), &http2.ServeConnOpts{Handler: s.Handler(h)})
	tr := &http2.Transport{AllowHTTP: true, DialTLSContext: func(context.Context, string, string, *tls.Config) (net.Conn, error) {
		return cs, nil
	}}
	defer tr.CloseIdleConnections()
	for range 2 {
		req, _ := http.NewRequest("GET", "http://x/", nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	d := dc.deepest.Load()
	if d == 0 {
		t.Fatal("no write from the server's flush goroutine")
	}
	return d
}

// depthConn records how deep in its goroutine's stack each Write to it is
// (onlyFlush: each from the server's flush goroutine).
type depthConn struct {
	net.Conn
	onlyFlush bool
	deepest   atomic.Uintptr
}

func (c *depthConn) Write(p []byte) (int, error) {
	d := stackDepth()
	if !c.onlyFlush || fromFlush() {
		for m := c.deepest.Load(); d > m && !c.deepest.CompareAndSwap(m, d); m = c.deepest.Load() {
		}
	}
	return c.Conn.Write(p)
}

// stackDepth is how many bytes of its goroutine's stack are in use below
// its caller. Goroutine stacks are power-of-two sized and aligned (2 KiB
// at first), so the top of one of at least 2 KiB is the next multiple of
// 2 KiB, for anything less deep than that.
//
//go:noinline
func stackDepth() uintptr {
	var local byte
	a := uintptr(unsafe.Pointer(&local))
	return (a | 2047) + 1 - a
}

// fromFlush reports whether its caller runs on the server's flush goroutine.
//
//go:noinline
func fromFlush() bool {
	pcs := make([]uintptr, 32)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(1, pcs)])
	for {
		f, more := frames.Next()
		if strings.HasSuffix(f.Function, ".writeFrameAsync") {
			return true
		}
		if !more {
			return false
		}
	}
}

var atDepthSink byte

// atDepth calls f once the stack is at least want bytes below top (the
// address of a local of the goroutine's first frame).
//
//go:noinline
func atDepth(top, want uintptr, f func()) {
	var pad [8]byte
	pad[0] = atDepthSink
	if top-uintptr(unsafe.Pointer(&pad[0])) >= want {
		f()
		return
	}
	atDepth(top, want, f)
	atDepthSink = pad[0]
}
