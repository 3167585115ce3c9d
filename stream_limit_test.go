package h2lifecycle_test

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/net/http2"

	"github.com/h2lifecycle/h2lifecycle/internal/h2test"
	"github.com/h2lifecycle/h2lifecycle/server"
)

// handlerRuns is a handler that counts its executions by request path.
// Requests whose path starts with /hold wait until release (or until their
// context ends), so that they keep their stream open.
type handlerRuns struct {
	mu      sync.Mutex
	n       map[string]int
	hold    chan struct{}
	release func()
}

func newHandlerRuns() *handlerRuns {
	h := &handlerRuns{n: map[string]int{}, hold: make(chan struct{})}
	h.release = sync.OnceFunc(func() { close(h.hold) })
	return h
}

func (h *handlerRuns) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.n[r.URL.Path]++
	h.mu.Unlock()
	if strings.HasPrefix(r.URL.Path, "/hold") {
		select {
		case <-h.hold:
		case <-r.Context().Done():
		}
	}
	io.WriteString(w, "ok")
}

func (h *handlerRuns) count(path string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n[path]
}

func (h *handlerRuns) total() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, k := range h.n {
		n += k
	}
	return n
}

// TestStreamLimitWholeRange: every value of http.Server.HTTP2's
// MaxConcurrentStreams, up to math.MaxInt (math.MaxUint32 is grpc-go's
// default and a common way to say "no limit"), is advertised as the stock
// server advertises it, and requests are served. The advertised/enforced
// arithmetic once overflowed for values above 2^31-1 and refused every
// stream.
func TestStreamLimitWholeRange(t *testing.T) {
	values := []int{-1, 1, 2, 100, 250, 1<<30 - 1, 1 << 30, math.MaxInt32, 1 << 31,
		math.MaxUint32 - 1, math.MaxUint32, 1 << 32, 1<<32 + 5, math.MaxInt}
	for _, v := range values {
		t.Run(fmt.Sprint(v), func(t *testing.T) {
			var advertised [2]uint32
			for i, stock := range []bool{true, false} {
				synctest.Test(t, func(t *testing.T) {
					h := newHandlerRuns()
					hs := &http.Server{Handler: h, HTTP2: &http.HTTP2Config{MaxConcurrentStreams: v}}
					b := startSubject(t, hs, setup{stock: stock, bubble: true})
					c := b.client()
					c.Handshake()
					advertised[i] = c.ServerSettings[http2.SettingMaxConcurrentStreams]
					c.WriteHeaders(1, true, ":path", "/one")
					if res := c.ExpectResponse(1); res.Status != "200" {
						t.Errorf("%s: status %s", subjectName(stock), res.Status)
					}
					if advertised[i] >= 2 {
						// Two streams at once are within the limit.
						c.WriteHeaders(3, true, ":path", "/hold")
						c.WriteHeaders(5, true, ":path", "/two")
						res := c.ExpectResponse(5)
						h.release()
						if res.Status != "200" {
							t.Errorf("%s: second stream: status %s", subjectName(stock), res.Status)
						}
						c.ExpectResponse(3)
					}
					c.Conn.Close()
					b.stop()
				})
			}
			if advertised[0] != advertised[1] {
				t.Errorf("SETTINGS_MAX_CONCURRENT_STREAMS: stock advertises %d, h2lifecycle %d", advertised[0], advertised[1])
			}
		})
	}
}

// rawHeaders encodes a HEADERS frame (END_HEADERS set) carrying block.
func rawHeaders(t *testing.T, id uint32, endStream bool, block []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	fr := http2.NewFramer(&buf, nil)
	fr.AllowIllegalWrites = true
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block, EndStream: endStream, EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestStreamLimitRefusalAirtight: with a stream limit of 1, a client that
// opens a second stream while the first is open never gets a handler run
// for it, however it shapes its bytes — as with the stock server — and
// every stream that does reach a handler is counted by the supervisor.
// Each case was a way around the tap's refusal:
//   - reused id: HEADERS again on the refused stream's id;
//   - block ends mid-representation: the client's HPACK block ends inside a
//     literal (00 8a 00: a new name of 10 Huffman octets, one given), so bytes the tap
//     appended after it decoded as part of a harmless field;
//   - header split: the HEADERS frame's 9-byte header arrives in two reads.
func TestStreamLimitRefusalAirtight(t *testing.T) {
	cases := []struct {
		name string
		send func(t *testing.T, c *h2test.Client)
	}{
		{"reused id", func(t *testing.T, c *h2test.Client) {
			c.WriteHeaders(3, true, ":path", "/over")
			synctest.Wait() // the refusal, if any, goes out
			c.WriteHeaders(3, true, ":path", "/over-again")
		}},
		{"block ends mid-representation", func(t *testing.T, c *h2test.Client) {
			block := append(c.EncodeHeaders(":method", "GET", ":scheme", "http", ":authority", "x", ":path", "/over"), 0x00, 0x8a, 0x00)
			c.Conn.Write(rawHeaders(t, 3, true, block))
		}},
		{"header split", func(t *testing.T, c *h2test.Client) {
			f := rawHeaders(t, 3, true, c.EncodeHeaders(":method", "GET", ":scheme", "http", ":authority", "x", ":path", "/over"))
			c.Conn.Write(f[:4])
			synctest.Wait() // the server reads the first four bytes alone
			c.Conn.Write(f[4:])
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			eachSubject(t, bothServers, h2cOnly, func(t *testing.T, stock, _ bool) {
				synctest.Test(t, func(t *testing.T) {
					h := newHandlerRuns()
					hs := &http.Server{Handler: h, HTTP2: &http.HTTP2Config{MaxConcurrentStreams: 1}}
					b := startSubject(t, hs, setup{stock: stock, bubble: true})
					c := b.client()
					c.Handshake()
					c.WriteHeaders(1, true, ":path", "/hold")
					synctest.Wait()
					tc.send(t, c)
					synctest.Wait()
					for _, p := range []string{"/over", "/over-again"} {
						if n := h.count(p); n != 0 {
							t.Errorf("the handler ran %d times for %s, a stream over the limit of 1", n, p)
						}
					}
					if !stock {
						checkCounted(t, b.srv, h.total())
					}
					h.release()
					c.Conn.Close()
					h2test.Advance(2 * time.Second) // fake time: a server that ended the connection lets it go
					b.stop()
				})
			})
		})
	}
}

// checkCounted fails unless the supervisors of srv counted at least the
// streams that reached a handler: a stream is served only if it is counted.
func checkCounted(t *testing.T, srv *server.Server, served int) {
	t.Helper()
	var opened uint64
	for _, s := range srv.Snapshot() {
		opened += s.StreamsOpened
	}
	if opened < uint64(served) {
		t.Errorf("the supervisors counted %d streams, the handler ran %d times", opened, served)
	}
}

// TestRefusedStreamLeavesConnectionWorking: a stream refused over the limit
// whose HEADERS frame carries padding and priority fields (browsers send
// priority fields) is refused cleanly, with the stock server's code, and the
// connection goes on: the next request, whose header block references the
// refused block's HPACK table entries, is served.
func TestRefusedStreamLeavesConnectionWorking(t *testing.T) {
	eachSubject(t, bothServers, h2cOnly, func(t *testing.T, stock, _ bool) {
		synctest.Test(t, func(t *testing.T) {
			h := newHandlerRuns()
			hs := &http.Server{Handler: h, HTTP2: &http.HTTP2Config{MaxConcurrentStreams: 1}}
			b := startSubject(t, hs, setup{stock: stock, bubble: true})
			c := b.client()
			c.Handshake()
			c.WriteHeaders(1, true, ":path", "/hold")
			synctest.Wait()
			block := c.EncodeHeaders(":method", "GET", ":scheme", "http", ":authority", "x", ":path", "/over", "x-entry", "indexed-next-time")
			var buf bytes.Buffer
			fr := http2.NewFramer(&buf, nil)
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: block, EndStream: true, EndHeaders: true,
				PadLength: 7, Priority: http2.PriorityParam{StreamDep: 0, Weight: 200}})
			c.Conn.Write(buf.Bytes())
			if code := c.ExpectRSTStream(3); code != http2.ErrCodeProtocol {
				t.Errorf("the stream over the limit: RST_STREAM(%v), want PROTOCOL_ERROR", code)
			}
			h.release()
			c.ExpectResponse(1)
			c.WriteHeaders(5, true, ":path", "/next", "x-entry", "indexed-next-time")
			if res := c.ExpectResponse(5); res.Status != "200" {
				t.Errorf("the next request: %s", res.Status)
			}
			if n := h.count("/over"); n != 0 {
				t.Errorf("the handler ran %d times for the refused stream", n)
			}
			c.Conn.Close()
			b.stop()
		})
	})
}
