package h2lifecycle_test

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/net/http2"

	"github.com/h2lifecycle/h2lifecycle/idle"
	"github.com/h2lifecycle/h2lifecycle/internal/h2test"
	"github.com/h2lifecycle/h2lifecycle/server"
)

// A setting at the extremes of its range must behave as the user means it:
// 0 and the maximum (math.MaxInt64 durations, "infinity" to grpc-go;
// math.MaxUint32 and math.MaxInt counts) never end a connection early nor
// refuse a request, 1 and the floor do what the field says and no more,
// and whatever the stock server does with a setting it shares,
// h2lifecycle does too.

// setting is one field at one value.
type setting struct {
	field string
	value string
	apply func(hs *http.Server, cfg *server.Config)
	// limits says the value may end the connection or refuse streams: 1,
	// the floor, a typical value. At 0 and at the maximum it must not.
	limits bool
}

// durationSettings lists, for each duration field, its values: 0, 1 ns,
// the floor where it has one, a typical value, math.MaxInt64.
func durationSettings() []setting {
	huge := time.Duration(math.MaxInt64)
	type field struct {
		name    string
		floor   time.Duration // 0: none
		typical time.Duration
		set     func(hs *http.Server, cfg *server.Config, d time.Duration)
		ends    bool // a finite value ends connections or streams by design
		always  bool // every value limits (a companion setting does)
	}
	fields := []field{
		{"Policy.IdleTimeout", 0, 2 * time.Minute, func(_ *http.Server, c *server.Config, d time.Duration) { c.Policy.IdleTimeout = d }, true, false},
		{"Policy.MaxConnectionAge", 0, 30 * time.Minute, func(_ *http.Server, c *server.Config, d time.Duration) { c.Policy.MaxConnectionAge = d }, true, false},
		{"Policy.MaxConnectionAgeGrace", 0, time.Minute, func(_ *http.Server, c *server.Config, d time.Duration) {
			c.Policy.MaxConnectionAge, c.Policy.MaxConnectionAgeGrace = 30*time.Minute, d
		}, true, true},
		{"Policy.HeaderTimeout", 0, 10 * time.Second, func(_ *http.Server, c *server.Config, d time.Duration) { c.Policy.HeaderTimeout = d }, true, false},
		{"Policy.MaxStreamDuration", 0, time.Minute, func(_ *http.Server, c *server.Config, d time.Duration) { c.Policy.MaxStreamDuration = d }, true, false},
		{"Policy.StreamIdleTimeout", 0, 30 * time.Second, func(_ *http.Server, c *server.Config, d time.Duration) { c.Policy.StreamIdleTimeout = d }, true, false},
		{"Policy.MaxStreamDuration+StreamIdleTimeout", 0, time.Minute, func(_ *http.Server, c *server.Config, d time.Duration) {
			c.Policy.MaxStreamDuration, c.Policy.StreamIdleTimeout = d, 30*time.Second
		}, true, false},
		// Keepalive ends connections whose peer does not answer PINGs: this
		// client is silent for an hour between requests.
		{"Policy.KeepaliveInterval", idle.MinKeepaliveInterval, 30 * time.Second, func(_ *http.Server, c *server.Config, d time.Duration) { c.Policy.KeepaliveInterval = d }, true, false},
		{"Policy.KeepaliveTimeout", 0, 20 * time.Second, func(_ *http.Server, c *server.Config, d time.Duration) {
			c.Policy.KeepaliveInterval, c.Policy.KeepaliveTimeout = time.Second, d
		}, true, true},
		{"Policy.PingMinInterval", 0, 5 * time.Second, func(_ *http.Server, c *server.Config, d time.Duration) { c.Policy.PingMinInterval = d }, true, false},
		{"Drain.Grace", 0, 30 * time.Second, func(_ *http.Server, c *server.Config, d time.Duration) { c.Drain.Grace = d }, false, false},
		{"Drain.PingTimeout", 0, time.Second, func(_ *http.Server, c *server.Config, d time.Duration) { c.Drain.PingTimeout = d }, false, false},
		{"Drain.Settle", 0, 20 * time.Millisecond, func(_ *http.Server, c *server.Config, d time.Duration) { c.Drain.Settle = d }, false, false},
		{"Drain.Linger", 0, time.Second, func(_ *http.Server, c *server.Config, d time.Duration) { c.Drain.Linger = d }, false, false},
		{"Drain.FirstStreamWait", 0, 100 * time.Millisecond, func(_ *http.Server, c *server.Config, d time.Duration) { c.Drain.FirstStreamWait = d }, false, false},
		{"HoldHeaderFlush", 0, 5 * time.Millisecond, func(_ *http.Server, c *server.Config, d time.Duration) { c.HoldHeaderFlush = d }, false, false},
		{"http.Server.IdleTimeout", 0, 2 * time.Minute, func(hs *http.Server, _ *server.Config, d time.Duration) { hs.IdleTimeout = d }, true, false},
		{"http.Server.ReadTimeout", 0, time.Minute, func(hs *http.Server, _ *server.Config, d time.Duration) { hs.ReadTimeout = d }, true, false},
		{"http.Server.WriteTimeout", 0, time.Minute, func(hs *http.Server, _ *server.Config, d time.Duration) { hs.WriteTimeout = d }, true, false},
		{"HTTP2.SendPingTimeout", 0, 30 * time.Second, func(hs *http.Server, _ *server.Config, d time.Duration) { http2Config(hs).SendPingTimeout = d }, true, false},
		{"HTTP2.PingTimeout", 0, 15 * time.Second, func(hs *http.Server, _ *server.Config, d time.Duration) {
			http2Config(hs).SendPingTimeout, http2Config(hs).PingTimeout = time.Second, d
		}, true, true},
		{"HTTP2.WriteByteTimeout", 0, 10 * time.Second, func(hs *http.Server, _ *server.Config, d time.Duration) { http2Config(hs).WriteByteTimeout = d }, false, false},
	}
	var out []setting
	for _, f := range fields {
		values := []time.Duration{0, 1, f.typical, huge}
		if f.floor > 0 {
			values = append(values, f.floor, f.floor-1)
		}
		for _, v := range values {
			out = append(out, setting{
				field:  f.name,
				value:  fmt.Sprint(v),
				apply:  func(hs *http.Server, cfg *server.Config) { f.set(hs, cfg, v) },
				limits: f.always || f.ends && v != 0 && v != huge,
			})
		}
	}
	return out
}

// countSettings lists, for each count field, its values: 0, 1, a typical
// value, math.MaxUint32, math.MaxInt.
func countSettings() []setting {
	type field struct {
		name    string
		typical int
		set     func(hs *http.Server, cfg *server.Config, n int)
		ends    bool
	}
	fields := []field{
		{"Policy.MaxStreamsPerConnection", 1000, func(_ *http.Server, c *server.Config, n int) { c.Policy.MaxStreamsPerConnection = n }, true},
		{"Policy.PingMaxStrikes", 2, func(_ *http.Server, c *server.Config, n int) {
			c.Policy.PingMinInterval, c.Policy.PingMaxStrikes = time.Second, n
		}, true},
		{"HTTP2.MaxConcurrentStreams", 250, func(hs *http.Server, _ *server.Config, n int) { http2Config(hs).MaxConcurrentStreams = n }, true},
		// A client that sends before it reads the server's SETTINGS
		// overflows a smaller table: a COMPRESSION_ERROR, stock's too.
		{"HTTP2.MaxDecoderHeaderTableSize", 4096, func(hs *http.Server, _ *server.Config, n int) { http2Config(hs).MaxDecoderHeaderTableSize = n }, true},
		{"HTTP2.MaxEncoderHeaderTableSize", 4096, func(hs *http.Server, _ *server.Config, n int) { http2Config(hs).MaxEncoderHeaderTableSize = n }, false},
		{"HTTP2.MaxReadFrameSize", 1 << 20, func(hs *http.Server, _ *server.Config, n int) { http2Config(hs).MaxReadFrameSize = n }, false},
		{"HTTP2.MaxReceiveBufferPerConnection", 1 << 20, func(hs *http.Server, _ *server.Config, n int) { http2Config(hs).MaxReceiveBufferPerConnection = n }, false},
		{"HTTP2.MaxReceiveBufferPerStream", 1 << 20, func(hs *http.Server, _ *server.Config, n int) { http2Config(hs).MaxReceiveBufferPerStream = n }, true},
		{"http.Server.MaxHeaderBytes", 1 << 20, func(hs *http.Server, _ *server.Config, n int) { hs.MaxHeaderBytes = n }, true},
	}
	var out []setting
	for _, f := range fields {
		for _, v := range []int{0, 1, f.typical, math.MaxUint32, math.MaxInt} {
			out = append(out, setting{
				field:  f.name,
				value:  fmt.Sprint(v),
				apply:  func(hs *http.Server, cfg *server.Config) { f.set(hs, cfg, v) },
				limits: f.ends && v != 0 && v < math.MaxUint32,
			})
		}
	}
	return out
}

func http2Config(hs *http.Server) *http.HTTP2Config {
	if hs.HTTP2 == nil {
		hs.HTTP2 = &http.HTTP2Config{}
	}
	return hs.HTTP2
}

// exchange is what a client saw of one run: per request, "200 <body>",
// "reset <code>", or "unanswered"; whether a GOAWAY came, and when the
// connection closed.
type exchange struct {
	outcomes map[string]string
	goAway   bool
	closed   time.Duration // -1: still open at the end
}

// runExchange makes three requests on one connection: a GET and a POST at
// once, a GET two seconds later, and a GET an hour later (fake time).
func runExchange(t *testing.T, stock bool, st setting) exchange {
	var ex exchange
	synctest.Test(t, func(t *testing.T) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			fmt.Fprintf(w, "%s %s", r.URL.Path, body)
		})
		hs := &http.Server{Handler: h}
		var cfg server.Config
		st.apply(hs, &cfg)
		b := startSubject(t, hs, setup{stock: stock, bubble: true, cfg: cfg})
		c := b.client()
		c.AutoAck = true
		born := time.Now()
		ex = exchange{outcomes: map[string]string{}, closed: -1}
		c.WritePreface()
		c.WriteSettings()
		c.WriteHeaders(1, true, ":path", "/a")
		c.WriteHeaders(3, false, ":method", "POST", ":path", "/b")
		c.WriteData(3, true, []byte("body"))
		open := collect(c, &ex, map[uint32]string{1: "/a", 3: "/b"})
		for i, at := range []time.Duration{2 * time.Second, time.Hour} {
			if !open {
				break
			}
			h2test.Advance(at) // fake time
			id := uint32(5 + 2*i)
			path := fmt.Sprintf("/later-%d", i)
			if err := c.Framer.WriteHeaders(http2.HeadersFrameParam{StreamID: id, EndStream: true, EndHeaders: true,
				BlockFragment: c.EncodeHeaders(":method", "GET", ":scheme", "http", ":authority", "x", ":path", path)}); err != nil {
				ex.outcomes[path] = "unanswered"
				open = false
				break
			}
			open = collect(c, &ex, map[uint32]string{id: path})
		}
		if !open {
			ex.closed = time.Since(born)
		}
		c.Conn.Close()
		h2test.Advance(5 * time.Second) // fake time: the server lets the connection go
		b.stop()
	})
	return ex
}

// collect reads until the given streams have ended, or the connection
// closed (it reports whether it is still open); bounded in frames and in
// fake time.
func collect(c *h2test.Client, ex *exchange, streams map[uint32]string) bool {
	bodies := map[uint32]*strings.Builder{}
	status := map[uint32]string{}
	pending := len(streams)
	for _, p := range streams {
		ex.outcomes[p] = "unanswered"
	}
	c.Timeout = time.Minute
	for range 1000 {
		if pending == 0 {
			return true
		}
		f, err := c.ReadFrame()
		if err != nil {
			return false // closed (or a minute of silence: fake time)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				c.Framer.WriteSettingsAck()
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				c.Framer.WritePing(true, f.Data)
			}
		case *http2.GoAwayFrame:
			ex.goAway = true
		case *http2.MetaHeadersFrame:
			if p, ok := streams[f.StreamID]; ok {
				status[f.StreamID] = f.PseudoValue("status")
				if f.StreamEnded() {
					ex.outcomes[p] = status[f.StreamID] + " "
					pending--
				}
			}
		case *http2.DataFrame:
			if p, ok := streams[f.StreamID]; ok {
				if bodies[f.StreamID] == nil {
					bodies[f.StreamID] = &strings.Builder{}
				}
				bodies[f.StreamID].Write(f.Data())
				if len(f.Data()) > 0 {
					c.Framer.WriteWindowUpdate(0, uint32(len(f.Data())))
				}
				if f.StreamEnded() {
					ex.outcomes[p] = status[f.StreamID] + " " + bodies[f.StreamID].String()
					pending--
				}
			}
		case *http2.RSTStreamFrame:
			if p, ok := streams[f.StreamID]; ok && ex.outcomes[p] == "unanswered" {
				ex.outcomes[p] = "reset " + f.ErrCode.String()
				pending--
			}
		}
	}
	return false
}

// stockShares reports whether the stock server has the setting too.
func stockShares(field string) bool {
	return strings.HasPrefix(field, "HTTP2.") || strings.HasPrefix(field, "http.Server.")
}

// TestSettingsExtremes runs one connection's exchange at every setting's
// extremes. With a value that cannot limit (0, the maximum), every request
// is served and nothing ends the connection within the hour; with any
// value, no request gets a wrong answer; and for the settings the stock
// server shares, h2lifecycle's client sees what stock's sees.
func TestSettingsExtremes(t *testing.T) {
	settings := append(durationSettings(), countSettings()...)
	for _, st := range settings {
		t.Run(st.field+"="+st.value, func(t *testing.T) {
			ours := runExchange(t, false, st)
			want := map[string]string{"/a": "200 /a ", "/b": "200 /b body", "/later-0": "200 /later-0 ", "/later-1": "200 /later-1 "}
			for p, got := range ours.outcomes {
				if got != want[p] && strings.HasPrefix(got, "200") {
					t.Errorf("%s: %q, want %q", p, got, want[p])
				}
			}
			if !st.limits {
				for p, w := range want {
					if ours.outcomes[p] != w {
						t.Errorf("%s: %q, want %q (this value limits nothing)", p, ours.outcomes[p], w)
					}
				}
				if ours.goAway || ours.closed >= 0 {
					t.Errorf("the connection ended (GOAWAY %v, closed after %v): this value limits nothing", ours.goAway, ours.closed)
				}
			}
			if !stockShares(st.field) {
				return
			}
			stock := runExchange(t, true, st)
			for p, w := range stock.outcomes {
				got := ours.outcomes[p]
				switch {
				case got == w:
				case st.limits && !strings.HasPrefix(got, "reset") || !strings.HasPrefix(w, "reset"):
					// A limiting value ends connections at instants that the
					// two servers' scheduling may place on either side of a
					// request; only the codes they reset a stream with must
					// agree (REFUSED_STREAM is retried, PROTOCOL_ERROR not).
					if !st.limits {
						t.Errorf("%s: h2lifecycle %q, stock %q", p, got, w)
					}
				default:
					t.Errorf("%s: h2lifecycle %q, stock %q", p, got, w)
				}
			}
			if stock.closed >= 0 && (ours.closed < 0 || ours.closed > stock.closed+5*time.Second) {
				t.Errorf("stock closed the connection after %v, h2lifecycle %v", stock.closed, ours.closed)
			}
		})
	}
}
