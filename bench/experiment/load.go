package experiment

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"
)

// LoadConfig describes a load. The zero value, given a URL, is 64 workers
// over 4 connections sending GETs for at most 30s.
type LoadConfig struct {
	URL string // http:// for h2c with prior knowledge, https:// for h2 over TLS

	// Workers send requests one after the other; zero means 64.
	Workers int
	// Conns is the number of client connections: one http2.Transport each,
	// worker i using transport i mod Conns. Zero means 4; it is capped at
	// Workers.
	Conns int

	// PostFraction is the share of POST requests, in [0, 1]; their bodies
	// cannot be replayed. Zero means GETs only.
	PostFraction float64
	// BodySize is the size of a POST body; zero means 1 KiB.
	BodySize int

	// A worker pauses a uniformly random time in [PauseMin, PauseMax]
	// between two requests; zero means no pause.
	PauseMin, PauseMax time.Duration

	// RequestsPerWorker bounds the requests of each worker; zero means no
	// bound but Duration.
	RequestsPerWorker int
	// Duration bounds the load: no request starts after it. Zero means 30s.
	Duration time.Duration
	// RequestTimeout bounds each request; zero means 10s.
	RequestTimeout time.Duration

	// Seed makes the choice of methods and pauses repeatable.
	Seed uint64

	// OnFailure, if set, is called for every failed request (ListenerClosed
	// ones included), from the worker that sent it: a way to see what
	// happened to one request.
	OnFailure func(Failure)

	// Recorder records the client's end of every connection. Nil means a
	// private one: the load always records, because deciding whether a
	// request ever reached a server (Counts.ListenerClosed) needs it.
	Recorder *Recorder
}

func (c LoadConfig) withDefaults() LoadConfig {
	if c.Workers <= 0 {
		c.Workers = 64
	}
	if c.Conns <= 0 {
		c.Conns = 4
	}
	c.Conns = min(c.Conns, c.Workers)
	if c.BodySize <= 0 {
		c.BodySize = 1024
	}
	if c.PauseMax < c.PauseMin {
		c.PauseMax = c.PauseMin
	}
	if c.Duration <= 0 {
		c.Duration = 30 * time.Second
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 10 * time.Second
	}
	if c.Recorder == nil {
		c.Recorder = NewRecorder()
	}
	return c
}

// Load is a running load generator.
type Load struct {
	cfg        LoadConfig
	tls        bool
	transports []*http2.Transport
	stop       chan struct{}
	stopOnce   sync.Once
	done       chan struct{} // closed when every worker has returned
	deadline   time.Time

	shutdownAt atomic.Int64 // UnixNano when a shutdown began; 0 before
	ok         atomic.Int64

	mu     sync.Mutex
	counts Counts
}

// StartLoad starts the workers. Stop ends them early; Wait returns the counts.
func StartLoad(cfg LoadConfig) (*Load, error) {
	cfg = cfg.withDefaults()
	var useTLS bool
	switch {
	case strings.HasPrefix(cfg.URL, "https://"):
		useTLS = true
	case strings.HasPrefix(cfg.URL, "http://"):
	default:
		return nil, fmt.Errorf("experiment: load URL %q is neither http:// nor https://", cfg.URL)
	}
	l := &Load{
		cfg:      cfg,
		tls:      useTLS,
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		deadline: time.Now().Add(cfg.Duration),
	}
	for range cfg.Conns {
		tr := l.newTransport()
		// Open the transport's connection before the workers share it:
		// concurrent first requests can make a transport dial twice (Go
		// 1.27's net/http gives up waiting for a coalesced dial after 50ms
		// and dials again). The warm-up request is not counted.
		if err := l.warmUp(tr); err != nil {
			for _, tr := range append(l.transports, tr) {
				tr.CloseIdleConnections()
			}
			return nil, fmt.Errorf("experiment: opening a client connection: %w", err)
		}
		l.transports = append(l.transports, tr)
	}
	var wg sync.WaitGroup
	for i := range cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.worker(i)
		}()
	}
	go func() {
		wg.Wait()
		for _, tr := range l.transports {
			tr.CloseIdleConnections()
		}
		close(l.done)
	}()
	return l, nil
}

// newTransport makes the transport of one client connection. A fresh
// http2.Transport per connection is what makes "64 workers over 4
// connections" four connections: each transport keeps one connection to the
// server (it opens another only when the server sends GOAWAY).
func (l *Load) newTransport() *http2.Transport {
	tr := &http2.Transport{
		AllowHTTP: !l.tls,
		TLSClientConfig: &tls.Config{
			InsecureSkipVerify: true, // the experiment's own self-signed certificate
			NextProtos:         []string{"h2"},
		},
	}
	tr.DialTLSContext = func(ctx context.Context, network, addr string, cfg *tls.Config) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, &dialError{err}
		}
		if !l.tls {
			return l.cfg.Recorder.Wrap(c, ClientSide), nil
		}
		tc := tls.Client(c, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			c.Close()
			return nil, &dialError{err}
		}
		if p := tc.ConnectionState().NegotiatedProtocol; p != "h2" {
			tc.Close()
			return nil, &dialError{fmt.Errorf("experiment: server negotiated %q, not h2", p)}
		}
		return l.cfg.Recorder.Wrap(tc, ClientSide), nil
	}
	return tr
}

func (l *Load) warmUp(tr *http2.Transport) error {
	ctx, cancel := context.WithTimeout(context.Background(), l.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.cfg.URL, nil)
	if err != nil {
		return err
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// dialError marks errors of our dialer: the request never reached a server.
type dialError struct{ err error }

func (e *dialError) Error() string { return "dial: " + e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// ShutdownBegan tells the load that a shutdown has begun: from now on,
// requests that never reached a server count as ListenerClosed.
func (l *Load) ShutdownBegan() {
	l.shutdownAt.CompareAndSwap(0, time.Now().UnixNano())
}

// Stop asks the workers to stop after their current request.
func (l *Load) Stop() { l.stopOnce.Do(func() { close(l.stop) }) }

// Done is closed when every worker has returned.
func (l *Load) Done() <-chan struct{} { return l.done }

// OK returns how many requests have succeeded so far.
func (l *Load) OK() int64 { return l.ok.Load() }

// Recorder returns the recorder of the client's connections.
func (l *Load) Recorder() *Recorder { return l.cfg.Recorder }

// Wait waits for the workers to return — when their requests, the
// Duration or Stop end them — and returns the counts.
func (l *Load) Wait() Counts {
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.counts
}

func (l *Load) stopped() bool {
	select {
	case <-l.stop:
		return true
	default:
		return time.Now().After(l.deadline)
	}
}

func (l *Load) worker(i int) {
	tr := l.transports[i%len(l.transports)]
	rng := rand.New(rand.NewPCG(l.cfg.Seed, uint64(i)))
	var pause *time.Timer
	for n := 0; l.cfg.RequestsPerWorker == 0 || n < l.cfg.RequestsPerWorker; n++ {
		if l.stopped() {
			return
		}
		post := rng.Float64() < l.cfg.PostFraction
		out := l.request(tr, post)
		if out == outcomeListenerClosed {
			return // the server is gone; a real client would go elsewhere
		}
		if l.cfg.PauseMax <= 0 {
			continue
		}
		d := l.cfg.PauseMin
		if span := l.cfg.PauseMax - l.cfg.PauseMin; span > 0 {
			d += time.Duration(rng.Int64N(int64(span) + 1))
		}
		// The pause is the experiment itself (a client that sends a request
		// every so often), not a wait for a goroutine.
		if pause == nil {
			pause = time.NewTimer(d)
		} else {
			pause.Reset(d)
		}
		select {
		case <-pause.C:
		case <-l.stop:
			return
		}
	}
}

// Failure describes one failed request.
type Failure struct {
	At             time.Time
	Err            error
	Cause          Cause
	Post           bool
	ListenerClosed bool
	NotSent        bool
	// OpenedAfterGoAway: the client wrote the request's HEADERS after it
	// had taken in a GOAWAY on that connection (see Counts).
	OpenedAfterGoAway bool
	// Conns is how many connections the client handed the request to
	// (more than one: it replayed it).
	Conns int
	// Conn is what the last of them saw, when it was one of ours.
	Conn *ConnRecord
}

type outcome uint8

const (
	outcomeOK outcome = iota
	outcomeFailed
	outcomeListenerClosed
	outcomeNotSent
	outcomeOpenedAfterGoAway
)

// request sends one request and counts its outcome.
func (l *Load) request(tr *http2.Transport, post bool) outcome {
	ctx, cancel := context.WithTimeout(context.Background(), l.cfg.RequestTimeout)
	defer cancel()
	var (
		traceMu sync.Mutex
		conn    net.Conn
		conns   int
		wrote   bool
		late    bool // the HEADERS were written after the connection's client took in a GOAWAY
	)
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) {
			traceMu.Lock()
			if info.Conn != conn {
				conns++
			}
			conn = info.Conn
			late = false // a new attempt
			traceMu.Unlock()
		},
		WroteHeaders: func() {
			traceMu.Lock()
			wrote = true
			// The client's PING ACK after a GOAWAY is on the wire already,
			// so these HEADERS, encoded now, follow it.
			if rc := asRecConn(conn); rc != nil && rc.ackedAfterGoAway() {
				late = true
			}
			traceMu.Unlock()
		},
	})
	err := l.roundTrip(ctx, tr, post)

	traceMu.Lock()
	c, nconns, sent, afterGoAway := conn, conns, wrote, late
	traceMu.Unlock()
	replayed := nconns > 1
	out := outcomeOK
	if err != nil {
		switch {
		case l.neverReachedServer(err, c):
			out = outcomeListenerClosed
		case c != nil && !sent:
			out = outcomeNotSent
		case afterGoAway:
			out = outcomeOpenedAfterGoAway
		default:
			out = outcomeFailed
		}
		if l.cfg.OnFailure != nil {
			f := Failure{At: time.Now(), Err: err, Cause: Classify(err), Post: post,
				ListenerClosed: out == outcomeListenerClosed, NotSent: out == outcomeNotSent,
				OpenedAfterGoAway: out == outcomeOpenedAfterGoAway, Conns: nconns}
			if rc := asRecConn(c); rc != nil {
				r := rc.record()
				f.Conn = &r
			}
			l.cfg.OnFailure(f)
		}
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	cs := &l.counts
	cs.Requests++
	if post {
		cs.Posts++
	} else {
		cs.Gets++
	}
	if replayed {
		cs.Replayed++
	}
	switch out {
	case outcomeOK:
		cs.OK++
		l.ok.Add(1)
	case outcomeListenerClosed:
		cs.ListenerClosed++
	case outcomeNotSent:
		cs.NotSent++
		if cs.NotSentExample == "" {
			cs.NotSentExample = err.Error()
		}
	case outcomeOpenedAfterGoAway:
		cs.OpenedAfterGoAway++
		if cs.OpenedAfterGoAwayExample == "" {
			cs.OpenedAfterGoAwayExample = err.Error()
		}
	case outcomeFailed:
		cs.Failed++
		if post {
			cs.FailedPosts++
		} else {
			cs.FailedGets++
		}
		cause := Classify(err)
		cs.ByCause[cause]++
		if cs.Examples[cause] == "" {
			cs.Examples[cause] = err.Error()
		}
	}
	return out
}

// neverReachedServer applies the ListenerClosed rule (see Counts): a
// shutdown had begun, and the request's dial failed or its connection never
// received a byte from the server.
func (l *Load) neverReachedServer(err error, c net.Conn) bool {
	if l.shutdownAt.Load() == 0 {
		return false
	}
	var de *dialError
	if errors.As(err, &de) {
		return true
	}
	if c == nil {
		// No connection was handed to the request. With our dialer that
		// means a dial failed (some transports do not wrap its error).
		return Classify(err) == CauseRefused
	}
	return receivedBytes(c) == 0
}

func asRecConn(c net.Conn) *recConn {
	switch c := c.(type) {
	case *recConn:
		return c
	case recTLSConn:
		return c.recConn
	}
	return nil
}

func receivedBytes(c net.Conn) int64 {
	rc := asRecConn(c)
	if rc == nil {
		return -1 // not ours: assume it reached a server
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.rec.BytesReceived
}

func (l *Load) roundTrip(ctx context.Context, tr *http2.Transport, post bool) error {
	method := http.MethodGet
	var body io.Reader
	if post {
		method = http.MethodPost
		body = &onceBody{left: l.cfg.BodySize}
	}
	req, err := http.NewRequestWithContext(ctx, method, l.cfg.URL, body)
	if err != nil {
		return err
	}
	if post {
		// What makes the body non-replayable: net/http sets GetBody only for
		// the bytes and strings readers it knows, and NoBody is replayable.
		if req.GetBody != nil || req.Body == http.NoBody {
			return errors.New("experiment: POST body is replayable; the experiment would hide failures")
		}
		req.ContentLength = int64(l.cfg.BodySize)
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || string(b) != "ok" {
		return fmt.Errorf("%w: %s %q", errBadAnswer, resp.Status, b)
	}
	return nil
}

// onceBody is a request body that can be read only once: a type of our own,
// so that neither net/http nor the HTTP/2 client can rewind or replay it.
type onceBody struct{ left int }

func (b *onceBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, io.EOF
	}
	n := min(len(p), b.left)
	for i := range p[:n] {
		p[i] = 'x'
	}
	b.left -= n
	return n, nil
}
