package conformance

import (
	"bytes"
	"net/http"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"golang.org/x/net/http2"

	"github.com/h2lifecycle/h2lifecycle/internal/frame"
)

// refusedHeaders is what the tap gives the server in place of a HEADERS
// frame that opens a stream over the advertised limit: HEADERS carrying
// only a priority on the stream itself, then a CONTINUATION with the
// original header block, unchanged (lifecycle's limit.go).
func refusedHeaders(id uint32, endStream bool, block []byte) []byte {
	b := frame.AppendRefusedHeaders(nil, id, endStream, true, uint32(len(block)))
	return append(b, block...)
}

// Fact 15 (DESIGN.md; lifecycle's limit.go, RFC 9113 §5.3.1): a new stream whose
// HEADERS makes it depend on itself is reset with RST_STREAM(PROTOCOL_ERROR)
// before a handler runs; the server decodes its header block all the same
// (HPACK stays in step: a later request that names the refused block's
// dynamic table entry reads the right value), and takes its stream id
// (HEADERS again on that id is a connection error, as for any stream the
// stock server refuses). This is how the tap refuses a stream over the
// advertised limit without changing a byte of the client's header block.
func TestSelfDependentStreamRefused(t *testing.T) {
	for _, next := range []string{"a later request", "the same stream id again"} {
		t.Run(next, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var refusedRan atomic.Bool
				h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path == "/refused" {
						refusedRan.Store(true)
					}
					w.Write([]byte(r.Header.Get("X-Table")))
				})
				c, _ := pipeConn(t, connConfig{wiring: chosen(), handler: h})
				c.Handshake()
				block := c.EncodeHeaders(":method", "GET", ":scheme", "http", ":authority", "x", ":path", "/refused",
					"x-table", "entry-from-the-refused-block")
				c.Conn.Write(refusedHeaders(1, true, block))
				if code := c.ExpectRSTStream(1); code != http2.ErrCodeProtocol {
					t.Fatalf("%s: a stream that depends on itself: RST_STREAM(%v), want PROTOCOL_ERROR", toolchainName, code)
				}
				synctest.Wait()
				if refusedRan.Load() {
					t.Fatalf("%s: the handler ran for a stream that depends on itself", toolchainName)
				}
				if next == "a later request" {
					// Indexed from the dynamic table: wrong if the server
					// skipped the refused block.
					block = c.EncodeHeaders(":method", "GET", ":scheme", "http", ":authority", "x", ":path", "/next",
						"x-table", "entry-from-the-refused-block")
					c.WriteHeaderBlock(3, true, block, 0)
					res := c.ExpectResponse(3)
					if res.Status != "200" || !bytes.Equal(res.Body, []byte("entry-from-the-refused-block")) {
						t.Fatalf("%s: after the refusal: %s %q; the server's HPACK state is out of step", toolchainName, res.Status, res.Body)
					}
					return
				}
				c.WriteHeaders(1, true, ":path", "/again")
				ga := c.ExpectGoAway()
				if ga.ErrCode != http2.ErrCodeProtocol {
					t.Fatalf("%s: HEADERS again on the refused stream: GOAWAY(%v), want PROTOCOL_ERROR: the server did not take the id", toolchainName, ga.ErrCode)
				}
			})
		})
	}
}
