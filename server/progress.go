package server

import (
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/h2lifecycle/h2lifecycle/lifecycle"
)

// progressInterval is how often a drain under way says how far it is.
const progressInterval = 5 * time.Second

// drainTotals is the state of every supervised connection, summed.
type drainTotals struct {
	Connections int            `json:"connections"`
	OpenStreams int            `json:"open_streams"`
	ByState     map[string]int `json:"by_state"`
}

func totalsOf(snaps []lifecycle.Snapshot) drainTotals {
	t := drainTotals{Connections: len(snaps), ByState: map[string]int{}}
	for _, sn := range snaps {
		t.OpenStreams += sn.OpenStreams
		t.ByState[sn.State]++
	}
	return t
}

// watchDrain logs, every progressInterval until stop is called, an Info
// line on the drain of total connections that ends by deadline: how many
// are left, the streams still open, the time to the deadline. One
// goroutine and one ticker per drain, none per connection; a drain that
// ends within the interval logs nothing here. stop may be called more
// than once.
func (s *Server) watchDrain(total int, deadline time.Time) (stop func()) {
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		t := time.NewTicker(progressInterval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			snaps := s.Snapshot()
			tot := totalsOf(snaps)
			s.mu.Lock()
			late := s.lateDrains // accepted during a shutdown's drain, drained too
			s.mu.Unlock()
			s.log.Info("draining: progress",
				zap.Int("connections_left", tot.Connections),
				zap.Int("connections_total", total+late),
				zap.Int("streams_open", tot.OpenStreams),
				zap.Duration("deadline_in", time.Until(deadline).Round(time.Millisecond)))
		}
	}()
	return sync.OnceFunc(func() {
		close(done)
		<-exited
	})
}
