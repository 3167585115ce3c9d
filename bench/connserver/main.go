// Command connserver is the server side of the memory and drain
// measurements (bench/memory, bench/drain): the tiny handler on net/http,
// served either by the stock HTTP/2 server (http2.ConfigureServer) or wrapped
// by h2lifecycle, h2c with prior knowledge, on 127.0.0.1.
//
//	connserver -kind stock|h2lifecycle [-addr 127.0.0.1:0] [-memprofilerate N]
//	           [-metrics=false] [-drainprofile FILE] [-pipe]
//	           [-tls-cert FILE -tls-key FILE]
//
// -metrics=false serves h2lifecycle without a lifecycle.Metrics: nothing is
// built at a close (as for a user who neither logs nor records), and the
// drain result has no phases. -drainprofile writes a CPU profile of each
// drain, from its start until the last connection closed. -pipe serves
// in-memory connections (net.Pipe) instead of TCP, opened by the "open"
// command: no descriptor per connection (bench/memory's PIPE=1). With
// -tls-cert and -tls-key it serves TLS (h2 by ALPN) instead of h2c: one
// binary for both kinds, to compare them over TLS without comparing two
// programs.
//
// It prints "listening on HOST:PORT", then reads one command per line on
// stdin and answers each with one JSON line on stdout:
//
//	stats              GC, return freed memory to the OS, then report open
//	                   connections, HeapInuse, StackInuse, RSS, goroutines
//	heap FILE          write a heap profile (after a GC) to FILE
//	goroutines FILE    write the goroutine profile (debug=1) to FILE
//	wait-inflight N    wait until N handlers are running
//	drain-inflight N   wait until N handlers are running, then drain at once
//	drain              drain every connection (stock: http.Server.Shutdown;
//	                   h2lifecycle: server.Server.Shutdown), report how long
//	                   the call took and when each connection closed
//	open N             -pipe only: open N idle h2c connections in this
//	                   process (preface, SETTINGS, both ACKs) and wait
//	                   until the server counts them
//	quit               exit
//
// GET /?delay=D answers "ok" after D (a Go duration): a stream in flight for
// the drain measurements. The process exits on EOF of stdin, or after
// -timeout.
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"

	"github.com/h2lifecycle/h2lifecycle/lifecycle"
	"github.com/h2lifecycle/h2lifecycle/server"
)

func main() {
	kind := flag.String("kind", "h2lifecycle", "stock or h2lifecycle")
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	rate := flag.Int("memprofilerate", 0, "runtime.MemProfileRate (0: the default, 512 KiB)")
	timeout := flag.Duration("timeout", 10*time.Minute, "exit after this long whatever happens")
	metrics := flag.Bool("metrics", true, "h2lifecycle: record every connection's report (the drain phases)")
	drainProfile := flag.String("drainprofile", "", "write a CPU profile of each drain to this file")
	pipe := flag.Bool("pipe", false, "serve in-memory connections made by the open command, not TCP")
	certFile := flag.String("tls-cert", "", "serve TLS with this certificate (PEM), with -tls-key")
	keyFile := flag.String("tls-key", "", "the key of -tls-cert (PEM)")
	flag.Parse()
	if *rate > 0 {
		runtime.MemProfileRate = *rate
	}
	time.AfterFunc(*timeout, func() {
		log.Printf("connserver: -timeout %v reached; exiting", *timeout)
		os.Exit(3)
	})
	s := &srv{kind: *kind, began: make(chan struct{}, 1), metrics: *metrics, profile: *drainProfile}
	if *pipe {
		s.pipe = newPipeListener()
	}
	if (*certFile == "") != (*keyFile == "") {
		log.Fatal("-tls-cert and -tls-key go together")
	}
	if *pipe && *certFile != "" {
		log.Fatal("-pipe opens h2c connections: it does not go with -tls-cert")
	}
	if *certFile != "" {
		cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			log.Fatal(err)
		}
		s.tls = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
	if err := s.start(*addr); err != nil {
		log.Fatal(err)
	}
	out := json.NewEncoder(os.Stdout)
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		cmd, arg, _ := strings.Cut(strings.TrimSpace(in.Text()), " ")
		var res any
		var err error
		switch cmd {
		case "":
			continue
		case "stats":
			res = s.stats()
		case "heap":
			err = writeProfile("heap", arg, 0)
		case "goroutines":
			err = writeProfile("goroutine", arg, 1)
		case "wait-inflight":
			var n int
			if n, err = strconv.Atoi(arg); err == nil {
				err = s.waitInflight(int64(n))
			}
		case "drain":
			res, err = s.drain()
		case "drain-inflight":
			var n int
			if n, err = strconv.Atoi(arg); err == nil {
				if err = s.waitInflight(int64(n)); err == nil {
					res, err = s.drain()
				}
			}
		case "open":
			var n int
			if n, err = strconv.Atoi(arg); err == nil {
				err = s.openPipes(n)
			}
		case "quit":
			return
		default:
			err = fmt.Errorf("unknown command %q", cmd)
		}
		if err != nil {
			res = map[string]string{"error": err.Error()}
		} else if res == nil {
			res = map[string]string{"ok": cmd}
		}
		out.Encode(res)
	}
}

type srv struct {
	kind     string
	metrics  bool          // -metrics
	profile  string        // -drainprofile
	pipe     *pipeListener // -pipe; nil: TCP
	tls      *tls.Config   // -tls-cert; nil: h2c
	hs       *http.Server
	h2       *server.Server
	inflight atomic.Int64
	started  atomic.Int64  // unix ns when the last handler began
	began    chan struct{} // a handler began (buffered, 1)

	rmu     sync.Mutex
	reports []lifecycle.Report // h2lifecycle's, of the connections closed during the drain

	mu         sync.Mutex
	open       int       // connections accepted and not yet closed
	drainStart time.Time // zero until a drain starts
	closes     []time.Duration
}

func (s *srv) start(addr string) error {
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	p.SetHTTP2(s.tls != nil)
	s.hs = &http.Server{
		Handler:   http.HandlerFunc(s.handle),
		Protocols: &p,
		ConnState: s.connState,
		ErrorLog:  log.New(io.Discard, "", 0),
		TLSConfig: s.tls, // ConfigureServer and Wrap add "h2" to its NextProtos
	}
	switch s.kind {
	case "stock":
		if err := http2.ConfigureServer(s.hs, &http2.Server{}); err != nil {
			return err
		}
	case "h2lifecycle":
		var err error
		var opts []server.Option
		if s.metrics {
			opts = append(opts, server.WithMetrics(s))
		}
		if s.h2, err = server.Wrap(s.hs, server.Config{}, opts...); err != nil {
			return err
		}
	default:
		return fmt.Errorf("-kind must be stock or h2lifecycle, got %q", s.kind)
	}
	var ln net.Listener = s.pipe
	if s.pipe == nil {
		var err error
		if ln, err = net.Listen("tcp", addr); err != nil {
			return err
		}
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	if s.tls != nil {
		go s.hs.ServeTLS(ln, "", "")
		return nil
	}
	go s.hs.Serve(ln)
	return nil
}

func (s *srv) handle(w http.ResponseWriter, r *http.Request) {
	s.started.Store(time.Now().UnixNano())
	s.inflight.Add(1)
	defer s.inflight.Add(-1)
	select {
	case s.began <- struct{}{}:
	default:
	}
	if d, err := time.ParseDuration(r.URL.Query().Get("delay")); err == nil && d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	io.WriteString(w, "ok")
}

// connState counts the connections net/http accepted and closed: both
// servers see StateNew and StateClosed from net/http itself for every
// connection, whatever HTTP/2 reports in between.
func (s *srv) connState(_ net.Conn, st http.ConnState) {
	switch st {
	case http.StateNew:
		s.mu.Lock()
		s.open++
		s.mu.Unlock()
	case http.StateClosed, http.StateHijacked:
		now := time.Now()
		s.mu.Lock()
		s.open--
		if !s.drainStart.IsZero() {
			s.closes = append(s.closes, now.Sub(s.drainStart))
		}
		s.mu.Unlock()
	}
}

// ConnOpened and ConnClosed make srv a lifecycle.Metrics: the reports of
// h2lifecycle's connections give each drain phase's duration.
func (s *srv) ConnOpened() {}

func (s *srv) ConnClosed(r *lifecycle.Report) {
	s.rmu.Lock()
	s.reports = append(s.reports, *r)
	s.rmu.Unlock()
}

// openPipes opens n in-memory connections and waits (at most 60 s) until
// net/http has counted every one of them.
func (s *srv) openPipes(n int) error {
	if s.pipe == nil {
		return errors.New("open needs -pipe")
	}
	s.mu.Lock()
	want := s.open + n
	s.mu.Unlock()
	if err := s.pipe.open(n, 64); err != nil {
		return err
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		s.mu.Lock()
		open := s.open
		s.mu.Unlock()
		if open >= want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d connections open after 60s, want %d", open, want)
		}
	}
}

type stats struct {
	Kind       string `json:"kind"`
	Go         string `json:"go"`
	Conns      int    `json:"conns"`
	Goroutines int    `json:"goroutines"`
	HeapInuse  uint64 `json:"heap_inuse"`
	HeapAlloc  uint64 `json:"heap_alloc"`
	HeapObjs   uint64 `json:"heap_objects"`
	StackInuse uint64 `json:"stack_inuse"`
	Sys        uint64 `json:"sys"`
	RSS        uint64 `json:"rss"`
}

func (s *srv) stats() stats {
	debug.FreeOSMemory() // a GC, and freed pages back to the OS so RSS means something
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s.mu.Lock()
	open := s.open
	s.mu.Unlock()
	return stats{
		Kind: s.kind, Go: runtime.Version(), Conns: open, Goroutines: runtime.NumGoroutine(),
		HeapInuse: ms.HeapInuse, HeapAlloc: ms.HeapAlloc, HeapObjs: ms.HeapObjects,
		StackInuse: ms.StackInuse, Sys: ms.Sys, RSS: rss(),
	}
}

// rss reads the resident set size from /proc/self/statm.
func rss() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseUint(f[1], 10, 64)
	return pages * uint64(os.Getpagesize())
}

func writeProfile(name, file string, debugLevel int) error {
	if file == "" {
		return errors.New("a file name is needed")
	}
	runtime.GC()
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if err := pprof.Lookup(name).WriteTo(f, debugLevel); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (s *srv) waitInflight(n int64) error {
	timeout := time.NewTimer(60 * time.Second)
	defer timeout.Stop()
	for s.inflight.Load() < n {
		select {
		case <-s.began:
		case <-timeout.C:
			return fmt.Errorf("%d handlers running after 60s, want %d", s.inflight.Load(), n)
		}
	}
	return nil
}

type drainResult struct {
	Kind  string  `json:"kind"`
	Conns int     `json:"conns"`  // open when the drain started
	API   float64 `json:"api_ms"` // until Shutdown returned
	// When connections closed, from the drain's start (net/http's
	// StateClosed): the first, the median, the 99th percentile, the last.
	First  float64 `json:"first_close_ms"`
	Median float64 `json:"median_close_ms"`
	P99    float64 `json:"p99_close_ms"`
	Last   float64 `json:"last_close_ms"`
	Closed int     `json:"closed"`
	Start  int64   `json:"start_unix_ns"`
	// How long the last handler had been running when the drain started.
	InflightAge float64 `json:"inflight_age_ms,omitempty"`
	// h2lifecycle only, medians over the connections: the drain phases
	// (lifecycle.Report's Timeline) and the measured PING round trip.
	Notice  float64 `json:"notice_ms,omitempty"`  // start to PING ACK
	Settle  float64 `json:"settle_ms,omitempty"`  // PING ACK to the final GOAWAY
	Final   float64 `json:"final_ms,omitempty"`   // final GOAWAY to the last stream's end
	Closing float64 `json:"closing_ms,omitempty"` // our FIN to the close
	Total   float64 `json:"total_ms,omitempty"`   // start to the close
	RTT     float64 `json:"rtt_ms,omitempty"`
	Drained int     `json:"drained,omitempty"` // reports saying the connection was drained
	Err     string  `json:"error,omitempty"`
}

func (s *srv) drain() (drainResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s.mu.Lock()
	r := drainResult{Kind: s.kind, Conns: s.open}
	start := time.Now()
	s.drainStart = start
	s.mu.Unlock()
	if s.inflight.Load() > 0 {
		r.InflightAge = ms(start.Sub(time.Unix(0, s.started.Load())))
	}
	s.rmu.Lock()
	s.reports = s.reports[:0]
	s.rmu.Unlock()
	var err error
	if s.profile != "" {
		f, err := os.Create(s.profile)
		if err != nil {
			return r, err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return r, err
		}
		defer f.Close()
		defer pprof.StopCPUProfile() // after the wait for the last close below
	}
	if s.h2 != nil {
		err = s.h2.Shutdown(ctx)
	} else {
		err = s.hs.Shutdown(ctx)
	}
	r.API = ms(time.Since(start))
	r.Start = start.UnixNano()
	if err != nil {
		r.Err = err.Error()
	}
	// Shutdown returns once net/http forgot the connections; the last
	// StateClosed hooks may still be running.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		s.mu.Lock()
		done := len(s.closes) >= r.Conns
		s.mu.Unlock()
		if done {
			break
		}
	}
	s.mu.Lock()
	closes := slices.Clone(s.closes)
	s.mu.Unlock()
	slices.Sort(closes)
	r.Closed = len(closes)
	if n := len(closes); n > 0 {
		r.First, r.Median, r.P99, r.Last = ms(closes[0]), ms(closes[n/2]), ms(closes[(n*99)/100]), ms(closes[n-1])
	}
	s.rmu.Lock()
	reps := slices.Clone(s.reports)
	s.rmu.Unlock()
	if len(reps) > 0 {
		var notice, settle, final, closing, total, rtt []time.Duration
		for _, rep := range reps {
			tl := rep.Timeline
			if rep.Drained {
				r.Drained++
			}
			notice = append(notice, span(tl.Start, tl.Ack))
			settle = append(settle, span(tl.Ack, tl.Final))
			final = append(final, span(tl.Final, tl.StreamsDone))
			closing = append(closing, span(tl.HalfClosed, tl.Closed))
			total = append(total, span(tl.Start, tl.Closed))
			rtt = append(rtt, rep.RTT)
		}
		r.Notice, r.Settle, r.Final = median(notice), median(settle), median(final)
		r.Closing, r.Total, r.RTT = median(closing), median(total), median(rtt)
	}
	return r, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func median(ds []time.Duration) float64 {
	slices.Sort(ds)
	return ms(ds[len(ds)/2])
}

// span is b-a, zero if either is missing (lifecycle's report convention).
func span(a, b time.Time) time.Duration {
	if a.IsZero() || b.IsZero() {
		return 0
	}
	return max(b.Sub(a), 0)
}
