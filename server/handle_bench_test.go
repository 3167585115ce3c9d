package server

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/h2lifecycle/h2lifecycle/lifecycle"
)

// handleSink keeps the benchmarked objects alive, as a live connection does.
var (
	handleSink any
	serverSink connServer // not in handleSink: boxing it would allocate
)

// benchConn is a net.Conn that is never read or written.
type benchConn struct{ net.Conn }

func (benchConn) RemoteAddr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }
func (benchConn) Close() error         { return nil }

// BenchmarkServeSetup is what serve builds for one connection before
// serving it, in parts: the shutdown handle alone, the supervisor alone
// (lifecycle.New over a conn it never touches, then its close), and both with
// the tracking serve does. Compare with BenchmarkConnSetup's stock h2c
// connection (budget: under 10 %).
func BenchmarkServeSetup(b *testing.B) {
	hs := &http.Server{ReadHeaderTimeout: 10 * time.Second}
	s, err := Wrap(&http.Server{}, Config{})
	if err != nil {
		b.Fatal(err)
	}
	newHandle := func(hs *http.Server, sup **lifecycle.Supervisor, nc net.Conn) (*http.Server, connServer) {
		t, cs, err := s.newHandle(hs, sup, nc)
		if err != nil {
			b.Fatal(err)
		}
		return t, cs
	}
	b.Run("handle", func(b *testing.B) {
		var sup *lifecycle.Supervisor
		b.ReportAllocs()
		for b.Loop() {
			t, cs := newHandle(hs, &sup, benchConn{})
			handleSink = t
			serverSink = cs
		}
	})
	b.Run("handle+shutdown", func(b *testing.B) {
		// The handle's Shutdown, as the drain's second phase calls it, on a
		// handle that serves no connection.
		var sup *lifecycle.Supervisor
		b.ReportAllocs()
		for b.Loop() {
			t, _ := newHandle(hs, &sup, benchConn{})
			t.Shutdown(context.Background())
		}
	})
	b.Run("supervisor", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sup, err := lifecycle.New(benchConn{}, lifecycle.Config{GoAway: func() {}, SawClientPreface: true})
			if err != nil {
				b.Fatal(err)
			}
			sup.Conn().Close()
		}
	})
	b.Run("all", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var sup *lifecycle.Supervisor
			t, _ := newHandle(hs, &sup, benchConn{})
			sup, err := lifecycle.New(benchConn{}, lifecycle.Config{
				GoAway:           func() { t.Shutdown(context.Background()) },
				SawClientPreface: true,
			})
			if err != nil {
				b.Fatal(err)
			}
			s.track(sup)
			handleSink = sup.Context(context.Background()) // the requests' base context (DrainNotice)
			h := lifecycle.WrapStreams(http.NotFoundHandler(), lifecycle.StreamOptions{})
			handleSink = h
			sup.Conn().Close()
			s.untrack(sup)
		}
	})
}
