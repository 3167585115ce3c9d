package server_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	"golang.org/x/net/http2"

	"github.com/h2lifecycle/h2lifecycle/drain"
	"github.com/h2lifecycle/h2lifecycle/idle"
	"github.com/h2lifecycle/h2lifecycle/internal/h2test"
	"github.com/h2lifecycle/h2lifecycle/lifecycle"
	"github.com/h2lifecycle/h2lifecycle/server"
)

// memServer is a wrapped server on an in-memory listener, for synctest.
type memServer struct {
	hs     *http.Server
	srv    *server.Server
	ln     *h2test.Listener
	logs   *observer.ObservedLogs
	served chan error
}

func startMem(t *testing.T, cfg server.Config, h http.Handler, opts ...server.Option) *memServer {
	core, logs := observer.New(zap.DebugLevel)
	m := &memServer{hs: &http.Server{Handler: h, Protocols: h2cProtocols()}, ln: h2test.NewListener(), logs: logs, served: make(chan error, 1)}
	srv, err := server.Wrap(m.hs, cfg, append(opts, server.WithLogger(zap.New(core)))...)
	if err != nil {
		t.Fatal(err)
	}
	m.srv = srv
	go func() { m.served <- m.hs.Serve(m.ln) }()
	return m
}

func (m *memServer) dial(t *testing.T) *h2test.Client {
	nc, err := m.ln.Dial()
	if err != nil {
		t.Fatal(err)
	}
	c := h2test.NewClient(t, nc)
	c.Timeout = time.Hour
	return c
}

// peer answers our PINGs and reads until the server closes, recording when
// the first GOAWAY arrived; it closes its end like a real client.
func peer(c *h2test.Client, goAwayAt chan<- time.Time, wg *sync.WaitGroup) {
	defer wg.Done()
	first := true
	for {
		f, err := c.Framer.ReadFrame()
		if err != nil {
			c.Conn.Close()
			return
		}
		switch f := f.(type) {
		case *http2.PingFrame:
			if !f.IsAck() {
				c.Framer.WritePing(true, f.Data)
			}
		case *http2.SettingsFrame:
			if !f.IsAck() {
				c.Framer.WriteSettingsAck()
			}
		case *http2.GoAwayFrame:
			if first {
				first = false
				goAwayAt <- time.Now()
			}
		}
	}
}

// TestRunShutdown runs the whole sequence on a scripted set of connections
// and checks each step in fake time, and the report's numbers.
func TestRunShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/slow": // outlives the grace: cut
				<-r.Context().Done()
			case "/wait":
				<-release
			}
			io.WriteString(w, "ok")
		})
		m := startMem(t, server.Config{}, h)
		mux := http.NewServeMux()
		mux.Handle("/ready", m.srv.ReadinessHandler())
		ready := func() int {
			rec := &statusRecorder{header: http.Header{}}
			mux.ServeHTTP(rec, &http.Request{Method: "GET", URL: mustURL("/ready")})
			return rec.status
		}
		if got := ready(); got != 200 {
			t.Fatalf("readiness before the shutdown: %d", got)
		}

		// Five idle HTTP/2 connections, one with a stream that waits, one
		// with a stream that never ends.
		const idleConns = 5
		goAways := make(chan time.Time, 8)
		var peers sync.WaitGroup
		for range idleConns {
			c := m.dial(t)
			c.Handshake()
			c.WriteHeaders(1, true)
			c.ExpectResponse(1)
			peers.Add(1)
			go peer(c, goAways, &peers)
		}
		waiting := m.dial(t)
		waiting.Handshake()
		waiting.WriteHeaders(1, true, ":path", "/wait")
		waiting.Sync()
		peers.Add(1)
		go peer(waiting, goAways, &peers)
		slow := m.dial(t)
		slow.Handshake()
		slow.WriteHeaders(1, true, ":path", "/slow")
		slow.Sync()
		peers.Add(1)
		go peer(slow, goAways, &peers)
		// An idle HTTP/1.1 keep-alive connection.
		h1, _ := m.ln.Dial()
		io.WriteString(h1, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		br := bufio.NewReader(h1)
		if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 200 {
			t.Fatalf("HTTP/1.1: %v %v", resp, err)
		} else {
			io.Copy(io.Discard, resp.Body)
		}
		synctest.Wait()

		plan := server.ShutdownPlan{DeregistrationDelay: 5 * time.Second, Spread: 700 * time.Millisecond, Grace: 10 * time.Second}
		begin := time.Now()
		type result struct {
			rep server.ShutdownReport
			err error
		}
		done := make(chan result, 1)
		go func() {
			rep, err := m.srv.RunShutdown(context.Background(), plan)
			done <- result{rep, err}
		}()
		synctest.Wait()
		if got := ready(); got != 503 {
			t.Errorf("readiness during the shutdown: %d, want 503", got)
		}
		// During the deregistration delay nothing drains and new
		// connections are still served.
		late := m.dial(t)
		late.Handshake()
		late.WriteHeaders(1, true)
		late.ExpectResponse(1)
		peers.Add(1)
		go peer(late, goAways, &peers)
		h2test.Advance(plan.DeregistrationDelay - time.Millisecond)
		synctest.Wait()
		if n := len(goAways); n != 0 {
			t.Errorf("%d connections drained during the deregistration delay", n)
		}
		// Then the drains start, spread over the window.
		var times []time.Duration
		for range idleConns + 3 {
			at := <-goAways
			times = append(times, at.Sub(begin)-plan.DeregistrationDelay)
		}
		for i, d := range times {
			want := plan.Spread * time.Duration(i) / time.Duration(idleConns+3)
			if d < 0 || d > plan.Spread || (i > 0 && d <= times[i-1]) {
				t.Errorf("drain %d began %v into the drain phase (want about %v, increasing, within the spread)", i, d, want)
			}
		}
		// The idle HTTP/1.1 connection was closed at the drain's start.
		if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
			t.Errorf("idle HTTP/1.1 connection: %v, want EOF", err)
		}
		close(release)
		r := <-done
		peers.Wait()
		if r.err != nil {
			t.Fatal(r.err)
		}
		rep := r.rep
		if rep.Deregistration != plan.DeregistrationDelay || rep.Drain != plan.Grace || rep.Forced {
			t.Errorf("phases: deregistration %v, drain %v, forced %v; want %v and %v (the slow stream holds the drain to its grace)",
				rep.Deregistration, rep.Drain, rep.Forced, plan.DeregistrationDelay, plan.Grace)
		}
		if rep.Connections != idleConns+3 || rep.Drained != idleConns+3 || rep.StreamsCompleted != idleConns+2 ||
			rep.StreamsCut != 1 || rep.GraceExpired != 1 || rep.PingTimeouts != 0 || len(rep.Reports) != rep.Connections {
			t.Errorf("report %+v", rep)
		}
		if got := ready(); got != 503 {
			t.Errorf("readiness after the shutdown: %d", got)
		}
		if err := <-m.served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
		synctest.Wait()
	})
}

// TestRunShutdownForced: ctx ending closes everything at once, and
// RunShutdown returns its cause.
func TestRunShutdownForced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
		m := startMem(t, server.Config{}, h)
		c := m.dial(t)
		c.Handshake()
		c.WriteHeaders(1, true)
		c.Sync()
		force, cancel := context.WithCancelCause(context.Background())
		done := make(chan error, 1)
		var rep server.ShutdownReport
		go func() {
			var err error
			rep, err = m.srv.RunShutdown(force, server.ShutdownPlan{Grace: time.Hour})
			done <- err
		}()
		synctest.Wait() // RunShutdown is draining, held by the stream
		if len(done) != 0 {
			t.Fatal("RunShutdown returned before the force")
		}
		cancel(server.ErrForced)
		if err := <-done; !errors.Is(err, server.ErrForced) {
			t.Fatalf("RunShutdown = %v, want ErrForced", err)
		}
		if !rep.Forced || rep.Connections != 1 || rep.StreamsCut != 1 {
			t.Errorf("report %+v", rep)
		}
		c.Conn.Close()
		<-m.served
		synctest.Wait()
	})
}

func TestShutdownPlanBudgetWarning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := startMem(t, server.Config{}, http.NotFoundHandler())
		plan := server.ShutdownPlan{DeregistrationDelay: 15 * time.Second, Grace: 20 * time.Second, TerminationBudget: 30 * time.Second}
		if _, err := m.srv.RunShutdown(context.Background(), plan); err != nil {
			t.Fatal(err)
		}
		w := m.logs.FilterMessageSnippet("termination budget").All()
		if len(w) != 1 || w[0].Level != zap.WarnLevel {
			t.Errorf("want one warning about the termination budget: %v", m.logs.All())
		}
		<-m.served
	})
}

// TestCheckShutdownPlan: the check at start warns, RunShutdown with the same
// plan does not warn again; a plan within its budget is never warned about,
// and a bad plan is refused with its field.
func TestCheckShutdownPlan(t *testing.T) {
	for _, tc := range []struct {
		name  string
		plan  server.ShutdownPlan
		warns int
	}{
		{"over the budget", server.ShutdownPlan{DeregistrationDelay: 15 * time.Second, Grace: 20 * time.Second, TerminationBudget: 30 * time.Second}, 1},
		{"server grace over the budget", server.ShutdownPlan{TerminationBudget: 10 * time.Second}, 1}, // the drain grace: 30s
		{"within", server.ShutdownPlan{DeregistrationDelay: 5 * time.Second, Grace: 20 * time.Second, TerminationBudget: 30 * time.Second}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := startMem(t, server.Config{}, http.NotFoundHandler())
				if err := m.srv.CheckShutdownPlan(tc.plan); err != nil {
					t.Fatal(err)
				}
				if err := m.srv.CheckShutdownPlan(tc.plan); err != nil { // a second check says nothing new
					t.Fatal(err)
				}
				early := len(m.logs.FilterMessageSnippet("termination budget").All())
				if _, err := m.srv.RunShutdown(context.Background(), tc.plan); err != nil {
					t.Fatal(err)
				}
				if n := len(m.logs.FilterMessageSnippet("termination budget").All()); early != tc.warns || n != tc.warns {
					t.Errorf("%d warnings at the check, %d in all; want %d", early, n, tc.warns)
				}
				<-m.served
			})
		})
	}
	m := startMem(t, server.Config{}, http.NotFoundHandler())
	defer func() { m.srv.Close(); <-m.served }()
	err := m.srv.CheckShutdownPlan(server.ShutdownPlan{Spread: time.Minute}) // the drain grace is 30s
	if err == nil || !strings.Contains(err.Error(), "spread") || !strings.Contains(err.Error(), "1m0s") {
		t.Errorf("CheckShutdownPlan with a spread over the grace: %v", err)
	}
}

func TestShutdownPlanValidate(t *testing.T) {
	for _, tc := range []struct {
		p    server.ShutdownPlan
		want string
	}{
		{server.ShutdownPlan{DeregistrationDelay: -1}, "server: deregistration_delay must be >= 0, got -1ns"},
		{server.ShutdownPlan{Spread: 2 * time.Minute, Grace: time.Minute}, "server: spread must be below the grace (1m0s), got 2m0s"},
		{server.ShutdownPlan{Grace: -time.Second}, "server: grace must be >= 0, got -1s"},
	} {
		err := tc.p.Validate()
		var se *idle.SettingError
		if err == nil || err.Error() != tc.want || !errors.As(err, &se) {
			t.Errorf("%+v: %v, want %q", tc.p, err, tc.want)
		}
	}
	// Without a Grace of its own a plan takes the server's: RunShutdown
	// checks the spread against it.
	synctest.Test(t, func(t *testing.T) {
		m := startMem(t, server.Config{}, http.NotFoundHandler())
		_, err := m.srv.RunShutdown(context.Background(), server.ShutdownPlan{Spread: time.Minute})
		if err == nil || err.Error() != "server: spread must be below the grace (30s), got 1m0s" {
			t.Errorf("RunShutdown: %v", err)
		}
		m.srv.Close()
		<-m.served
	})
}

// fakeMetrics records the hook calls.
type fakeMetrics struct {
	mu      sync.Mutex
	opened  int
	reports []lifecycle.Report
}

func (f *fakeMetrics) ConnOpened() { f.mu.Lock(); f.opened++; f.mu.Unlock() }
func (f *fakeMetrics) ConnClosed(r *lifecycle.Report) {
	f.mu.Lock()
	f.reports = append(f.reports, *r)
	f.mu.Unlock()
}

func TestMetricsHooks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fm := &fakeMetrics{}
		m := startMem(t, server.Config{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), server.WithMetrics(fm))
		var peers sync.WaitGroup
		goAways := make(chan time.Time, 4)
		for range 3 {
			c := m.dial(t)
			c.Handshake()
			c.WriteHeaders(1, true)
			c.ExpectResponse(1)
			peers.Add(1)
			go peer(c, goAways, &peers)
		}
		synctest.Wait()
		if err := m.srv.Drain(context.Background()); err != nil {
			t.Fatal(err)
		}
		peers.Wait()
		m.srv.Close()
		<-m.served
		synctest.Wait()
		fm.mu.Lock()
		defer fm.mu.Unlock()
		if fm.opened != 3 || len(fm.reports) != 3 {
			t.Fatalf("opened %d, closed %d", fm.opened, len(fm.reports))
		}
		for _, r := range fm.reports {
			if r.Reason != lifecycle.ReasonRequested || !r.Drained || r.StreamsCompleted != 1 || r.Timeline.Closed.IsZero() {
				t.Errorf("report %+v", r)
			}
		}
	})
}

type statusRecorder struct {
	header http.Header
	status int
}

func (r *statusRecorder) Header() http.Header { return r.header }
func (r *statusRecorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = 200
	}
	return len(p), nil
}
func (r *statusRecorder) WriteHeader(code int) { r.status = code }

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// TestShutdownReturnsAtLastClose: Shutdown and RunShutdown return when the
// last connection closes, not at http.Server.Shutdown's next poll (its polls
// come at intervals doubling up to 500 ms: a drain that ends 1.2 s in is
// noticed by stock only at about 1.5 s). An HTTP/1.1 request still running
// then is still waited for: the condition is net/http's own.
func TestShutdownReturnsAtLastClose(t *testing.T) {
	const h2End, h1End = 1200 * time.Millisecond, 1700 * time.Millisecond
	shutdowns := map[string]func(*server.Server) error{
		"Shutdown": func(s *server.Server) error { return s.Shutdown(context.Background()) },
		"RunShutdown": func(s *server.Server) error {
			_, err := s.RunShutdown(context.Background(), server.ShutdownPlan{Grace: 10 * time.Second})
			return err
		},
	}
	for name, shutdown := range shutdowns {
		for _, withH1 := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/http1_in_flight=%v", name, withH1), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					release := map[string]chan struct{}{"/h2": make(chan struct{}), "/h1": make(chan struct{})}
					h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						if c, ok := release[r.URL.Path]; ok {
							<-c
						}
						io.WriteString(w, "ok")
					})
					m := startMem(t, server.Config{Drain: drain.Config{Grace: 10 * time.Second}}, h)
					var peers sync.WaitGroup
					goAways := make(chan time.Time, 4)
					for _, path := range []string{"/", "/h2"} {
						c := m.dial(t)
						c.Handshake()
						c.WriteHeaders(1, true, ":path", path)
						if path == "/" {
							c.ExpectResponse(1)
						}
						c.Sync()
						peers.Add(1)
						go peer(c, goAways, &peers)
					}
					h1done := make(chan error, 1)
					if withH1 {
						h1, _ := m.ln.Dial()
						io.WriteString(h1, "GET /h1 HTTP/1.1\r\nHost: x\r\n\r\n")
						go func() {
							resp, err := http.ReadResponse(bufio.NewReader(h1), nil)
							if err == nil {
								_, err = io.Copy(io.Discard, resp.Body)
							}
							h1.Close()
							h1done <- err
						}()
					}
					synctest.Wait()

					begin := time.Now()
					returned := make(chan time.Duration, 1)
					go func() {
						if err := shutdown(m.srv); err != nil {
							t.Errorf("%s: %v", name, err)
						}
						returned <- time.Since(begin)
					}()
					h2test.Advance(h2End)
					close(release["/h2"])
					peers.Wait()
					closed := time.Since(begin)
					want := closed
					if withH1 {
						h2test.Advance(h1End - closed)
						close(release["/h1"])
						if err := <-h1done; err != nil {
							t.Fatalf("HTTP/1.1 request: %v", err)
						}
						want = h1End
					}
					got := <-returned
					// The second Shutdown checks at once, and again 1 ms
					// later if net/http had not forgotten a connection yet.
					// An HTTP/1.1 request is net/http's to notice, at its
					// next poll as with stock: never before it ends.
					slack := 5 * time.Millisecond
					if withH1 {
						slack = 550 * time.Millisecond // the longest poll interval, 500 ms + 10 % jitter
					}
					if got < want || got > want+slack {
						t.Errorf("%s returned %v after it began; the last connection closed at %v: want it within %v of that",
							name, got, want, slack)
					}
					if err := <-m.served; !errors.Is(err, http.ErrServerClosed) {
						t.Errorf("Serve: %v", err)
					}
				})
			})
		}
	}
}

// TestShutdownWaitsForConnectionInAcceptLoop: a connection accepted just
// as the listeners close is not yet among the connections when the last
// of the others closes. Stock's Shutdown serves it (it waits for Serve's
// accept loops to return) and so must h2lifecycle's: returning at the
// others' last close would end the process under it. ConnContext holds
// that connection in the accept loop across the others' close.
//
// The same input runs against stock (http.Server.Shutdown, x/net's HTTP/2),
// and against h2lifecycle on the paths where it cannot trust its count of
// net/http's connections and leaves the wait to http.Server.Shutdown: the
// ConnState hook replaced after Wrap, and a close the hook saw without its
// StateNew.
func TestShutdownWaitsForConnectionInAcceptLoop(t *testing.T) {
	for _, kind := range []string{"stock", "h2lifecycle", "hook replaced", "count off"} {
		t.Run(kind, func(t *testing.T) { testShutdownWaitsForConnectionInAcceptLoop(t, kind) })
	}
}

func testShutdownWaitsForConnectionInAcceptLoop(t *testing.T, kind string) {
	synctest.Test(t, func(t *testing.T) {
		hold, held := make(chan struct{}), make(chan struct{})
		accepted := 0
		hs := &http.Server{
			Handler:   http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }),
			Protocols: h2cProtocols(),
			ConnContext: func(ctx context.Context, c net.Conn) context.Context {
				if accepted++; accepted == 2 {
					close(held)
					<-hold
				}
				return ctx
			},
		}
		shutdown := hs.Shutdown
		if kind == "stock" {
			if err := http2.ConfigureServer(hs, &http2.Server{}); err != nil {
				t.Fatal(err)
			}
		} else {
			srv, err := server.Wrap(hs, server.Config{}, server.WithLogger(zap.NewNop()))
			if err != nil {
				t.Fatal(err)
			}
			shutdown = srv.Shutdown
			switch kind {
			case "hook replaced":
				wrapped := hs.ConnState
				hs.ConnState = func(c net.Conn, st http.ConnState) { wrapped(c, st) }
			case "count off":
				c, _ := net.Pipe()
				hs.ConnState(c, http.StateClosed) // a connection it never saw begin
			}
		}
		ln := h2test.NewListener()
		served := make(chan error, 1)
		go func() { served <- hs.Serve(ln) }()
		dial := func() *h2test.Client {
			nc, err := ln.Dial()
			if err != nil {
				t.Fatal(err)
			}
			c := h2test.NewClient(t, nc)
			c.Timeout = time.Hour
			return c
		}
		var peers sync.WaitGroup
		goAways := make(chan time.Time, 4)
		first := dial()
		first.Handshake()
		first.WriteHeaders(1, true)
		first.ExpectResponse(1)
		peers.Add(1)
		go peer(first, goAways, &peers)
		late := dial()
		<-held // in the accept loop, not yet a connection of net/http's

		returned := make(chan error, 1)
		go func() { returned <- shutdown(context.Background()) }()
		running := func(when string) {
			synctest.Wait()
			select {
			case err := <-returned:
				t.Fatalf("Shutdown returned (%v) %s", err, when)
			default:
			}
		}
		peers.Wait() // the first connection drained and closed
		h2test.Advance(time.Second)
		running("with a connection still in the accept loop")

		close(hold)
		running("before the late connection sent its preface")
		late.Handshake()
		late.WriteHeaders(1, true)
		if r := late.ExpectResponse(1); r.Status != "200" || string(r.Body) != "ok" {
			t.Errorf("the late connection's request: %s %q", r.Status, r.Body)
		}
		running("before the late connection closed")
		peers.Add(1)
		go peer(late, goAways, &peers)
		peers.Wait()
		if err := <-returned; err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
}
