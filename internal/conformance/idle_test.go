package conformance

import (
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/net/http2"
)

// Fact 3 (DESIGN.md): ConfigureServer copies
// http.Server.IdleTimeout, or failing that ReadTimeout, into a zero
// http2.Server.IdleTimeout, and leaves a non-zero one alone.
func TestConfigureServerCopiesIdleTimeout(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		idle, read, h2Before time.Duration
		want                 time.Duration
	}{
		{"IdleTimeout", 7 * time.Second, 0, 0, 7 * time.Second},
		{"ReadTimeout when IdleTimeout is zero", 0, 9 * time.Second, 0, 9 * time.Second},
		{"IdleTimeout over ReadTimeout", 7 * time.Second, 9 * time.Second, 0, 7 * time.Second},
		{"http2 value kept", 7 * time.Second, 9 * time.Second, 3 * time.Second, 3 * time.Second},
		{"nothing set", 0, 0, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs := &http.Server{IdleTimeout: tc.idle, ReadTimeout: tc.read}
			h2 := &http2.Server{IdleTimeout: tc.h2Before}
			if err := http2.ConfigureServer(hs, h2); err != nil {
				t.Fatal(err)
			}
			if h2.IdleTimeout != tc.want {
				t.Fatalf("%s: after ConfigureServer, http2.Server.IdleTimeout = %v, want %v: the supervisor zeroes it afterwards to keep x/net's racy idle GOAWAY off, and must know where it comes from", toolchainName, h2.IdleTimeout, tc.want)
			}
		})
	}
}

// Fact 3, the positive control: with the copied IdleTimeout, x/net closes an
// idle connection itself with a single GOAWAY(NO_ERROR) after exactly that
// long, then lingers goAwayTimeout. This is the racy close the supervisor
// replaces, and proves the next test could fail.
func TestCopiedIdleTimeoutSendsGoAway(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const idle = time.Minute
		c, _ := pipeConn(t, connConfig{
			wiring:  chosen(),
			handler: newGates(),
			before:  func(hs *http.Server, _ *http2.Server) { hs.IdleTimeout = idle },
		})
		c.Timeout = 2 * idle
		c.Handshake()
		start := time.Now()
		ga := c.ExpectGoAway()
		if d := time.Since(start); d != idle || ga.ErrCode != http2.ErrCodeNo || ga.LastStreamID != 0 {
			t.Fatalf("%s: idle GOAWAY(%d, %v) after %v, want GOAWAY(0, NO_ERROR) after %v", toolchainName, ga.LastStreamID, ga.ErrCode, d, idle)
		}
		sentAt := time.Now()
		if err := c.WaitClosed(); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(sentAt); d != time.Second {
			t.Fatalf("%s: closed %v after the idle GOAWAY, want goAwayTimeout (1s)", toolchainName, d)
		}
	})
}

// Fact 3: setting http2.Server.IdleTimeout = 0 after ConfigureServer turns
// x/net's own idle close off, on both toolchains (on Go 1.27 net/http reads
// it from the x/net Server at each use). The supervisor owns idleness; a
// second, racy idle GOAWAY from x/net would lose requests (DESIGN.md, section 1).
func TestZeroIdleTimeoutAfterConfigureServerDisablesIdleGoAway(t *testing.T) {
	for _, w := range wirings {
		t.Run(w.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c, _ := pipeConn(t, connConfig{
					wiring:  w,
					handler: newGates(),
					before:  func(hs *http.Server, _ *http2.Server) { hs.IdleTimeout = time.Minute },
					after:   func(_ *http.Server, h2 *http2.Server) { h2.IdleTimeout = 0 },
				})
				c.Handshake()
				synctest.Wait()
				const why = "x/net's own idle GOAWAY fired although http2.Server.IdleTimeout was zeroed after ConfigureServer; supervised connections would get the racy single-GOAWAY idle close"
				expectQuiet(t, c, 10*time.Hour, why) // fake time: the bubble is idle
				c.WriteHeaders(1, true, ":path", "/1")
				c.ExpectResponse(1)
				synctest.Wait()
				expectQuiet(t, c, 10*time.Hour, why) // the idle timer is reset when streams end
				c.WriteHeaders(3, true, ":path", "/3")
				if res := c.ExpectResponse(3); res.Status != "200" {
					t.Fatalf("%s, %v: after 20 idle hours: status %q", toolchainName, w, res.Status)
				}
			})
		})
	}
}
