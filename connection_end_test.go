package h2lifecycle_test

import (
	"io"
	"math"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/net/http2"

	"github.com/h2lifecycle/h2lifecycle/idle"
	"github.com/h2lifecycle/h2lifecycle/internal/h2test"
	"github.com/h2lifecycle/h2lifecycle/server"
)

// TestIdleConnectionsEnd: a connection that opens no stream is ended by the
// idle timeout whatever its client sent after the preface — nothing at all,
// or a SETTINGS ACK and no SETTINGS (x/net accepts that as the first frame)
// — no later than the stock server ends it plus one drain. An idle clock
// that started only at the client's first non-ACK SETTINGS would keep such
// connections open for ever.
func TestIdleConnectionsEnd(t *testing.T) {
	const idleTimeout = time.Second
	const drainBound = 3 * time.Second // notice, PING round trip or its 1 s floor, settle, FIN
	for _, after := range []string{"nothing", "SETTINGS ACK"} {
		t.Run(after, func(t *testing.T) {
			var lived [2]time.Duration
			for i, stock := range []bool{true, false} {
				synctest.Test(t, func(t *testing.T) {
					hs := &http.Server{Handler: http.HandlerFunc(okHandler), IdleTimeout: idleTimeout}
					b := startSubject(t, hs, setup{stock: stock, bubble: true})
					c := b.client()
					c.WritePreface()
					if after == "SETTINGS ACK" {
						c.WriteSettingsAck()
					}
					born := time.Now()
					if !closedWithin(c, 10*time.Minute) {
						t.Errorf("%s: the idle connection is still open after 10 minutes", subjectName(stock))
					}
					lived[i] = time.Since(born)
					c.Conn.Close()
					b.stop()
				})
			}
			t.Logf("closed after: stock %v, h2lifecycle %v", lived[0], lived[1])
			if lived[1] > lived[0]+drainBound {
				t.Errorf("h2lifecycle closed the idle connection %v after its preface; stock %v (+ %v for a drain)", lived[1], lived[0], drainBound)
			}
		})
	}
}

// TestHugeDurationsMeanNever: durations near math.MaxInt64 (grpc-go's
// "infinity") mean "never": no deadline arithmetic wraps around.
func TestHugeDurationsMeanNever(t *testing.T) {
	const huge = time.Duration(math.MaxInt64)
	t.Run("MaxConnectionAge", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			pol := idle.Policy{MaxConnectionAge: huge, MaxConnectionAgeGrace: huge}
			b := startSubject(t, &http.Server{Handler: http.HandlerFunc(okHandler)}, setup{bubble: true, cfg: server.Config{Policy: pol}})
			for range 20 { // the jitter is random: about half of them wrapped
				c := b.client()
				c.Handshake()
				c.WriteHeaders(1, true)
				c.ExpectResponse(1)
			}
			h2test.Advance(time.Hour) // fake time
			if n := len(b.srv.Snapshot()); n != 20 {
				t.Errorf("%d of 20 connections open after an hour with MaxConnectionAge %v", n, huge)
			}
			for _, s := range b.srv.Snapshot() {
				if s.State != "active" {
					t.Errorf("connection %d: %s (%s) with MaxConnectionAge %v", s.ID, s.State, s.Reason, huge)
				}
			}
			b.stop()
		})
	})
	t.Run("HeaderTimeout", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				h2test.Advance(time.Second) // fake time: the response ends while the next block is open
				io.WriteString(w, "ok")
			})
			pol := idle.Policy{HeaderTimeout: huge}
			b := startSubject(t, &http.Server{Handler: slow}, setup{bubble: true, cfg: server.Config{Policy: pol}})
			c := b.client()
			c.Handshake()
			h2test.Advance(time.Second) // fake time: the block starts after the connection did
			c.WriteHeaders(1, true)
			block := c.EncodeHeaders(":method", "GET", ":scheme", "http", ":authority", "x", ":path", "/")
			c.Framer.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: block[:3], EndStream: true})
			c.ExpectResponse(1)
			h2test.Advance(time.Minute) // fake time
			if s := b.srv.Snapshot(); len(s) != 1 || s[0].State != "active" {
				t.Fatalf("with HeaderTimeout %v: %+v", huge, s)
			}
			c.Framer.WriteContinuation(3, true, block[3:])
			if res := c.ExpectResponse(3); res.Status != "200" {
				t.Errorf("status %s", res.Status)
			}
			b.stop()
		})
	})
	t.Run("MaxStreamDuration with StreamIdleTimeout", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			cut := make(chan time.Duration, 1)
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				start := time.Now()
				w.WriteHeader(200)
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
					cut <- time.Since(start)
				case <-time.After(time.Minute):
					cut <- -1
				}
			})
			pol := idle.Policy{MaxStreamDuration: huge, StreamIdleTimeout: time.Second}
			b := startSubject(t, &http.Server{Handler: h}, setup{bubble: true, cfg: server.Config{Policy: pol}})
			c := b.client()
			c.Handshake()
			c.WriteHeaders(1, true)
			if d := <-cut; d != time.Second {
				t.Errorf("an idle stream was cut after %v (-1: never), want StreamIdleTimeout 1s", d)
			}
			b.stop()
		})
	})
}

// TestKeepaliveFloor: a keepalive interval below one second is raised to
// one second (as grpc-go and Kestrel do): a 1 ns interval once made the
// server PING thousands of times during one request.
func TestKeepaliveFloor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-time.After(3 * time.Second): // fake time
				io.WriteString(w, "ok")
			case <-r.Context().Done():
			}
		})
		pol := idle.Policy{KeepaliveInterval: time.Nanosecond}
		b := startSubject(t, &http.Server{Handler: h}, setup{bubble: true, cfg: server.Config{Policy: pol}})
		c := b.client()
		c.Handshake()
		c.WriteHeaders(1, true)
		pings := 0
		for pings <= 100 { // bounded: the server may PING without pause
			f, err := c.ReadFrame()
			if err != nil {
				t.Fatalf("after %d PINGs: %v", pings, err)
			}
			if p, ok := f.(*http2.PingFrame); ok && !p.IsAck() {
				pings++
				c.Framer.WritePing(true, p.Data)
			}
			if d, ok := f.(*http2.DataFrame); ok && d.StreamEnded() {
				break
			}
		}
		if pings > 4 {
			t.Errorf("%d keepalive PINGs during a 3 s request with KeepaliveInterval 1ns: want at most one a second", pings)
		}
		c.Conn.Close()
		b.stop()
	})
}
