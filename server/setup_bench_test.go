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

// benchHandler is what net/http hands serve: a handler with the
// connection's base context.
type benchHandler struct{ http.Handler }

func (benchHandler) BaseContext() context.Context { return context.Background() }

// BenchmarkServeSetup is what serve builds for one connection before
// serving it: the supervisor alone (lifecycle.New over a conn it never
// touches, then its close), and everything supervise does, with the
// tracking (the HTTP/2 server is built once per http.Server, at the first
// connection). Compare with BenchmarkConnSetup's stock h2c connection
// (budget: under 10 %).
func BenchmarkServeSetup(b *testing.B) {
	hs := &http.Server{ReadHeaderTimeout: 10 * time.Second}
	s, err := Wrap(&http.Server{}, Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("supervisor", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sup, err := lifecycle.New(benchConn{}, lifecycle.Config{SawClientPreface: true})
			if err != nil {
				b.Fatal(err)
			}
			sup.Conn().Close()
		}
	})
	b.Run("all", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sup, p, ctx, h := s.supervise(hs, benchConn{}, benchHandler{http.NotFoundHandler()}, true)
			if sup == nil {
				b.Fatal("supervise closed the connection")
			}
			handleSink, handleSink, handleSink = p, ctx, h
			sup.Conn().Close()
			s.untrack(sup)
		}
	})
}
