package lifecycle

import (
	"io"
	"math"
	"net"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/h2lifecycle/h2lifecycle/drain"
	"github.com/h2lifecycle/h2lifecycle/idle"
	"github.com/h2lifecycle/h2lifecycle/internal/frame"
	"github.com/h2lifecycle/h2lifecycle/internal/h2test"
)

// cappedClock is the real clock (fake in a bubble), counting the
// supervisor timer's fires and no longer running the timer's work past
// limit, so that a timer that spins stops.
type cappedClock struct {
	clock.Clock
	fires *atomic.Int64
	limit int64
}

func (c cappedClock) AfterFunc(d time.Duration, f func()) *clock.Timer {
	return c.Clock.AfterFunc(d, func() {
		if c.fires.Add(1) <= c.limit {
			f()
		}
	})
}

// emptySettings is a SETTINGS frame with no parameters.
var emptySettings = []byte{0, 0, 0, byte(frame.TypeSettings), 0, 0, 0, 0, 0}

// TestQuietConnectionTimers: 1,000 connections that are quiet after their
// preface cost a bounded number of timer fires whatever the policy, like
// stock's:
// no deadline that has passed is armed again at once (an idle or age
// deadline passing while a drain waits for the first stream once re-armed
// itself at zero: a CPU-second per second per connection), and no setting
// makes a periodic check run without end (HeaderTimeout's check ran every
// HeaderTimeout).
func TestQuietConnectionTimers(t *testing.T) {
	const quiet = 10 * time.Second
	const maxFires = 20 // per connection over quiet: a drain is a handful of deadlines
	huge := time.Duration(math.MaxInt64)
	cases := []struct {
		name string
		pol  idle.Policy
		dr   drain.Config
	}{
		{"none", idle.Policy{}, drain.Config{}},
		{"idle below the first-stream wait", idle.Policy{IdleTimeout: 10 * time.Millisecond}, drain.Config{}},
		{"max age below the first-stream wait", idle.Policy{MaxConnectionAge: 10 * time.Millisecond}, drain.Config{}},
		{"idle 1ns", idle.Policy{IdleTimeout: 1}, drain.Config{}},
		{"max age 1ns", idle.Policy{MaxConnectionAge: 1, MaxConnectionAgeGrace: 1}, drain.Config{}},
		{"header timeout 1ns", idle.Policy{HeaderTimeout: 1}, drain.Config{}},
		{"header timeout 1ms", idle.Policy{HeaderTimeout: time.Millisecond}, drain.Config{}},
		{"header timeout typical", idle.Policy{HeaderTimeout: 10 * time.Second}, drain.Config{}},
		{"ping enforcement 1ns", idle.Policy{PingMinInterval: 1}, drain.Config{}},
		{"everything 1ns", idle.Policy{IdleTimeout: 1, MaxConnectionAge: 1, MaxConnectionAgeGrace: 1,
			HeaderTimeout: 1, PingMinInterval: 1, KeepaliveInterval: 1, KeepaliveTimeout: 1},
			drain.Config{Grace: 1, PingTimeout: 1, Settle: 1, Linger: 1, FirstStreamWait: 1}},
		{"drain timings 1ns", idle.Policy{IdleTimeout: 50 * time.Millisecond},
			drain.Config{Grace: 1, PingTimeout: 1, Settle: 1, Linger: 1, FirstStreamWait: 1}},
		{"everything huge", idle.Policy{IdleTimeout: huge, MaxConnectionAge: huge, MaxConnectionAgeGrace: huge,
			HeaderTimeout: huge, PingMinInterval: huge, KeepaliveInterval: huge, KeepaliveTimeout: huge},
			drain.Config{Grace: huge, PingTimeout: huge, Settle: huge, Linger: huge, FirstStreamWait: huge}},
		{"first-stream wait huge", idle.Policy{IdleTimeout: 10 * time.Millisecond}, drain.Config{FirstStreamWait: huge}},
	}
	const conns = 1000
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var fires atomic.Int64
				clk := cappedClock{clock.New(), &fires, conns * 10 * maxFires}
				var clients []net.Conn
				var taps []net.Conn
				for range conns {
					cli, srv := net.Pipe()
					sup, err := New(srv, Config{GoAway: func() {}, Policy: tc.pol, Drain: tc.dr}, withClock(clk))
					if err != nil {
						t.Fatal(err)
					}
					tap := sup.Conn()
					go io.Copy(io.Discard, cli) // the client reads whatever comes
					go func() {                 // the server reads the client
						buf := make([]byte, 64)
						for {
							if _, err := tap.Read(buf); err != nil {
								return
							}
						}
					}()
					go tap.Write(emptySettings) // the server's SETTINGS
					go cli.Write(append([]byte(frame.ClientPreface), emptySettings...))
					clients, taps = append(clients, cli), append(taps, tap)
				}
				h2test.Advance(quiet) // fake time
				if n := fires.Load(); n > conns*maxFires {
					t.Errorf("%d timer fires in %v on %d quiet connections, want at most %d each", n, quiet, conns, maxFires)
				}
				for i := range clients {
					clients[i].Close()
					taps[i].Close()
				}
				synctest.Wait()
			})
		})
	}
}
