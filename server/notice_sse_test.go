package server_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/h2lifecycle/h2lifecycle/lifecycle"
	"github.com/h2lifecycle/h2lifecycle/server"
)

// sseHandler streams Server-Sent Events, one every interval, until the
// client goes away; with notice it also stops when the connection begins
// to drain, with a last "bye" event.
func sseHandler(notice bool, interval time.Duration) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-store")
		var drain <-chan struct{} // nil: never
		if notice {
			drain = lifecycle.DrainNotice(r.Context())
		}
		rc := http.NewResponseController(w)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for i := 0; ; i++ {
			fmt.Fprintf(w, "id: %d\ndata: tick %d\n\n", i, i)
			if err := rc.Flush(); err != nil {
				return
			}
			select {
			case <-drain:
				io.WriteString(w, "event: bye\ndata: draining\n\n")
				return
			case <-r.Context().Done():
				return
			case <-tick.C:
			}
		}
	}
}

// sseResult is what one client saw.
type sseResult struct {
	events int
	bye    bool
	err    error // nil: the stream ended cleanly (io.EOF)
}

// readSSE reads one event stream to its end; first is told of the first
// event.
func readSSE(ctx context.Context, c *http.Client, url string, first func()) sseResult {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := c.Do(req)
	if err != nil {
		first()
		return sseResult{err: err}
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		first()
		return sseResult{err: fmt.Errorf("content type %q", ct)}
	}
	var r sseResult
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "data: tick"):
			if r.events++; r.events == 1 {
				first()
			}
		case line == "event: bye":
			r.bye = true
		}
	}
	r.err = sc.Err() // nil at io.EOF
	if r.events == 0 {
		first()
	}
	return r
}

// sseRun is the outcome of one drained run.
type sseRun struct {
	streams, clientErrors, byes int
	report                      server.ShutdownReport
	took                        time.Duration
	errs                        []string
}

// runSSEDrain serves the SSE handler on 127.0.0.1 to conns real
// http2.Transport clients (h2c, one connection each) with perConn streams
// each, shuts the server down with grace once every stream has an event,
// and counts what the clients saw and what the server cut.
func runSSEDrain(t *testing.T, notice bool, conns, perConn int, grace time.Duration) sseRun {
	hs := &http.Server{Handler: sseHandler(notice, 10*time.Millisecond), Protocols: h2cProtocols()}
	srv, addr := serve(t, hs, server.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second+grace) // bounds a broken run
	defer cancel()

	n := conns * perConn
	var started, done sync.WaitGroup
	started.Add(n)
	results := make([]sseResult, n)
	var trs []*http2.Transport
	for i := range conns {
		tr := &http2.Transport{
			AllowHTTP: true, // h2c with prior knowledge
			DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, addr)
			},
		}
		trs = append(trs, tr)
		c := &http.Client{Transport: tr}
		for j := range perConn {
			done.Add(1)
			go func() {
				defer done.Done()
				results[i*perConn+j] = readSSE(ctx, c, "http://"+addr+"/events", sync.OnceFunc(started.Done))
			}()
		}
	}
	started.Wait()
	if got := len(srv.Snapshot()); got != conns {
		t.Fatalf("%d connections, want %d", got, conns)
	}
	begin := time.Now()
	rep, err := srv.RunShutdown(ctx, server.ShutdownPlan{Grace: grace})
	if err != nil {
		t.Fatalf("RunShutdown: %v", err)
	}
	done.Wait()
	run := sseRun{streams: n, report: rep, took: time.Since(begin)}
	for _, tr := range trs {
		tr.CloseIdleConnections()
	}
	for _, r := range results {
		if r.err != nil {
			run.clientErrors++
			if len(run.errs) < 3 {
				run.errs = append(run.errs, r.err.Error())
			}
		}
		if r.bye {
			run.byes++
		}
		if r.events == 0 && r.err == nil {
			t.Errorf("a stream ended cleanly without a single event")
		}
	}
	return run
}

// TestDrainNoticeSSE drains long-lived SSE streams with and without the
// drain notice: with it, every handler ends its stream on the notice and the
// drain ends long before the grace deadline with no client-visible error
// and nothing cut; without it, every stream runs into the grace deadline and
// is cut, which the clients see as errors (bench/RESULTS-interop.md).
func TestDrainNoticeSSE(t *testing.T) {
	if testing.Short() {
		t.Skip("a real-time drain of a second")
	}
	const conns, perConn = 4, 5
	const grace = time.Second
	for _, notice := range []bool{true, false} {
		t.Run(fmt.Sprintf("notice=%v", notice), func(t *testing.T) {
			run := runSSEDrain(t, notice, conns, perConn, grace)
			rep := run.report
			t.Logf("notice=%v: %d streams on %d connections: %d client-visible errors %q, %d streams cut, %d bye events; "+
				"%d connections drained, %d cut at the grace deadline; drain %v (grace %v)",
				notice, run.streams, conns, run.clientErrors, run.errs, rep.StreamsCut, run.byes,
				rep.Drained, rep.GraceExpired, run.took.Round(time.Millisecond), grace)
			if rep.Connections != conns {
				t.Errorf("%d connections reported, want %d", rep.Connections, conns)
			}
			if notice {
				if run.clientErrors != 0 || rep.StreamsCut != 0 || rep.GraceExpired != 0 || run.byes != run.streams {
					t.Errorf("with the notice: %d errors, %d cut, %d grace expired, %d/%d byes; want 0, 0, 0, all",
						run.clientErrors, rep.StreamsCut, rep.GraceExpired, run.byes, run.streams)
				}
				if rep.StreamsCompleted != uint64(run.streams) {
					t.Errorf("%d streams completed, want %d", rep.StreamsCompleted, run.streams)
				}
				if run.took >= grace {
					t.Errorf("the drain took %v, the grace deadline", run.took)
				}
				return
			}
			if run.clientErrors != run.streams || rep.StreamsCut != run.streams || rep.GraceExpired != conns || run.byes != 0 {
				t.Errorf("without the notice: %d errors, %d cut, %d grace expired, %d byes; want %d, %d, %d, 0",
					run.clientErrors, rep.StreamsCut, rep.GraceExpired, run.byes, run.streams, run.streams, conns)
			}
			if run.took < grace {
				t.Errorf("the drain took %v, less than the grace", run.took)
			}
		})
	}
}
