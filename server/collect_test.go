package server

import (
	"net"
	"testing"
	"testing/synctest"
	"time"

	"github.com/h2lifecycle/h2lifecycle/internal/h2test"
	"github.com/h2lifecycle/h2lifecycle/lifecycle"
)

// TestShutdownReportHoldsOnlyItsConnections: a connection that closed before
// the shutdown began but is let go of after (its final report and
// Metrics.ConnClosed come before serve untracks it) is not in the
// shutdown's report; one that closes as it begins is. (A metrics test saw
// the first kind counted: h2prom's TestDrainThroughPrometheus.)
func TestShutdownReportHoldsOnlyItsConnections(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &Server{conns: make(map[*lifecycle.Supervisor]struct{})}
		closed := func(id uint64) *lifecycle.Supervisor {
			nc, peer := net.Pipe()
			defer peer.Close()
			sup, err := lifecycle.New(nc, lifecycle.Config{GoAway: func() {}, ID: id})
			if err != nil {
				t.Fatal(err)
			}
			s.track(sup)
			sup.Conn().Close()
			<-sup.Done()
			return sup
		}
		before := closed(1)
		h2test.Advance(time.Millisecond)
		begin := time.Now()
		s.startCollect(begin)
		at := closed(2) // at the very instant the shutdown begins
		s.untrack(before)
		s.untrack(at)
		var rep ShutdownReport
		s.finishCollect(&rep)
		if rep.Connections != 1 || rep.Reports[0].ID != 2 {
			t.Fatalf("the shutdown's report holds %d connections %+v, want connection 2 alone", rep.Connections, rep.Reports)
		}
	})
}
