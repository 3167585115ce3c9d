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
var handleSink any

// benchConn is a net.Conn that is never read or written.
type benchConn struct{ net.Conn }

func (benchConn) RemoteAddr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }
func (benchConn) Close() error         { return nil }

// BenchmarkServeSetup is what serve builds for one connection before
// serving it, in parts: the shutdown handle alone (new, and reused as after
// a connection that ended without a drain), the supervisor alone
// (lifecycle.New over a conn it never touches, then its close), and both
// with the tracking serve does. Compare with BenchmarkConnSetup's stock h2c
// connection (budget: under 10 %).
func BenchmarkServeSetup(b *testing.B) {
	hs := &http.Server{ReadHeaderTimeout: 10 * time.Second}
	s, err := Wrap(&http.Server{}, Config{})
	if err != nil {
		b.Fatal(err)
	}
	newHandle := func(hs *http.Server) *handle {
		h, err := s.newHandle(hs)
		if err != nil {
			b.Fatal(err)
		}
		return h
	}
	b.Run("handle", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			handleSink = newHandle(hs) // never released: a new one each time
		}
	})
	b.Run("handle/reused", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			h := newHandle(hs)
			handleSink = h.goAwayFunc()
			s.release(h)
		}
	})
	b.Run("handle+shutdown", func(b *testing.B) {
		// The handle's Shutdown, as the drain's second phase calls it, on a
		// handle that serves no connection; it is not reused after.
		b.ReportAllocs()
		for b.Loop() {
			h := newHandle(hs)
			h.goAwayFunc()()
			s.release(h)
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
	for _, reuse := range []bool{false, true} {
		name := map[bool]string{false: "all", true: "all/reused"}[reuse]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				h := newHandle(hs)
				sup, err := lifecycle.New(benchConn{}, lifecycle.Config{
					GoAway:           h.goAwayFunc(),
					SawClientPreface: true,
				})
				if err != nil {
					b.Fatal(err)
				}
				h.sup = sup
				s.track(sup)
				handleSink = sup.Context(context.Background()) // the requests' base context (DrainNotice)
				handleSink = lifecycle.WrapStreams(http.NotFoundHandler(), lifecycle.StreamOptions{})
				sup.Conn().Close()
				s.untrack(sup)
				if reuse {
					s.release(h)
				}
			}
		})
	}
}
