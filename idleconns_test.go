package h2lifecycle_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// idlePeer is a minimal well-behaved HTTP/2 client connection that opens no
// stream: it ACKs PINGs, records GOAWAYs, and closes on EOF as real clients
// do. It never fails the test from its own goroutine.
type idlePeer struct {
	conn    net.Conn
	fr      *http2.Framer
	goAways []uint32
	err     error
}

func dialIdlePeer(addr string) (*idlePeer, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	p := &idlePeer{conn: c, fr: http2.NewFramer(c, c)}
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		c.Close()
		return nil, err
	}
	if err := p.fr.WriteSettings(); err != nil {
		c.Close()
		return nil, err
	}
	return p, nil
}

// run reads until the server closes the connection.
func (p *idlePeer) run() {
	defer p.conn.Close()
	for {
		p.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		f, err := p.fr.ReadFrame()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				p.err = err
			}
			return
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				p.fr.WriteSettingsAck()
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				p.fr.WritePing(true, f.Data)
			}
		case *http2.GoAwayFrame:
			p.goAways = append(p.goAways, f.LastStreamID)
		}
	}
}

// drainIdleConns opens n idle HTTP/2 connections to a wrapped server and
// drains them all, returning how long Drain took.
func drainIdleConns(tb testing.TB, n int) time.Duration {
	tb.Helper()
	// The HTTP/2 server reports a connection idle once it has read the
	// client preface: then it is served and supervised.
	var mu sync.Mutex
	served := map[net.Conn]bool{}
	ready := make(chan struct{})
	hs := &http.Server{Handler: http.HandlerFunc(okHandler), ConnState: func(c net.Conn, st http.ConnState) {
		mu.Lock()
		defer mu.Unlock()
		if st == http.StateIdle && !served[c] {
			if served[c] = true; len(served) == n {
				close(ready)
			}
		}
	}}
	rg := startSubject(tb, hs, setup{})
	peers := make([]*idlePeer, n)
	var wg sync.WaitGroup
	for i := range peers {
		p, err := dialIdlePeer(rg.addr)
		if err != nil {
			tb.Fatalf("connection %d: %v", i, err)
		}
		peers[i] = p
		wg.Add(1)
		go func() { defer wg.Done(); p.run() }()
	}
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		tb.Fatalf("not every connection was served within 30s")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	if err := rg.srv.Drain(ctx); err != nil {
		tb.Fatalf("Drain: %v", err)
	}
	took := time.Since(start)
	wg.Wait()
	for i, p := range peers {
		if p.err != nil || fmt.Sprint(p.goAways) != "[2147483647 0]" {
			tb.Fatalf("connection %d: GOAWAYs %v, error %v; want [2147483647 0] and a clean EOF", i, p.goAways, p.err)
		}
	}
	return took
}

// TestDrainManyIdleConns: 1,000 idle connections each get the two-phase
// sequence and a clean close. BenchmarkDrainIdleConns measures how long
// that takes.
func TestDrainManyIdleConns(t *testing.T) {
	n := 1000
	if testing.Short() {
		n = 100
	}
	t.Logf("drained %d idle connections in %v", n, drainIdleConns(t, n))
}

func BenchmarkDrainIdleConns(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			var total time.Duration
			for b.Loop() {
				total += drainIdleConns(b, n)
			}
			b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/drain")
		})
	}
}
