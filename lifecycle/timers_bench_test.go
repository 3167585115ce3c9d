package lifecycle

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"golang.org/x/net/http2"

	"github.com/h2lifecycle/h2lifecycle/idle"
)

// countingClock is the real clock, counting the supervisor timer's fires.
type countingClock struct {
	clock.Clock
	fires *atomic.Int64
}

func (c countingClock) AfterFunc(d time.Duration, f func()) *clock.Timer {
	return c.Clock.AfterFunc(d, func() { c.fires.Add(1); f() })
}

// BenchmarkTimers is BenchmarkTapRequest spread round-robin over 1,000 and
// 10,000 supervised connections with every timed policy on: the per-request
// cost must not grow with the number of connections, nor the timer's fires
// per second per connection. "aggressive" sets timeouts short enough for
// their timers to fire many times during the benchmark (HeaderTimeout's
// periodic check every 100 ms, the idle timer re-armed every 1 s);
// "typical" sets production values (nothing is due within the benchmark,
// so fires stay near 0); "none" is the control, with no timed policy: what
// grows from 1,000 to 10,000 connections there is the cache, not timers.
// Run with -benchtime 3s or more, so that the timers
// have time to fire.
func BenchmarkTimers(b *testing.B) {
	policies := []struct {
		name string
		p    idle.Policy
	}{
		{"none", idle.Policy{}}, // the control: no timed policy, no timer
		{"aggressive", idle.Policy{IdleTimeout: time.Second, MaxConnectionAge: time.Hour,
			HeaderTimeout: 100 * time.Millisecond, KeepaliveInterval: 500 * time.Millisecond}},
		{"typical", idle.Policy{IdleTimeout: 2 * time.Minute, MaxConnectionAge: 30 * time.Minute,
			HeaderTimeout: 10 * time.Second, KeepaliveInterval: 30 * time.Second}},
	}
	for _, pol := range policies {
		for _, n := range []int{1000, 10000} {
			b.Run(fmt.Sprintf("%s/conns=%d", pol.name, n), func(b *testing.B) {
				benchTimers(b, n, pol.p)
			})
		}
	}
}

// timedConn is one supervised fake connection and its next request.
type timedConn struct {
	lc   *loopConn
	s    *Supervisor
	c    net.Conn
	in   []byte // HEADERS of the next request; its stream id is patched
	resp []byte // HEADERS + DATA(END_STREAM); patched likewise
	id   uint32
}

func benchTimers(b *testing.B, n int, p idle.Policy) {
	block, resp := benchExchange()
	var settings bytes.Buffer
	http2.NewFramer(&settings, nil).WriteSettings() // the client's first SETTINGS

	var fires atomic.Int64
	clk := countingClock{clock.New(), &fires}
	conns := make([]*timedConn, n)
	for i := range conns {
		lc := &loopConn{}
		s, err := New(lc, Config{Policy: p, GoAway: func() {}, SawClientPreface: true}, withClock(clk))
		if err != nil {
			b.Fatal(err)
		}
		c := s.Conn()
		c.Write(mustSettings())
		lc.in, lc.off = settings.Bytes(), 0
		c.Read(make([]byte, settings.Len()))
		conns[i] = &timedConn{lc: lc, s: s, c: c, in: headersFrame(1, block), resp: bytes.Clone(resp), id: 1}
	}
	defer func() {
		for _, tc := range conns {
			tc.c.Close()
		}
	}()
	hdr := make([]byte, 9)
	payload := make([]byte, 64)
	request := func(tc *timedConn) {
		setStream(tc.in, tc.id)
		setStream(tc.resp, tc.id)
		tc.id += 2
		tc.lc.in, tc.lc.off = tc.in, 0
		tc.c.Read(hdr)
		tc.c.Read(payload[:len(tc.in)-9])
		tc.s.ConnState(http.StateActive)
		tc.c.Write(tc.resp)
		tc.s.ConnState(http.StateIdle)
	}
	for _, tc := range conns { // one request each: every connection has served
		request(tc)
	}
	b.ReportAllocs()
	fires.Store(0)
	start := time.Now()
	i := 0
	for b.Loop() {
		request(conns[i])
		if i++; i == n {
			i = 0
		}
	}
	elapsed := time.Since(start)
	b.ReportMetric(float64(fires.Load())/elapsed.Seconds()/float64(n), "fires/s/conn")
	for _, tc := range conns {
		if st := tc.s.Snapshot().State; st != "active" {
			b.Fatalf("connection %d is %s, want active: a policy ended it", tc.s.ID(), st)
		}
	}
}
