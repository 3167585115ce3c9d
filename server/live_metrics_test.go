package server_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"golang.org/x/net/http2"

	"github.com/h2lifecycle/h2lifecycle/internal/h2test"
	"github.com/h2lifecycle/h2lifecycle/lifecycle"
	"github.com/h2lifecycle/h2lifecycle/server"
)

// fakeLive is a lifecycle.LiveMetrics that keeps gauges and counters the
// way an adapter would, and checks the order of the calls.
type fakeLive struct {
	t  *testing.T
	mu sync.Mutex

	conns     int
	byState   map[lifecycle.State]int
	open      int // streams
	opened    int
	ends      map[lifecycle.StreamEnd]int
	reports   []lifecycle.Report
	liveAtEnd []int // open streams counted by StreamClosed at each ConnClosed
}

func newFakeLive(t *testing.T) *fakeLive {
	return &fakeLive{t: t, byState: map[lifecycle.State]int{}, ends: map[lifecycle.StreamEnd]int{}}
}

func (f *fakeLive) ConnOpened() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.conns++
	f.byState[lifecycle.StateActive]++
}

func (f *fakeLive) ConnStateChanged(from, to lifecycle.State) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if to <= from {
		f.t.Errorf("state change %v → %v goes backwards", from, to)
	}
	if f.byState[from] <= 0 {
		f.t.Errorf("state change %v → %v: no connection is %v", from, to, from)
	}
	f.byState[from]--
	if to != lifecycle.StateClosed {
		f.byState[to]++
	}
}

func (f *fakeLive) StreamOpened() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.open++
	f.opened++
}

func (f *fakeLive) StreamClosed(end lifecycle.StreamEnd) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ends[end]++
	if end == lifecycle.EndRefused {
		return
	}
	if f.open--; f.open < 0 {
		f.t.Errorf("StreamClosed(%v) with no stream open", end)
	}
}

func (f *fakeLive) ConnClosed(r *lifecycle.Report) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.conns--
	f.reports = append(f.reports, *r)
}

// view is the fake's gauges and counters, for comparisons.
func (f *fakeLive) view() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return fmt.Sprintf("conns=%d active=%d draining=%d closing=%d open=%d opened=%d completed=%d reset=%d cut=%d dropped=%d refused=%d",
		f.conns, f.byState[lifecycle.StateActive], f.byState[lifecycle.StateDraining], f.byState[lifecycle.StateClosing],
		f.open, f.opened, f.ends[lifecycle.EndCompleted], f.ends[lifecycle.EndReset], f.ends[lifecycle.EndCut],
		f.ends[lifecycle.EndDropped], f.ends[lifecycle.EndRefused])
}

// TestLiveMetrics: streams are counted as they open and end, on a
// connection that stays open; connections are counted by state through a
// drain; a client's own GOAWAY is a client close, logged at Debug; a close
// cuts what is left; every gauge ends at zero.
func TestLiveMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release, never := make(chan struct{}), make(chan struct{})
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/forever" {
				w.WriteHeader(http.StatusOK)
				w.(http.Flusher).Flush()
				select {
				case <-never:
				case <-r.Context().Done():
				}
			}
			if r.URL.Path == "/wait" {
				w.WriteHeader(http.StatusOK)
				w.(http.Flusher).Flush()
				select {
				case <-release:
				case <-r.Context().Done():
				}
			}
		})
		f := newFakeLive(t)
		m := startMem(t, server.Config{}, h, server.WithMetrics(f))
		check := func(when, want string) {
			t.Helper()
			synctest.Wait()
			if got := f.view(); got != want {
				t.Errorf("%s:\n got %s\nwant %s", when, got, want)
			}
		}

		a := m.dial(t)
		a.Handshake()
		a.WriteHeaders(1, true)
		a.ExpectResponse(1)
		check("a request completed, its connection open",
			"conns=1 active=1 draining=0 closing=0 open=0 opened=1 completed=1 reset=0 cut=0 dropped=0 refused=0")

		a.WriteHeaders(3, true, ":path", "/wait")
		check("a stream running", "conns=1 active=1 draining=0 closing=0 open=1 opened=2 completed=1 reset=0 cut=0 dropped=0 refused=0")
		a.WriteHeaders(5, false, ":path", "/wait") // the client's side stays open
		a.WriteRSTStream(5, http2.ErrCodeCancel)
		check("a stream reset by the client", "conns=1 active=1 draining=0 closing=0 open=1 opened=3 completed=1 reset=1 cut=0 dropped=0 refused=0")

		// A drain with stream 3 still running: draining until it ends.
		evs := make(chan []string, 1)
		go func() { evs <- wireEvents(a) }()
		drained := make(chan error, 1)
		go func() { drained <- m.srv.Drain(context.Background()) }()
		check("draining, a stream running", "conns=1 active=0 draining=1 closing=0 open=1 opened=3 completed=1 reset=1 cut=0 dropped=0 refused=0")
		close(release)
		if err := <-drained; err != nil {
			t.Fatal(err)
		}
		<-evs
		check("drained", "conns=0 active=0 draining=0 closing=0 open=0 opened=3 completed=2 reset=1 cut=0 dropped=0 refused=0")

		// The client leaves with its own GOAWAY: a client close.
		b := m.dial(t)
		b.Handshake()
		b.WriteHeaders(1, true)
		b.ExpectResponse(1)
		go func() { evs <- wireEvents(b) }()
		b.WriteGoAway(1, http2.ErrCodeNo, nil)
		<-evs
		check("closed by the client's GOAWAY", "conns=0 active=0 draining=0 closing=0 open=0 opened=4 completed=3 reset=1 cut=0 dropped=0 refused=0")
		if l := m.logs.FilterMessage("http2 connection closed").FilterFieldKey("reason").All(); len(l) != 1 ||
			l[0].Level != zapcore.DebugLevel || l[0].ContextMap()["reason"] != string(lifecycle.ReasonPeer) {
			t.Errorf("the client's close: %v", l)
		}
		if l := m.logs.FilterMessage("http2 connection drained").All(); len(l) != 1 {
			t.Errorf("%d drained lines, want 1 (the drain, not the client's GOAWAY): %v", len(l), l)
		}

		// A stream still running when the server closes is cut.
		c := m.dial(t)
		c.Handshake()
		c.WriteHeaders(1, true, ":path", "/forever")
		check("a stream running on a new connection", "conns=1 active=1 draining=0 closing=0 open=1 opened=5 completed=3 reset=1 cut=0 dropped=0 refused=0")
		go func() { evs <- wireEvents(c) }()
		m.srv.Close()
		<-evs
		<-m.served
		check("closed", "conns=0 active=0 draining=0 closing=0 open=0 opened=5 completed=3 reset=1 cut=1 dropped=0 refused=0")

		f.mu.Lock()
		defer f.mu.Unlock()
		if len(f.reports) != 3 {
			t.Fatalf("%d reports, want 3", len(f.reports))
		}
		if r := f.reports[1]; r.Reason != lifecycle.ReasonPeer || r.Drained {
			t.Errorf("the client's GOAWAY: reason %q drained %v; want peer_goaway, not drained", r.Reason, r.Drained)
		}
		if r := f.reports[0]; !r.Drained || r.StreamsCompleted != 2 || r.StreamsReset != 1 {
			t.Errorf("the drained connection's report: %+v", r)
		}
	})
}

// TestLiveMetricsRefusedAndDropped: a stream over the advertised limit is
// refused (never opened), and one above the server's GOAWAY is dropped.
func TestLiveMetricsRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release })
		f := newFakeLive(t)
		hs := &http.Server{Handler: h, Protocols: h2cProtocols(), HTTP2: &http.HTTP2Config{MaxConcurrentStreams: 1}}
		m := startMemServer(t, hs, server.Config{}, server.WithMetrics(f))
		c := m.dial(t)
		c.Handshake()
		c.WriteHeaders(1, true)
		c.WriteHeaders(3, true) // over the limit of 1
		if code := c.ExpectRSTStream(3); code != http2.ErrCodeRefusedStream && code != http2.ErrCodeProtocol {
			t.Errorf("stream 3 reset with %v", code)
		}
		synctest.Wait()
		if got, want := f.view(), "conns=1 active=1 draining=0 closing=0 open=1 opened=1 completed=0 reset=0 cut=0 dropped=0 refused=1"; got != want {
			t.Errorf("\n got %s\nwant %s", got, want)
		}
		close(release)
		c.ExpectResponse(1)
		c.Conn.Close()
		m.srv.Close()
		<-m.served
		synctest.Wait()
		if got, want := f.view(), "conns=0 active=0 draining=0 closing=0 open=0 opened=1 completed=1 reset=0 cut=0 dropped=0 refused=1"; got != want {
			t.Errorf("\n got %s\nwant %s", got, want)
		}
	})
}

// startMemServer is startMem with an http.Server of the caller's.
func startMemServer(t *testing.T, hs *http.Server, cfg server.Config, opts ...server.Option) *memServer {
	core, logs := observer.New(zap.DebugLevel)
	m := &memServer{hs: hs, ln: h2test.NewListener(), logs: logs, served: make(chan error, 1)}
	srv, err := server.Wrap(m.hs, cfg, append(opts, server.WithLogger(zap.New(core)))...)
	if err != nil {
		t.Fatal(err)
	}
	m.srv = srv
	go func() { m.served <- m.hs.Serve(m.ln) }()
	return m
}

// blockingMetrics holds ConnClosed until released.
type blockingMetrics struct {
	release chan struct{}
	mu      sync.Mutex
	closed  int
}

func (b *blockingMetrics) ConnOpened() {}
func (b *blockingMetrics) ConnClosed(*lifecycle.Report) {
	<-b.release
	b.mu.Lock()
	b.closed++
	b.mu.Unlock()
}

// TestShutdownWaitsForConnClosed: a connection cut at the grace deadline is
// closed by the supervisor's goroutine, not the one serving it; RunShutdown
// still returns only once its ConnClosed (and its final report) is done.
// (Found by h2otel's test: RunShutdown returned before the cut
// connection's metrics were recorded.)
func TestShutdownWaitsForConnClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bm := &blockingMetrics{release: make(chan struct{})}
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
		m := startMem(t, server.Config{}, h, server.WithMetrics(bm))
		c := m.dial(t)
		c.Handshake()
		c.WriteHeaders(1, true)
		c.Sync()
		go wireEvents(c)
		done := make(chan server.ShutdownReport, 1)
		go func() {
			rep, err := m.srv.RunShutdown(context.Background(), server.ShutdownPlan{Grace: time.Second})
			if err != nil {
				t.Error(err)
			}
			done <- rep
		}()
		h2test.Advance(2 * time.Second) // past the grace deadline: the stream is cut
		synctest.Wait()
		select {
		case <-done:
			t.Fatal("RunShutdown returned while the cut connection's ConnClosed was still running")
		default:
		}
		close(bm.release)
		rep := <-done
		bm.mu.Lock()
		defer bm.mu.Unlock()
		if bm.closed != 1 || rep.Connections != 1 || rep.StreamsCut != 1 || !rep.Reports[0].Timeline.Closed.After(rep.Begin) {
			t.Errorf("ConnClosed %d times; report %+v", bm.closed, rep)
		}
		<-m.served
	})
}
