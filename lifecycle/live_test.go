package lifecycle

import (
	"sync"
	"testing"
)

// liveCheck is a LiveMetrics that checks the order of the calls of one
// connection: states only move forward and end at StateClosed before
// ConnClosed; every opened stream is closed once, before ConnClosed; the
// counts agree with the report.
type liveCheck struct {
	t      testing.TB
	mu     sync.Mutex
	state  State
	open   int
	ends   [EndRefused + 1]int
	closed bool
	trace  func() string
}

func (c *liveCheck) ConnOpened() {}

func (c *liveCheck) ConnStateChanged(from, to State) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if from != c.state || to <= from || c.closed {
		c.t.Errorf("live metrics: state %v → %v, last reported %v (closed %v)%s", from, to, c.state, c.closed, c.trace())
	}
	c.state = to
}

func (c *liveCheck) StreamOpened() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.state == StateClosed {
		c.t.Errorf("live metrics: a stream opened on a closed connection%s", c.trace())
	}
	c.open++
}

func (c *liveCheck) StreamClosed(end StreamEnd) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if end > EndRefused || c.closed {
		c.t.Errorf("live metrics: StreamClosed(%v) (closed %v)%s", end, c.closed, c.trace())
		return
	}
	c.ends[end]++
	if end != EndRefused {
		if c.open--; c.open < 0 {
			c.t.Errorf("live metrics: StreamClosed(%v) with no stream open%s", end, c.trace())
		}
	}
}

func (c *liveCheck) ConnClosed(r *Report) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	switch {
	case c.state != StateClosed:
		c.t.Errorf("live metrics: ConnClosed in state %v%s", c.state, c.trace())
	case c.open != 0:
		c.t.Errorf("live metrics: %d streams never closed%s", c.open, c.trace())
	case c.ends[EndRefused] != int(r.StreamsRefused) || c.ends[EndCut] != len(r.StreamsCut):
		c.t.Errorf("live metrics: %d refused, %d cut; the report says %d, %d%s",
			c.ends[EndRefused], c.ends[EndCut], r.StreamsRefused, len(r.StreamsCut), c.trace())
	}
	opened := 0
	for e, n := range c.ends {
		if StreamEnd(e) != EndRefused {
			opened += n
		}
	}
	if uint64(opened) != r.StreamsOpened {
		c.t.Errorf("live metrics: %d streams closed, the report says %d opened%s", opened, r.StreamsOpened, c.trace())
	}
}

func (c *liveCheck) wasClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}
