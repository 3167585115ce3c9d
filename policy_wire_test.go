package h2lifecycle_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/h2lifecycle/h2lifecycle/idle"
	"github.com/h2lifecycle/h2lifecycle/server"
)

// oneShot is a request body the client cannot replay: http.NewRequest sets
// GetBody only for the standard in-memory readers.
type oneShot struct{ io.Reader }

// TestMaxAgeUnderLoad: connections reach MaxConnectionAge and drain while
// the Go client sends non-replayable POSTs over them: no request fails, and
// the connections really rotate.
func TestMaxAgeUnderLoad(t *testing.T) {
	eachSubject(t, supervisedOnly, bothTransports, func(t *testing.T, _, tlsOn bool) {
		var conns atomic.Int64
		hs := &http.Server{
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				io.WriteString(w, "ok")
			}),
			ConnState: func(_ net.Conn, st http.ConnState) {
				if st == http.StateNew {
					conns.Add(1)
				}
			},
		}
		rg := startSubject(t, hs, setup{tls: tlsOn, cfg: server.Config{Policy: idle.Policy{MaxConnectionAge: 50 * time.Millisecond}}})
		const workers, transports = 16, 4
		// Run until the connections have rotated a good number of times
		// (bounded in time: a loaded machine may be slower).
		rotations := int64(40)
		if testing.Short() {
			rotations = 12
		}
		trs := make([]*http2.Transport, transports)
		for i := range trs {
			trs[i] = rg.transport()
		}
		var sent, failed, notSent atomic.Int64
		var firstErr atomic.Value
		deadline := time.Now().Add(20 * time.Second)
		done := func() bool { return conns.Load() >= rotations || time.Now().After(deadline) }
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cl := &http.Client{Transport: trs[w%transports], Timeout: 10 * time.Second}
				for i := 0; !done() && i < 100000; i++ {
					var req *http.Request
					if i%2 == 0 {
						req, _ = http.NewRequest("POST", rg.url()+"/", oneShot{strings.NewReader(strings.Repeat("b", 1024))})
					} else {
						req, _ = http.NewRequest("GET", rg.url()+"/", nil)
					}
					var wrote atomic.Bool
					req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
						WroteHeaders: func() { wrote.Store(true) },
					}))
					resp, err := cl.Do(req)
					if err == nil {
						body, _ := io.ReadAll(resp.Body)
						resp.Body.Close()
						if string(body) != "ok" {
							err = fmt.Errorf("status %d body %q", resp.StatusCode, body)
						}
					}
					sent.Add(1)
					switch {
					case err != nil && !wrote.Load():
						// Go 1.27's client fails a request with a body it
						// cannot rewind that it had not yet written when any
						// GOAWAY arrives, GOAWAY(2^31-1) included: no server
						// saw it (bench/experiment, TestUnsentRequestOnGoAway).
						notSent.Add(1)
					case err != nil:
						failed.Add(1)
						firstErr.CompareAndSwap(nil, err.Error())
					}
				}
			}()
		}
		wg.Wait()
		t.Logf("%d requests over %d connections (max age 50ms): %d failed; %d failed by the client before it sent them",
			sent.Load(), conns.Load(), failed.Load(), notSent.Load())
		if failed.Load() != 0 {
			t.Errorf("%d requests failed; first: %v", failed.Load(), firstErr.Load())
		}
		if conns.Load() < rotations {
			t.Errorf("only %d connections for %d transports in 20s: max age did not rotate them", conns.Load(), transports)
		}
	})
}

// TestHeaderTimeoutOnTheWire: on a real socket, a peer that sends the
// preface but never SETTINGS is cut, and so is one whose header block never
// completes, while a well-behaved client is served throughout.
func TestHeaderTimeoutOnTheWire(t *testing.T) {
	const timeout = 300 * time.Millisecond
	rg := startSubject(t, &http.Server{Handler: http.HandlerFunc(okHandler)}, setup{cfg: server.Config{Policy: idle.Policy{HeaderTimeout: timeout}}})

	silent := rg.client()
	silent.WritePreface()
	block := rg.client()
	block.Handshake()
	hb := block.EncodeHeaders(":method", "GET", ":scheme", "http", ":authority", "x", ":path", "/")
	block.Framer.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb[:2]})

	good := rg.client()
	good.Handshake()
	good.WriteHeaders(1, true)
	good.ExpectResponse(1)

	if err := silent.WaitClosed(); err != nil {
		t.Errorf("silent peer: %v", err)
	}
	var rst http2.ErrCode = 99
	if err := block.ReadUntilClosed(func(f http2.Frame) {
		if r, ok := f.(*http2.RSTStreamFrame); ok {
			rst = r.ErrCode
		}
	}); err != nil {
		t.Errorf("stuck header block: %v", err)
	}
	if rst != http2.ErrCodeCancel {
		t.Errorf("stuck header block: RST_STREAM %v, want CANCEL", rst)
	}
	good.WriteHeaders(3, true)
	good.ExpectResponse(3)
}

// TestMaxStreamDurationOnTheWire: with the Go client, a stream that runs
// past MaxStreamDuration is reset and its handler sees a cancelled context;
// a quick one on the same connection is unaffected.
func TestMaxStreamDurationOnTheWire(t *testing.T) {
	handlerErr := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/slow" {
			io.WriteString(w, "ok")
			return
		}
		w.WriteHeader(200)
		http.NewResponseController(w).Flush()
		select {
		case <-r.Context().Done():
			handlerErr <- r.Context().Err()
		case <-time.After(10 * time.Second):
			handlerErr <- nil
		}
	})
	rg := startSubject(t, &http.Server{Handler: h}, setup{tls: true, cfg: server.Config{Policy: idle.Policy{MaxStreamDuration: 200 * time.Millisecond}}})
	cl := &http.Client{Transport: rg.transport()}
	resp, err := cl.Get(rg.url() + "/slow")
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil || !strings.Contains(err.Error(), "CANCEL") {
		t.Errorf("slow stream body: %v, want a stream reset with CANCEL", err)
	}
	if err := <-handlerErr; err != context.Canceled {
		t.Errorf("slow handler's context: %v, want context.Canceled", err)
	}
	resp, err = cl.Get(rg.url() + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}
