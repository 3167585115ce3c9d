package conformance

import (
	"net/http"
	"testing"
	"testing/synctest"

	"github.com/h2lifecycle/h2lifecycle/internal/h2test"
	"golang.org/x/net/http2"
)

// Fact 7 (DESIGN.md, rule 3; RFC 9113 §3.4): the server's first frame is
// SETTINGS, written before it has read anything from the client, and it
// always carries SETTINGS_MAX_CONCURRENT_STREAMS: 250 by default, else the
// configured value; http.Server.HTTP2 takes precedence over http2.Server.
// The tap waits for this frame before injecting anything and reads the
// stream limit from it. Whether the throwaway's HTTP2 field is seen depends
// on the wiring (httpServerHTTP2Seen).
func TestFirstFrameIsSettingsWithMaxConcurrentStreams(t *testing.T) {
	type config struct {
		name      string
		h2, hs    int // http2.Server.MaxConcurrentStreams, http.Server.HTTP2.MaxConcurrentStreams
		want      uint32
		wantNoHS2 uint32 // when the wiring ignores http.Server.HTTP2
	}
	configs := []config{
		{"default", 0, 0, 250, 250},
		{"http2.Server", 7, 0, 7, 7},
		{"http.Server.HTTP2", 0, 9, 9, 250},
		{"both: http.Server.HTTP2 wins", 7, 9, 9, 7},
	}
	for _, w := range wirings {
		for _, cfg := range configs {
			t.Run(w.String()+"/"+cfg.name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					c, _ := pipeConn(t, connConfig{
						wiring:  w,
						handler: newGates(),
						before: func(hs *http.Server, h2 *http2.Server) {
							h2.MaxConcurrentStreams = uint32(cfg.h2)
							if cfg.hs != 0 {
								hs.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: cfg.hs}
							}
						},
					})
					// Nothing written: the server must speak first.
					f, err := c.ReadFrame()
					if err != nil {
						t.Fatalf("%s: no frame before the client preface: %v; the tap's \"never inject before the server's SETTINGS\" rule would wait forever", toolchainName, err)
					}
					sf, ok := f.(*http2.SettingsFrame)
					if !ok || sf.IsAck() {
						t.Fatalf("%s: first frame %s, want SETTINGS", toolchainName, h2test.Summarize(f))
					}
					got, ok := sf.Value(http2.SettingMaxConcurrentStreams)
					want := cfg.want
					if !httpServerHTTP2Seen[w] {
						want = cfg.wantNoHS2
					}
					if !ok || got != want {
						t.Fatalf("%s, %v: SETTINGS_MAX_CONCURRENT_STREAMS = %d (present %v), want %d; the supervisor's stream limits read it from this frame", toolchainName, w, got, ok, want)
					}
				})
			})
		}
	}
}

// Fact 10 (DESIGN.md; RFC 9113 §5.1.2): a HEADERS that exceeds the
// advertised SETTINGS_MAX_CONCURRENT_STREAMS is refused with a stream error:
// PROTOCOL_ERROR once the client has ACKed the server's SETTINGS,
// REFUSED_STREAM before (the client may not have seen the limit yet). Only
// REFUSED_STREAM tells the client the request is safe to retry (RFC 9113
// §8.7), which matters when the supervisor counts "refused" streams.
func TestMaxConcurrentStreamsEnforced(t *testing.T) {
	for _, acked := range []bool{true, false} {
		name := map[bool]string{true: "after SETTINGS ACK", false: "before SETTINGS ACK"}[acked]
		want := map[bool]http2.ErrCode{true: http2.ErrCodeProtocol, false: http2.ErrCodeRefusedStream}[acked]
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				g := newGates()
				c, _ := pipeConn(t, connConfig{
					wiring:  chosen(),
					handler: g,
					before:  func(_ *http.Server, h2 *http2.Server) { h2.MaxConcurrentStreams = 1 },
				})
				if acked {
					c.Handshake()
				} else {
					c.AutoAck = false
					c.WritePreface()
					c.WriteSettings()
					c.ExpectSettings() // and never ACK it
				}
				c.WriteHeaders(1, true, ":path", "/block/1")
				g.waitStarted(t, "/block/1")
				c.WriteHeaders(3, true, ":path", "/3")
				if got := c.ExpectRSTStream(3); got != want {
					t.Fatalf("%s: stream over the limit %s reset with %v, want %v", toolchainName, name, got, want)
				}
				synctest.Wait()
				g.noneStarted(t, "a refused stream reached its handler")
				g.open("1")
				if res := c.ExpectResponse(1); res.Status != "200" {
					t.Fatalf("the stream within the limit: status %q", res.Status)
				}
			})
		})
	}
}
