package lifecycle

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/h2lifecycle/h2lifecycle/internal/h2test"
)

// TestDrainNoticeCost: the base context costs one allocation per
// connection, asking on a request that is not supervised costs nothing, and
// so does every ask after a connection's first. The channel closes with the
// drain's start, not before.
func TestDrainNoticeCost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := New(newRecConn(nil), Config{GoAway: func() {}, SawClientPreface: true})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Conn().Close()
		parent := context.Background()
		var base context.Context
		if n := testing.AllocsPerRun(100, func() { base = s.Context(parent) }); n != 1 {
			t.Errorf("Supervisor.Context: %v allocations, want 1", n)
		}
		req, cancel := context.WithCancel(base) // as the HTTP/2 server derives a request's
		defer cancel()
		unsupervised, cancel2 := context.WithCancel(parent)
		defer cancel2()
		if n := testing.AllocsPerRun(100, func() { DrainNotice(unsupervised) }); n != 0 {
			t.Errorf("DrainNotice on an unsupervised request: %v allocations, want 0", n)
		}
		if DrainNotice(unsupervised) != nil {
			t.Error("DrainNotice on an unsupervised request is not nil")
		}
		first := DrainNotice(req)
		if n := testing.AllocsPerRun(100, func() {
			if DrainNotice(req) != first {
				t.Fatal("a second ask returns another channel")
			}
		}); n != 0 {
			t.Errorf("DrainNotice after the first ask: %v allocations, want 0", n)
		}
		h2test.Advance(time.Hour)
		select {
		case <-first:
			t.Fatal("notice closed on a connection that serves")
		default:
		}
		s.Drain(ReasonShutdown, time.Second)
		select {
		case <-first:
		default:
			t.Fatal("notice not closed once Drain returned")
		}
	})
}
