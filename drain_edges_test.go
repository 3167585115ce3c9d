package h2lifecycle_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/net/http2"

	"github.com/h2lifecycle/h2lifecycle/drain"
	"github.com/h2lifecycle/h2lifecycle/internal/h2test"
	"github.com/h2lifecycle/h2lifecycle/server"
)

func okHandler(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }

// TestIdleTimeoutDrainsTwoPhase: an idle connection is drained at exactly the
// idle timeout with the two-phase sequence (never x/net's own single
// GOAWAY), and closes about one RTT later — not after x/net's 1 s linger.
func TestIdleTimeoutDrainsTwoPhase(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const idle = 50 * time.Millisecond
		b := startSubject(t, &http.Server{Handler: http.HandlerFunc(okHandler), IdleTimeout: idle}, setup{bubble: true, recordLogs: true})
		c := b.client()
		c.Handshake()
		c.AutoAck = false
		c.WriteHeaders(1, true)
		c.ExpectResponse(1)
		synctest.Wait()
		idleFrom := time.Now()

		ga := c.ExpectGoAway()
		if got := time.Since(idleFrom); got != idle {
			t.Errorf("first GOAWAY %v after the connection went idle, want %v", got, idle)
		}
		if ga.LastStreamID != 1<<31-1 || string(ga.DebugData()) != "idle" {
			t.Fatalf("first GOAWAY last=%d debug=%q, want 2147483647 \"idle\"", ga.LastStreamID, ga.DebugData())
		}
		f, _ := c.ReadFrame()
		p, ok := f.(*http2.PingFrame)
		if !ok || p.IsAck() {
			t.Fatalf("after GOAWAY #1: %v", h2test.Summarize(f))
		}
		h2test.Advance(time.Millisecond) // the client's round trip, in fake time
		c.WritePingAck(p.Data)
		ga = c.ExpectGoAway()
		if ga.LastStreamID != 1 {
			t.Fatalf("final GOAWAY last=%d, want 1", ga.LastStreamID)
		}
		if err := c.WaitClosed(); err != nil {
			t.Fatalf("close: %v", err)
		}
		c.Conn.Close()
		synctest.Wait()
		if want := idle + time.Millisecond + drain.DefaultSettle; time.Since(idleFrom) != want {
			t.Errorf("connection closed %v after going idle, want %v: one round trip and the settle period after the idle timeout", time.Since(idleFrom), want)
		}
		l := b.drainedLine()
		if l["reason"] != "idle" || l["ping_timeout"] != false || l["grace_expired"] != false || l["rtt"] != time.Millisecond {
			t.Errorf("drained line %v", l)
		}
		b.stop()
	})
}

// TestPeerNeverAcks: a peer that never answers our PING gets the final
// GOAWAY at the ping timeout, and the report says so.
func TestPeerNeverAcks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const pingTimeout = 300 * time.Millisecond
		b := startSubject(t, &http.Server{Handler: http.HandlerFunc(okHandler)}, setup{bubble: true, cfg: server.Config{Drain: drain.Config{PingTimeout: pingTimeout}}, recordLogs: true})
		c := b.client()
		c.Handshake()
		c.AutoAck = false
		drained := make(chan error, 1)
		go func() { drained <- b.srv.Drain(context.Background()) }()
		if ga := c.ExpectGoAway(); ga.LastStreamID != 1<<31-1 {
			t.Fatalf("first GOAWAY last=%d", ga.LastStreamID)
		}
		if f, _ := c.ReadFrame(); f == nil || f.Header().Type != http2.FramePing {
			t.Fatalf("want our PING after GOAWAY #1")
		}
		pingAt := time.Now()
		ga := c.ExpectGoAway() // never ACKed
		if got := time.Since(pingAt); got != pingTimeout {
			t.Errorf("final GOAWAY %v after the PING, want the ping timeout %v", got, pingTimeout)
		}
		if ga.LastStreamID != 0 {
			t.Errorf("final GOAWAY last=%d, want 0", ga.LastStreamID)
		}
		if err := c.WaitClosed(); err != nil {
			t.Fatal(err)
		}
		c.Conn.Close()
		if err := <-drained; err != nil {
			t.Fatal(err)
		}
		if l := b.drainedLine(); l["ping_timeout"] != true || l["reason"] != "requested" {
			t.Errorf("drained line %v, want ping_timeout=true", l)
		}
		b.stop()
	})
}

// TestPeerNeverReads: a peer that stopped reading holds the server's writes
// (and so our GOAWAY) behind a full window. The grace deadline holds:
// http.Server.Shutdown returns its context's error, the connection is cut
// at the grace deadline with the stream reported, and nothing is left
// running (synctest.Test fails on a goroutine that outlives the bubble).
func TestPeerNeverReads(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const grace = 2 * time.Second
		big := strings.Repeat("x", 1<<20)
		handlerDone := make(chan error, 1)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, err := io.WriteString(w, big)
			handlerDone <- err
		})
		conns := make(chan *h2test.PipeConn, 16) // server ends, as accepted
		b := startSubject(t, &http.Server{Handler: h}, setup{bubble: true, cfg: server.Config{Drain: drain.Config{Grace: grace}}, recordLogs: true,
			listener: func(l net.Listener) net.Listener { return recordingListener{l, conns} }})
		c := b.client()
		sc := <-conns
		c.Handshake(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 30})
		c.WriteWindowUpdate(0, 1<<30)
		sc.SetWriteLimit(16 << 10) // a TCP window that the peer never opens
		c.WriteHeaders(1, true)
		synctest.Wait() // the server is stuck writing

		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := b.hs.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("http.Server.Shutdown = %v, want the context's error", err)
		}
		if err := <-handlerDone; err == nil {
			t.Error("the handler's write succeeded on a connection that was cut")
		}
		if got := time.Since(start); got != grace {
			t.Errorf("connection cut %v after the drain began, want the grace %v", got, grace)
		}
		synctest.Wait()
		l := b.drainedLine()
		if l["grace_expired"] != true || l["streams_cut"] != int64(1) {
			t.Errorf("drained line %v, want grace_expired and 1 stream cut", l)
		}
		if ids, ok := l["cut_stream_ids"].([]any); !ok || len(ids) != 1 || ids[0] != uint64(1) {
			t.Errorf("cut_stream_ids %v, want [1]", l["cut_stream_ids"])
		}
		b.stop()
	})
}

// TestFreshConnectionDrain: a connection that has carried no stream yet
// holds its drain back until its first stream arrives — which it then
// serves — or until it is FirstStreamWait old.
func TestFreshConnectionDrain(t *testing.T) {
	t.Run("first stream arrives", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := startSubject(t, &http.Server{Handler: http.HandlerFunc(okHandler)}, setup{bubble: true, recordLogs: true})
			c := b.client()
			c.Handshake()
			drained := make(chan error, 1)
			go func() { drained <- b.srv.Drain(context.Background()) }()
			h2test.Advance(10 * time.Millisecond) // the request comes 10 ms (fake) into the drain, within FirstStreamWait
			synctest.Wait()
			c.WriteHeaders(1, true)
			var goAways []uint32
			w := readAllThen(t, c, func(f http2.Frame) {
				if ga, ok := f.(*http2.GoAwayFrame); ok {
					goAways = append(goAways, ga.LastStreamID)
				}
			})
			if !w.ended[1] || w.bodies[1] != "ok" {
				t.Errorf("first stream: %v", w.frames)
			}
			if len(goAways) != 2 || goAways[0] != 1<<31-1 || goAways[1] != 1 {
				t.Errorf("GOAWAYs %v, want [2147483647 1]", goAways)
			}
			if err := <-drained; err != nil {
				t.Fatal(err)
			}
			b.stop()
		})
	})
	t.Run("no stream", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := startSubject(t, &http.Server{Handler: http.HandlerFunc(okHandler)}, setup{bubble: true, cfg: server.Config{Drain: drain.Config{FirstStreamWait: 40 * time.Millisecond}}, recordLogs: true})
			born := time.Now()
			c := b.client()
			c.Handshake()
			h2test.Advance(10 * time.Millisecond)
			drained := make(chan error, 1)
			go func() { drained <- b.srv.Drain(context.Background()) }()
			if ga := c.ExpectGoAway(); ga.LastStreamID != 1<<31-1 {
				t.Fatalf("first GOAWAY last=%d", ga.LastStreamID)
			}
			if got := time.Since(born); got != 40*time.Millisecond {
				t.Errorf("drain began %v after the connection was born, want FirstStreamWait (40ms)", got)
			}
			if err := c.WaitClosed(); err != nil {
				t.Fatal(err)
			}
			c.Conn.Close()
			if err := <-drained; err != nil {
				t.Fatal(err)
			}
			b.stop()
		})
	})
}

// TestStragglerAfterAckIsServed: Go's client numbers a request's stream
// under one lock and writes its HEADERS under another, so under load its
// PING ACK can overtake a request numbered before it read GOAWAY #1. The
// settle period after the ACK lets that stream in: it is served and the
// final GOAWAY names it. With no settle period it would be refused.
func TestStragglerAfterAckIsServed(t *testing.T) {
	for _, settle := range []time.Duration{0, time.Nanosecond} {
		name := map[time.Duration]string{0: "default settle", time.Nanosecond: "no settle"}[settle]
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := startSubject(t, &http.Server{Handler: http.HandlerFunc(okHandler)}, setup{bubble: true, cfg: server.Config{Drain: drain.Config{Settle: settle}}, recordLogs: true})
				c := b.client()
				c.Handshake()
				c.AutoAck = false
				c.WriteHeaders(1, true)
				c.ExpectResponse(1)
				drained := make(chan error, 1)
				go func() { drained <- b.srv.Drain(context.Background()) }()
				c.ExpectGoAway()
				f, _ := c.ReadFrame()
				p := f.(*http2.PingFrame)
				c.WritePingAck(p.Data)
				h2test.Advance(5 * time.Millisecond) // the straggler comes 5 ms (fake) after the ACK: within the default Settle, past 1 ns
				synctest.Wait()
				c.WriteHeaders(3, true)
				var finals []uint32
				w := readAllThen(t, c, func(f http2.Frame) {
					if ga, ok := f.(*http2.GoAwayFrame); ok {
						finals = append(finals, ga.LastStreamID)
					}
				})
				served := w.ended[3]
				if settle == 0 && (!served || len(finals) != 1 || finals[0] != 3) {
					t.Errorf("straggler served=%v, final GOAWAYs %v; want it served under GOAWAY(3)", served, finals)
				}
				if settle != 0 && (served || len(finals) != 1 || finals[0] != 1) {
					t.Errorf("without settling: straggler served=%v, final GOAWAYs %v; want it refused under GOAWAY(1)", served, finals)
				}
				if err := <-drained; err != nil {
					t.Fatal(err)
				}
				b.stop()
			})
		})
	}
}

// recordingListener hands the test the server end of each connection.
type recordingListener struct {
	net.Listener
	conns chan *h2test.PipeConn
}

func (l recordingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		select {
		case l.conns <- c.(*h2test.PipeConn):
		default:
		}
	}
	return c, err
}
