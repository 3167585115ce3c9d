package h2lifecycle_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/zap"
	"golang.org/x/net/http2"

	"github.com/h2lifecycle/h2lifecycle/idle"
	"github.com/h2lifecycle/h2lifecycle/internal/h2test"
	"github.com/h2lifecycle/h2lifecycle/lifecycle"
	"github.com/h2lifecycle/h2lifecycle/server"
)

// expectNotice reads GOAWAY(2^31-1) with the given reason and our PING, and
// returns the PING's data.
func expectNotice(t *testing.T, c *h2test.Client, reason string) [8]byte {
	t.Helper()
	ga := c.ExpectGoAway()
	if ga.LastStreamID != 1<<31-1 || string(ga.DebugData()) != reason {
		t.Fatalf("first GOAWAY last=%d debug=%q, want 2147483647 %q", ga.LastStreamID, ga.DebugData(), reason)
	}
	f, err := c.ReadFrame()
	p, ok := f.(*http2.PingFrame)
	if err != nil || !ok || p.IsAck() {
		t.Fatalf("after GOAWAY #1: %v %v", f, err)
	}
	return p.Data
}

// TestMaxConnectionAge: a connection is drained at its age, within ±10%
// jitter, and connections made together end at spread-out times.
func TestMaxConnectionAge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const age = 10 * time.Second
		b := startSubject(t, &http.Server{Handler: http.HandlerFunc(okHandler)}, setup{bubble: true, cfg: server.Config{Policy: idle.Policy{MaxConnectionAge: age}}, recordLogs: true})
		born := time.Now()
		const n = 20
		ends := make(chan time.Duration, n)
		for range n {
			c := b.client()
			c.Handshake()
			c.WriteHeaders(1, true)
			c.ExpectResponse(1)
			c.Timeout = time.Minute
			go func() {
				c.ReadUntil(func(f http2.Frame) bool {
					ga, ok := f.(*http2.GoAwayFrame)
					return ok && ga.LastStreamID == 1<<31-1
				})
				ends <- time.Since(born)
				c.Conn.Close()
			}()
		}
		lo, hi, distinct := age, time.Duration(0), map[time.Duration]bool{}
		for range n {
			d := <-ends
			lo, hi, distinct[d] = min(lo, d), max(hi, d), true
		}
		if lo < age*9/10 || hi > age*11/10 {
			t.Errorf("drains between %v and %v, want within [%v, %v]", lo, hi, age*9/10, age*11/10)
		}
		if len(distinct) < n/2 {
			t.Errorf("only %d distinct drain times for %d connections: no jitter", len(distinct), n)
		}
		b.stop()
	})
}

// TestMaxConnectionAgeGrace: a max_age drain cuts a stream still running
// at MaxConnectionAgeGrace.
func TestMaxConnectionAgeGrace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctxErr := make(chan error, 1)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done() // runs until cut
			ctxErr <- r.Context().Err()
		})
		pol := idle.Policy{MaxConnectionAge: time.Second, MaxConnectionAgeGrace: 3 * time.Second}
		b := startSubject(t, &http.Server{Handler: h}, setup{bubble: true, cfg: server.Config{Policy: pol}, recordLogs: true})
		c := b.client()
		c.Handshake()
		c.Timeout = time.Minute
		c.WriteHeaders(1, true)
		data := expectNotice(t, c, "max_age")
		noticeAt := time.Now()
		c.WritePingAck(data)
		if err := c.ReadUntilClosed(nil); err != nil && !errors.Is(err, io.EOF) {
			t.Logf("connection ended with %v", err)
		}
		c.Conn.Close()
		if err := <-ctxErr; err == nil {
			t.Error("the handler's context was not cancelled")
		}
		if got := time.Since(noticeAt); got != pol.MaxConnectionAgeGrace {
			t.Errorf("stream cut %v after the drain began, want MaxConnectionAgeGrace %v", got, pol.MaxConnectionAgeGrace)
		}
		synctest.Wait()
		if l := b.drainedLine(); l["reason"] != "max_age" || l["grace_expired"] != true {
			t.Errorf("drained line %v", l)
		}
		b.stop()
	})
}

// TestMaxStreamsPerConnection: the stream that reaches the limit is served,
// then the connection drains; a stream crossing GOAWAY #1 is served too.
func TestMaxStreamsPerConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := startSubject(t, &http.Server{Handler: http.HandlerFunc(okHandler)}, setup{bubble: true, cfg: server.Config{Policy: idle.Policy{MaxStreamsPerConnection: 3}}, recordLogs: true})
		c := b.client()
		c.Handshake()
		c.AutoAck = false
		for _, id := range []uint32{1, 3, 5} {
			c.WriteHeaders(id, true)
		}
		var finals []uint32
		w := readAllThen(t, c, func(f http2.Frame) {
			switch f := f.(type) {
			case *http2.GoAwayFrame:
				if f.LastStreamID == 1<<31-1 {
					if string(f.DebugData()) != "max_streams" {
						t.Errorf("GOAWAY #1 debug %q", f.DebugData())
					}
					return
				}
				finals = append(finals, f.LastStreamID)
			case *http2.PingFrame:
				if !f.IsAck() {
					c.WriteHeaders(7, true) // crossing GOAWAY #1
					c.WritePingAck(f.Data)
				}
			}
		})
		for _, id := range []uint32{1, 3, 5, 7} {
			if !w.ended[id] || w.bodies[id] != "ok" {
				t.Errorf("stream %d not served: %v", id, w.frames)
			}
		}
		if len(finals) != 1 || finals[0] != 7 {
			t.Errorf("final GOAWAYs %v, want [7]", finals)
		}
		synctest.Wait()
		if l := b.drainedLine(); l["reason"] != "max_streams" {
			t.Errorf("drained line %v", l)
		}
		b.stop()
	})
}

// TestHeaderTimeout: a peer that sends the preface but not its SETTINGS is
// closed at HeaderTimeout; one that leaves a header block incomplete has the
// stream reset and the connection ended at HeaderTimeout after the block
// began; a block that completes in time is served.
func TestHeaderTimeout(t *testing.T) {
	const timeout = 2 * time.Second
	cfg := server.Config{Policy: idle.Policy{HeaderTimeout: timeout}}
	t.Run("no SETTINGS", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := startSubject(t, &http.Server{Handler: http.HandlerFunc(okHandler)}, setup{bubble: true, cfg: cfg, recordLogs: true})
			c := b.client()
			born := time.Now()
			c.WritePreface() // and nothing more
			c.Timeout = time.Minute
			if err := c.ReadUntilClosed(nil); err != nil && !h2test.IsTimeout(err) {
				t.Logf("closed with %v", err)
			}
			if got := time.Since(born); got != timeout {
				t.Errorf("closed %v after the connection began, want HeaderTimeout %v", got, timeout)
			}
			c.Conn.Close()
			b.stop()
		})
	})
	t.Run("incomplete header block", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := startSubject(t, &http.Server{Handler: http.HandlerFunc(okHandler)}, setup{bubble: true, cfg: cfg, recordLogs: true})
			c := b.client()
			c.Handshake()
			h2test.Advance(5 * time.Second) // long after the handshake: only the block counts
			block := c.EncodeHeaders(":method", "GET", ":scheme", "http", ":authority", "x", ":path", "/")
			c.Framer.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block[:3]}) // no END_HEADERS
			started := time.Now()
			var rst http2.ErrCode = 99
			var goAway string
			c.Timeout = time.Minute
			c.ReadUntilClosed(func(f http2.Frame) {
				switch f := f.(type) {
				case *http2.RSTStreamFrame:
					rst = f.ErrCode
				case *http2.GoAwayFrame:
					goAway = fmt.Sprintf("GOAWAY(%d, %v, %q)", f.LastStreamID, f.ErrCode, f.DebugData())
				}
			})
			if got := time.Since(started); got != timeout {
				t.Errorf("cut %v after the block began, want %v", got, timeout)
			}
			if rst != http2.ErrCodeCancel || goAway != `GOAWAY(0, NO_ERROR, "header_timeout")` {
				t.Errorf("RST_STREAM %v, %s; want CANCEL and GOAWAY(0, NO_ERROR, \"header_timeout\")", rst, goAway)
			}
			c.Conn.Close()
			b.stop()
		})
	})
	t.Run("slow but in time", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := startSubject(t, &http.Server{Handler: http.HandlerFunc(okHandler)}, setup{bubble: true, cfg: cfg, recordLogs: true})
			c := b.client()
			c.Handshake()
			block := c.EncodeHeaders(":method", "GET", ":scheme", "http", ":authority", "x", ":path", "/")
			c.Framer.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block[:3]})
			h2test.Advance(timeout - time.Millisecond)
			c.Framer.WriteContinuation(1, true, block[3:])
			if res := c.ExpectResponse(1); string(res.Body) != "ok" {
				t.Errorf("response %q", res.Body)
			}
			b.stop()
		})
	})
}

// TestMaxStreamDuration: a stream older than the limit is reset and its
// handler's context cancelled, at exactly the limit; a handler that lifts
// or extends its own limits is left alone.
func TestMaxStreamDuration(t *testing.T) {
	const limit = 3 * time.Second
	for _, tc := range []struct {
		path   string
		lasts  time.Duration // how long the handler runs if not cut
		cut    bool
		cutsAt time.Duration
	}{
		{"/plain", time.Hour, true, limit},
		{"/lift", 10 * time.Second, false, 0},
		{"/extend", time.Hour, true, 20 * time.Second},
	} {
		t.Run(tc.path, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				done := make(chan error, 1)
				h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					switch r.URL.Path {
					case "/lift":
						lifecycle.LiftStreamLimits(w)
					case "/extend":
						lifecycle.ExtendStream(w, 20*time.Second)
					}
					w.WriteHeader(200)
					http.NewResponseController(w).Flush()
					select {
					case <-r.Context().Done():
						done <- r.Context().Err()
					case <-time.After(tc.lasts):
						done <- nil
					}
				})
				b := startSubject(t, &http.Server{Handler: h}, setup{bubble: true, cfg: server.Config{Policy: idle.Policy{MaxStreamDuration: limit}}, recordLogs: true})
				c := b.client()
				c.Handshake()
				start := time.Now()
				c.WriteHeaders(1, true, ":path", tc.path)
				err := <-done
				if cut := err != nil; cut != tc.cut {
					t.Fatalf("handler context error %v, want cut=%v", err, tc.cut)
				}
				if tc.cut {
					if got := time.Since(start); got != tc.cutsAt {
						t.Errorf("cut after %v, want %v", got, tc.cutsAt)
					}
					if code := c.ExpectRSTStream(1); code != http2.ErrCodeCancel {
						t.Errorf("RST_STREAM %v, want CANCEL", code)
					}
				}
				b.stop()
			})
		})
	}
}

// TestStreamIdleTimeout: a stream with no body read or written for the
// timeout is reset; one that keeps writing is not; a lifted one is exempt.
func TestStreamIdleTimeout(t *testing.T) {
	const idleFor = 2 * time.Second
	for _, tc := range []struct {
		path string
		cut  bool
	}{{"/silent", true}, {"/chatty", false}, {"/lift", false}} {
		t.Run(tc.path, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				done := make(chan error, 1)
				h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path == "/lift" {
						lifecycle.LiftStreamLimits(w)
					}
					for i := range 10 { // ten seconds of work
						if r.URL.Path == "/chatty" || i == 0 {
							w.Write([]byte("tick\n"))
							http.NewResponseController(w).Flush()
						}
						select {
						case <-r.Context().Done():
							done <- r.Context().Err()
							return
						case <-time.After(time.Second):
						}
					}
					done <- nil
				})
				b := startSubject(t, &http.Server{Handler: h}, setup{bubble: true, cfg: server.Config{Policy: idle.Policy{StreamIdleTimeout: idleFor}}, recordLogs: true})
				c := b.client()
				c.Handshake(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 20})
				start := time.Now()
				c.WriteHeaders(1, true, ":path", tc.path)
				err := <-done
				if cut := err != nil; cut != tc.cut {
					t.Fatalf("handler context error %v, want cut=%v", err, tc.cut)
				}
				if tc.cut {
					if time.Since(start) != idleFor {
						t.Errorf("cut %v after the last write, want %v", time.Since(start), idleFor)
					}
					if code := c.ExpectRSTStream(1); code != http2.ErrCodeCancel {
						t.Errorf("RST_STREAM %v, want CANCEL", code)
					}
				}
				b.stop()
			})
		})
	}
}

// TestStreamResetCodes: with per-stream limits, a stream cut at its
// deadline is reset with CANCEL and a handler's panic keeps the server's
// INTERNAL_ERROR, on the same connection, whichever comes first, also after
// the stream's original deadline when the handler extended it. Without
// per-stream limits, http.Server.WriteTimeout's resets keep INTERNAL_ERROR,
// as stock.
func TestStreamResetCodes(t *testing.T) {
	const limit = 3 * time.Second
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		http.NewResponseController(w).Flush()
		panicAt := time.Duration(0) // none: wait to be cut
		switch r.URL.Path {
		case "/panic":
			panicAt = time.Second
		case "/extend-then-panic": // past the original deadline, before the new one
			lifecycle.ExtendStream(w, 10*time.Second)
			panicAt = 5 * time.Second
		case "/abort-late": // the deadline comes first
			panicAt = 2 * limit
		}
		wait := time.Hour
		if panicAt > 0 {
			wait = panicAt
		}
		select {
		case <-r.Context().Done():
		case <-time.After(wait):
		}
		if panicAt > 0 {
			panic(http.ErrAbortHandler)
		}
	})
	want := []struct {
		path string
		code http2.ErrCode
		at   time.Duration
	}{
		{"/panic", http2.ErrCodeInternal, time.Second},
		{"/cut", http2.ErrCodeCancel, limit},
		{"/extend-then-panic", http2.ErrCodeInternal, 5 * time.Second},
		{"/abort-late", http2.ErrCodeCancel, limit},
	}
	for _, pol := range []idle.Policy{{MaxStreamDuration: limit}, {StreamIdleTimeout: limit}} {
		t.Run(fmt.Sprintf("%+v", pol), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := startSubject(t, &http.Server{Handler: h}, setup{bubble: true, cfg: server.Config{Policy: pol}, recordLogs: true})
				c := b.client()
				c.Handshake()
				c.Timeout = time.Minute
				start := time.Now()
				for i, w := range want {
					c.WriteHeaders(uint32(2*i+1), true, ":path", w.path)
				}
				for range want {
					f, err := c.ReadUntil(func(f http2.Frame) bool { _, ok := f.(*http2.RSTStreamFrame); return ok })
					if err != nil {
						t.Fatal(err)
					}
					rst := f.(*http2.RSTStreamFrame)
					w := want[(rst.StreamID-1)/2]
					if rst.ErrCode != w.code || time.Since(start) != w.at {
						t.Errorf("%s: RST_STREAM(%v) after %v, want %v after %v", w.path, rst.ErrCode, time.Since(start), w.code, w.at)
					}
				}
				b.stop()
			})
		})
	}
	t.Run("WriteTimeout alone", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := startSubject(t, &http.Server{Handler: h, WriteTimeout: limit}, setup{bubble: true, recordLogs: true})
			c := b.client()
			c.Handshake()
			c.Timeout = time.Minute
			c.WriteHeaders(1, true, ":path", "/cut")
			if code := c.ExpectRSTStream(1); code != http2.ErrCodeInternal {
				t.Errorf("RST_STREAM %v, want INTERNAL_ERROR, as the stock server", code)
			}
			b.stop()
		})
	})
}

// TestKeepalive: the server PINGs a silent connection; a peer that ACKs
// keeps it, a dead one is closed at KeepaliveInterval+KeepaliveTimeout with
// reason keepalive_timeout.
func TestKeepalive(t *testing.T) {
	pol := idle.Policy{KeepaliveInterval: 10 * time.Second, KeepaliveTimeout: 3 * time.Second}
	t.Run("dead peer", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := startSubject(t, &http.Server{Handler: http.HandlerFunc(okHandler)}, setup{bubble: true, cfg: server.Config{Policy: pol}, recordLogs: true})
			c := b.client()
			c.Handshake()
			c.Timeout = time.Minute
			c.AutoAck = false
			silentFrom := time.Now()
			c.ReadUntil(func(f http2.Frame) bool { p, ok := f.(*http2.PingFrame); return ok && !p.IsAck() })
			if got := time.Since(silentFrom); got != pol.KeepaliveInterval {
				t.Errorf("keepalive PING after %v of silence, want %v", got, pol.KeepaliveInterval)
			}
			c.ReadUntilClosed(nil)
			if got := time.Since(silentFrom); got != pol.KeepaliveInterval+pol.KeepaliveTimeout {
				t.Errorf("dead connection closed after %v, want %v", got, pol.KeepaliveInterval+pol.KeepaliveTimeout)
			}
			c.Conn.Close()
			synctest.Wait()
			if l := b.logs.FilterField(zap.String("reason", "keepalive_timeout")).All(); len(l) != 1 {
				t.Errorf("want one connection ended for keepalive_timeout: %v", b.logs.All())
			}
			b.stop()
		})
	})
	t.Run("live peer", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := startSubject(t, &http.Server{Handler: http.HandlerFunc(okHandler)}, setup{bubble: true, cfg: server.Config{Policy: pol}, recordLogs: true})
			c := b.client()
			c.Handshake()
			c.Timeout = time.Minute
			pings := 0
			c.ReadUntil(func(f http2.Frame) bool { // ACKed as they come
				if p, ok := f.(*http2.PingFrame); ok && !p.IsAck() {
					pings++
				}
				return pings == 3
			})
			c.WriteHeaders(1, true)
			if res := c.ExpectResponse(1); string(res.Body) != "ok" {
				t.Errorf("after %d keepalive PINGs: %q", pings, res.Body)
			}
			b.stop()
			if l := b.logs.FilterField(zap.Duration("rtt", 0)).All(); len(l) != 0 {
				t.Logf("%v", l)
			}
		})
	})
}

// TestPingFlood: client PINGs closer than PingMinInterval are strikes; past
// PingMaxStrikes the connection ends with GOAWAY(ENHANCE_YOUR_CALM,
// "too_many_pings"). The same PINGs interleaved with response data are fine.
func TestPingFlood(t *testing.T) {
	pol := idle.Policy{PingMinInterval: time.Second, PingPermitWithoutStream: true}
	synctest.Test(t, func(t *testing.T) {
		b := startSubject(t, &http.Server{Handler: http.HandlerFunc(okHandler)}, setup{bubble: true, cfg: server.Config{Policy: pol}, recordLogs: true})
		polite := b.client()
		polite.Handshake()
		polite.Timeout = time.Minute
		for i := range 5 { // a PING after each response: data resets the strikes
			polite.WriteHeaders(uint32(2*i+1), true)
			polite.ExpectResponse(uint32(2*i + 1))
			polite.Sync()
		}
		flood := b.client()
		flood.Handshake()
		for i := range 10 {
			flood.WritePing([8]byte{'f', byte(i)})
			h2test.Advance(10 * time.Millisecond)
		}
		ga := flood.ExpectGoAway()
		if ga.ErrCode != http2.ErrCodeEnhanceYourCalm || string(ga.DebugData()) != "too_many_pings" {
			t.Errorf("GOAWAY %v %q, want ENHANCE_YOUR_CALM \"too_many_pings\"", ga.ErrCode, ga.DebugData())
		}
		if err := flood.WaitClosed(); err != nil {
			t.Errorf("flood connection: %v", err)
		}
		flood.Conn.Close()
		polite.WriteHeaders(11, true)
		polite.ExpectResponse(11)
		b.stop()
	})
}
