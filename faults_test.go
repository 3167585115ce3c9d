package h2lifecycle_test

// Fault injection: connections that break at random byte offsets, in both
// directions, under load and while drains run. Whatever the peer's
// connection does — close, reset, stall mid-frame, in either direction —
// the server must not panic or leak, every handler must return, every
// supervised connection must reach closed, and Shutdown and Drain must end
// within their contexts.

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/h2lifecycle/h2lifecycle/drain"
	"github.com/h2lifecycle/h2lifecycle/server"
)

// faultMode is how a faultConn breaks.
type faultMode int

const (
	faultNone       faultMode = iota
	faultCloseWrite           // close after writing `at` bytes (the write is cut there)
	faultCloseRead            // close after reading `at` bytes
	faultResetWrite           // the same, with SO_LINGER 0: the kernel sends RST
	faultResetRead
	faultStallWrite // stop writing mid-stream for a while, then close
	faultStallRead  // stop reading (the server's writes back up), then close
	numFaultModes
)

var faultNames = [...]string{"none", "close-write", "close-read", "reset-write", "reset-read", "stall-write", "stall-read"}

func (m faultMode) String() string { return faultNames[m] }

var errFault = errors.New("injected fault")

// faultConn is a client's TCP connection that breaks at a byte offset.
type faultConn struct {
	*net.TCPConn
	mode   faultMode
	at     int64 // byte offset of the fault, in the mode's direction
	stall  time.Duration
	nr, nw atomic.Int64

	tripOnce  sync.Once
	closeOnce sync.Once
	closed    chan struct{}
}

func newFaultConn(c *net.TCPConn, rng *rand.Rand) *faultConn {
	fc := &faultConn{TCPConn: c, closed: make(chan struct{})}
	if rng.IntN(10) < 7 { // most connections break
		fc.mode = faultMode(1 + rng.IntN(int(numFaultModes)-1))
		// Anywhere from the preface to deep into responses.
		fc.at = int64(rng.IntN(1 << (6 + rng.IntN(10))))
		fc.stall = time.Duration(50+rng.IntN(400)) * time.Millisecond
	}
	return fc
}

func (c *faultConn) writeFault() bool {
	return c.mode == faultCloseWrite || c.mode == faultResetWrite || c.mode == faultStallWrite
}

func (c *faultConn) readFault() bool {
	return c.mode == faultCloseRead || c.mode == faultResetRead || c.mode == faultStallRead
}

// trip breaks the connection, once.
func (c *faultConn) trip() {
	c.tripOnce.Do(func() {
		switch c.mode {
		case faultResetWrite, faultResetRead:
			c.SetLinger(0)
		case faultStallWrite, faultStallRead:
			t := time.NewTimer(c.stall) // a peer that hangs for a while
			select {
			case <-t.C:
			case <-c.closed:
			}
			t.Stop()
		}
		c.Close()
	})
}

func (c *faultConn) Write(p []byte) (int, error) {
	if !c.writeFault() {
		n, err := c.TCPConn.Write(p)
		c.nw.Add(int64(n))
		return n, err
	}
	left := c.at - c.nw.Load()
	if left >= int64(len(p)) {
		n, err := c.TCPConn.Write(p)
		c.nw.Add(int64(n))
		return n, err
	}
	n := 0
	if left > 0 {
		n, _ = c.TCPConn.Write(p[:left]) // cut mid-frame, most likely
		c.nw.Add(int64(n))
	}
	c.trip()
	return n, errFault
}

func (c *faultConn) Read(p []byte) (int, error) {
	if !c.readFault() {
		return c.TCPConn.Read(p)
	}
	left := c.at - c.nr.Load()
	if left <= 0 {
		c.trip()
		return 0, errFault
	}
	if int64(len(p)) > left {
		p = p[:left]
	}
	n, err := c.TCPConn.Read(p)
	c.nr.Add(int64(n))
	return n, err
}

func (c *faultConn) Close() error {
	err := net.ErrClosed
	c.closeOnce.Do(func() {
		close(c.closed)
		err = c.TCPConn.Close()
	})
	return err
}

// faultDialer dials 127.0.0.1 connections that break, counting the faults.
type faultDialer struct {
	addr   string
	tls    bool
	mu     sync.Mutex
	rng    *rand.Rand
	conns  atomic.Int64
	faults [numFaultModes]atomic.Int64
}

func (d *faultDialer) dial(ctx context.Context) (net.Conn, error) {
	var nd net.Dialer
	c, err := nd.DialContext(ctx, "tcp", d.addr)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	fc := newFaultConn(c.(*net.TCPConn), d.rng)
	d.mu.Unlock()
	d.conns.Add(1)
	d.faults[fc.mode].Add(1)
	if !d.tls {
		return fc, nil
	}
	tc := tls.Client(fc, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}})
	hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		fc.Close()
		return nil, err
	}
	return tc, nil
}

// faultHandler counts its entries and exits; it reads the body, then
// writes a response of the size the query asks for, in flushed chunks.
type faultHandler struct {
	entered, exited atomic.Int64
	exits           chan struct{}
}

func (h *faultHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.entered.Add(1)
	defer func() {
		h.exited.Add(1)
		select {
		case h.exits <- struct{}{}:
		default:
		}
	}()
	if _, err := io.Copy(io.Discard, r.Body); err != nil {
		return
	}
	n, _ := strconv.Atoi(r.URL.Query().Get("n"))
	chunk := bytes.Repeat([]byte("r"), 4096)
	for n > 0 {
		k := min(n, len(chunk))
		if _, err := w.Write(chunk[:k]); err != nil {
			return
		}
		w.(http.Flusher).Flush()
		n -= k
	}
}

// TestFaultInjection breaks hundreds of client connections at random byte
// offsets — closed, reset or stalled, reading or writing — while the Go
// client and a raw-frame client load the server and drains run every few
// milliseconds. Then: every handler returned, Shutdown ended within its
// context, net/http closed every connection, the snapshot is empty, and
// every supervised connection logged its end exactly once.
func TestFaultInjection(t *testing.T) {
	budget, wantFaults := 8*time.Second, 300
	if testing.Short() {
		budget, wantFaults = 2*time.Second, 60
	}
	eachSubject(t, supervisedOnly, bothTransports, func(t *testing.T, _, tlsOn bool) {
		core, logs := observer.New(zap.DebugLevel)
		h := &faultHandler{exits: make(chan struct{}, 1)}
		hs := &http.Server{Handler: h, ErrorLog: quietLog}
		cfg := server.Config{Drain: drain.Config{Grace: 2 * time.Second, Linger: 200 * time.Millisecond}}
		rg := startSubject(t, hs, setup{tls: tlsOn, cfg: cfg, opts: []server.Option{server.WithLogger(zap.New(core))}})
		seed := uint64(time.Now().UnixNano())
		t.Logf("seed %d", seed) // the faults drawn; timing decides the rest
		fd := &faultDialer{addr: rg.addr, tls: tlsOn, rng: rand.New(rand.NewPCG(seed, 1))}

		stop := make(chan struct{})
		deadline := time.Now().Add(budget)
		running := func() bool {
			select {
			case <-stop:
				return false
			default:
			}
			faults := fd.conns.Load() - fd.faults[faultNone].Load()
			return time.Now().Before(deadline) && faults < int64(wantFaults)
		}
		var ok, failed atomic.Int64
		var wg sync.WaitGroup

		// The Go client: one transport per worker; broken connections are
		// redialled.
		for w := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(seed, uint64(w)))
				tr := &http2.Transport{AllowHTTP: true, DialTLSContext: func(ctx context.Context, _, _ string, _ *tls.Config) (net.Conn, error) {
					return fd.dial(ctx)
				}}
				defer tr.CloseIdleConnections()
				cl := &http.Client{Transport: tr, Timeout: 5 * time.Second}
				scheme := map[bool]string{false: "http", true: "https"}[tlsOn]
				for i := 0; running(); i++ {
					url := fmt.Sprintf("%s://%s/?n=%d", scheme, rg.addr, rng.IntN(32<<10))
					var req *http.Request
					if rng.IntN(2) == 0 {
						req, _ = http.NewRequest("GET", url, nil)
					} else {
						req, _ = http.NewRequest("POST", url, bytes.NewReader(make([]byte, rng.IntN(24<<10))))
					}
					resp, err := cl.Do(req)
					if err == nil {
						_, err = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
					if err != nil {
						failed.Add(1)
					} else {
						ok.Add(1)
					}
					if i%8 == 7 {
						tr.CloseIdleConnections() // new connections, new faults
					}
				}
			}()
		}
		// The raw client: a few streams per connection, bodies cut anywhere.
		for w := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(seed, 100+uint64(w)))
				for running() {
					rawFaultyConn(fd, tlsOn, rng)
				}
			}()
		}
		// Drains of every connection, again and again, each bounded.
		var drains, drainErrs atomic.Int64
		drainDone := make(chan struct{})
		go func() {
			defer close(drainDone)
			var dwg sync.WaitGroup
			defer dwg.Wait()
			rng := rand.New(rand.NewPCG(seed, 200))
			sem := make(chan struct{}, 4)
			for {
				select {
				case <-stop:
					return
				case <-time.After(time.Duration(5+rng.IntN(30)) * time.Millisecond):
				}
				select {
				case sem <- struct{}{}:
				default:
					continue // four drains already under way
				}
				dwg.Add(1)
				go func() {
					defer dwg.Done()
					defer func() { <-sem }()
					const d = 3 * time.Second
					ctx, cancel := context.WithTimeout(context.Background(), d)
					defer cancel()
					start := time.Now()
					if err := rg.srv.Drain(ctx); err != nil {
						drainErrs.Add(1)
					}
					if took := time.Since(start); took > d+2*time.Second {
						t.Errorf("Drain took %v with a %v context", took, d)
					}
					drains.Add(1)
				}()
			}
		}()

		wg.Wait()
		close(stop)
		<-drainDone

		// Everything ends within its context.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		start := time.Now()
		if err := rg.srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if took := time.Since(start); took > 12*time.Second {
			t.Errorf("Shutdown took %v with a 10s context", took)
		}
		rg.conns.waitClosed(t, 15*time.Second)
		if snap := rg.srv.Snapshot(); len(snap) != 0 {
			t.Errorf("%d supervised connections left: %+v", len(snap), snap)
		}
		waitHandlers(t, h, 10*time.Second)

		// Every supervised connection logged its end, once.
		ends := map[uint64]int{}
		var maxID uint64
		for _, e := range logs.All() {
			id, ok := e.ContextMap()["conn"].(uint64)
			if !ok {
				continue
			}
			maxID = max(maxID, id)
			switch e.Message {
			case "http2 connection drained", "http2 connection closed", "http2 connection ended":
				ends[id]++
			}
		}
		for id := uint64(1); id <= maxID; id++ {
			if ends[id] != 1 {
				t.Errorf("supervised connection %d logged %d ends, want 1", id, ends[id])
			}
		}

		var byMode []string
		for m := faultNone; m < numFaultModes; m++ {
			byMode = append(byMode, fmt.Sprintf("%v=%d", m, fd.faults[m].Load()))
		}
		t.Logf("%d connections (%s), %d supervised; requests: %d ok, %d failed; handlers: %d entered, %d exited; %d drains (%d ended by their context)",
			fd.conns.Load(), joinComma(byMode), maxID, ok.Load(), failed.Load(), h.entered.Load(), h.exited.Load(), drains.Load(), drainErrs.Load())
		if n := fd.conns.Load() - fd.faults[faultNone].Load(); n < int64(wantFaults)/4 {
			t.Errorf("only %d connections broke: the test did not exercise faults", n)
		}
		if ok.Load() == 0 {
			t.Error("no request succeeded: the server did not serve under faults")
		}
	})
}

func joinComma(s []string) string {
	var b bytes.Buffer
	for i, x := range s {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(x)
	}
	return b.String()
}

// waitHandlers waits until every handler that entered has returned.
func waitHandlers(t *testing.T, h *faultHandler, d time.Duration) {
	t.Helper()
	timeout := time.NewTimer(d)
	defer timeout.Stop()
	for h.entered.Load() != h.exited.Load() {
		select {
		case <-h.exits:
		case <-timeout.C:
			t.Fatalf("handlers: %d entered, %d exited after %v", h.entered.Load(), h.exited.Load(), d)
		}
	}
}

// rawFaultyConn runs one raw-frame connection over a breaking conn: a few
// requests, some with bodies, sometimes a reset stream or an ACK it never
// sends, then a close. Errors end it: the fault is the point.
func rawFaultyConn(fd *faultDialer, tlsOn bool, rng *rand.Rand) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := fd.dial(ctx)
	if err != nil {
		return
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fr := http2.NewFramer(c, c)
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		return
	}
	if fr.WriteSettings() != nil {
		return
	}
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	scheme := map[bool]string{false: "http", true: "https"}[tlsOn]
	streams := 1 + rng.IntN(4)
	for i := range streams {
		id := uint32(2*i + 1)
		post := rng.IntN(2) == 0
		hb.Reset()
		for _, kv := range [][2]string{{":method", map[bool]string{false: "GET", true: "POST"}[post]}, {":scheme", scheme},
			{":authority", "x"}, {":path", "/?n=" + strconv.Itoa(rng.IntN(16<<10))}} {
			enc.WriteField(hpack.HeaderField{Name: kv[0], Value: kv[1]})
		}
		if fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hb.Bytes(), EndHeaders: true, EndStream: !post}) != nil {
			return
		}
		if post && fr.WriteData(id, true, make([]byte, rng.IntN(16<<10))) != nil {
			return
		}
		if rng.IntN(8) == 0 && fr.WriteRSTStream(id, http2.ErrCodeCancel) != nil {
			return
		}
	}
	ackPings := rng.IntN(4) != 0 // some peers never answer our PING
	for range 10000 {
		f, err := fr.ReadFrame()
		if err != nil {
			return
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() && fr.WriteSettingsAck() != nil {
				return
			}
		case *http2.PingFrame:
			if !f.IsAck() && ackPings && fr.WritePing(true, f.Data) != nil {
				return
			}
		case *http2.DataFrame:
			if n := f.Length; n > 0 {
				if fr.WriteWindowUpdate(0, n) != nil || fr.WriteWindowUpdate(f.StreamID, n) != nil {
					return
				}
			}
		}
	}
}
