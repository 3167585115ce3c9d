package conformance

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"testing/synctest"

	"golang.org/x/net/http2"
)

// expectServedCleanly opens stream id and fails unless it gets a 200 with no
// GOAWAY and no RST_STREAM on the way.
func expectServedCleanly(t *testing.T, c *clientT, id uint32, why string) {
	t.Helper()
	c.WriteHeaders(id, true, ":path", "/next")
	var bad []seen
	done := false
	_, err := c.ReadUntil(func(f http2.Frame) bool {
		s := record(f)
		if s.goAway != nil || s.Type == http2.FrameRSTStream {
			bad = append(bad, s)
		}
		done = s.StreamID == id && s.Flags.Has(http2.FlagHeadersEndStream) // same bit for DATA
		return done || len(bad) > 0
	})
	if err != nil || len(bad) > 0 {
		t.Fatalf("%s: stream %d: read error %v, unexpected frames:%s\n%s", toolchainName, id, err, summaries(bad), why)
	}
}

// Fact 8 (DESIGN.md; RFC 9113 §5.1, §6.4, §6.9): WINDOW_UPDATE and
// RST_STREAM on a closed stream are ignored: no GOAWAY, no RST_STREAM, and
// the next request on the connection succeeds. Clients send both after
// responses end (late window updates, cancellations racing completion), so
// anything else would kill healthy connections during a drain.
func TestClosedStreamFramesIgnored(t *testing.T) {
	for _, how := range []string{"after the response ended", "after the server reset it"} {
		t.Run(how, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path == "/abort" {
						panic(http.ErrAbortHandler) // RST_STREAM(INTERNAL_ERROR), nothing logged
					}
					w.Write([]byte("ok"))
				})
				c, _ := pipeConn(t, connConfig{wiring: chosen(), handler: h})
				c.Handshake()
				if how == "after the server reset it" {
					c.WriteHeaders(1, true, ":path", "/abort")
					if code := c.ExpectRSTStream(1); code != http2.ErrCodeInternal {
						t.Fatalf("aborted handler: RST_STREAM(%v), want INTERNAL_ERROR", code)
					}
				} else {
					c.WriteHeaders(1, true, ":path", "/done")
					c.ExpectResponse(1)
				}
				c.WriteWindowUpdate(1, 1000)
				c.WriteRSTStream(1, http2.ErrCodeCancel)
				expectServedCleanly(t, c, 3, "WINDOW_UPDATE/RST_STREAM on a closed stream must be ignored (RFC 9113 §5.1); otherwise ordinary client races would tear down connections")
			})
		})
	}
}

// Fact 8 (RFC 9113 §5.1, §6.3): PRIORITY may name an idle stream; it neither
// errors nor opens the stream, so a lower stream id can still be opened
// afterwards. The tap must count only HEADERS as opening a stream (DESIGN.md,
// rule 5).
func TestPriorityOnIdleStreamAllowed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _ := pipeConn(t, connConfig{wiring: chosen(), handler: newGates()})
		c.Handshake()
		c.WritePriority(7, http2.PriorityParam{StreamDep: 0, Weight: 15})
		if got := syncSeen(t, c, 1); len(got) > 0 {
			t.Fatalf("%s: PRIORITY on idle stream 7 produced:%s", toolchainName, summaries(got))
		}
		expectServedCleanly(t, c, 5, "PRIORITY on stream 7 must not open it (5 < 7 is still a valid new stream)")
		expectServedCleanly(t, c, 7, "stream 7 named only by PRIORITY must still be openable")
	})
}

// Fact 9 (DESIGN.md; golang/go#56317): a handler that flushes and returns
// without a body produces HEADERS without END_STREAM and then an empty
// DATA(END_STREAM); one that returns without flushing produces a single
// HEADERS with END_STREAM. The tap's stream-end tracking must handle both.
func TestFlushWithoutBodyEndsWithEmptyData(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/flush" {
			w.(http.Flusher).Flush()
		}
	})
	type shape struct {
		typ   http2.FrameType
		end   bool
		empty bool
	}
	for _, tc := range []struct {
		path string
		want []shape
	}{
		{"/flush", []shape{{http2.FrameHeaders, false, false}, {http2.FrameData, true, true}}},
		{"/plain", []shape{{http2.FrameHeaders, true, false}}},
	} {
		t.Run(tc.path, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c, _ := pipeConn(t, connConfig{wiring: chosen(), handler: h})
				c.Handshake()
				c.WriteHeaders(1, true, ":path", tc.path)
				res := c.ExpectResponse(1)
				var got []shape
				for _, fh := range res.Frames {
					got = append(got, shape{fh.Type, fh.Flags.Has(http2.FlagDataEndStream), fh.Length == 0})
				}
				// HEADERS' emptiness is not part of the fact.
				for i := range got {
					if got[i].typ == http2.FrameHeaders {
						got[i].empty = false
					}
				}
				if !slices.Equal(got, tc.want) {
					t.Fatalf("%s: %s: response frames %+v, want %+v", toolchainName, tc.path, got, tc.want)
				}
			})
		})
	}
}

// Not in DESIGN.md, found while pinning: whether the throwaway's keep-alive
// flag reaches HTTP/2. On Go 1.27 the internal server asks the http.Server
// (DoKeepAlives), so with keep-alives off it sends GOAWAY(NO_ERROR) whenever
// the stream count drops to zero; on Go 1.26 x/net never sees the flag. If
// h2lifecycle copies user settings onto throwaways, it must not copy this.
func TestThrowawayKeepAlivesFlag(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _ := pipeConn(t, connConfig{
			wiring:  chosen(),
			handler: newGates(),
			after:   func(hs *http.Server, _ *http2.Server) { hs.SetKeepAlivesEnabled(false) },
		})
		c.Handshake()
		c.WriteHeaders(1, true, ":path", "/1")
		c.ExpectResponse(1)
		synctest.Wait()
		ga := firstGoAway(syncSeen(t, c, 1))
		switch {
		case keepAlivesFlagHonoured && (ga == nil || ga.code != http2.ErrCodeNo || ga.last != 1):
			t.Fatalf("%s: throwaway with keep-alives off: GOAWAY %+v after the last stream, want GOAWAY(1, NO_ERROR)", toolchainName, ga)
		case !keepAlivesFlagHonoured && ga != nil:
			t.Fatalf("%s: throwaway with keep-alives off sent GOAWAY(%d, %v) when its last stream ended: the server now honours the flag; update keepAlivesFlagHonoured and check what h2lifecycle copies onto throwaways", toolchainName, ga.last, ga.code)
		}
	})
}

// serverContext is what handlers find under http.ServerContextKey.
type serverContext int

const (
	freshServer     serverContext = iota // an empty http.Server of the wrapper's
	throwawayServer                      // the throwaway (BaseConfig)
	contextServer                        // what ServeConnOpts.Context carries: the user's server
)

func (c serverContext) String() string {
	return [...]string{"a fresh http.Server", "the throwaway", "the user's server from the context"}[c]
}

// Not in DESIGN.md, found while pinning: through x/net, handlers'
// http.ServerContextKey is never the user's server, even when
// ServeConnOpts.Context carries it: x/net's ServeConn overwrites it with
// BaseConfig, or, on Go 1.27 with a nil BaseConfig, a fresh http.Server.
// net/http's own HTTP/2 server (Go 1.27, the hook) keeps the context's, as
// the stock server shows the user's server. Handlers that look the server
// up (for example to read its settings) see what serverContextIs says.
func TestServerContextKeyInHandlers(t *testing.T) {
	for _, w := range wirings {
		t.Run(w.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				user := &http.Server{}
				got := make(chan *http.Server, 1)
				h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					srv, _ := r.Context().Value(http.ServerContextKey).(*http.Server)
					got <- srv
				})
				ctx := context.WithValue(context.Background(), http.ServerContextKey, user)
				c, s := pipeConn(t, connConfig{wiring: w, handler: h, ctx: ctx})
				c.Handshake()
				c.WriteHeaders(1, true)
				c.ExpectResponse(1)
				srv := <-got
				is := freshServer
				switch srv {
				case nil:
					t.Fatalf("%s, %v: no *http.Server under http.ServerContextKey", toolchainName, w)
				case user:
					is = contextServer
				case s.hs:
					is = throwawayServer
				}
				if want := serverContextIs[w]; is != want {
					t.Fatalf("%s, %v: handlers find %v under http.ServerContextKey, want %v; update serverContextIs and the README's note on it", toolchainName, w, is, want)
				}
			})
		})
	}
}
