package h2lifecycle_test

// Interop hazards seen in the field (DESIGN.md §5), each proven on the wire
// against h2lifecycle and, beside it, the stock x/net server:
//
//   - hazard 0: WINDOW_UPDATE / RST_STREAM on a closed stream must be
//     ignored (RFC 9113 §5.1, §6.9); Kestrel answered with GOAWAY.
//   - hazard 2: SETTINGS_MAX_CONCURRENT_STREAMS must be advertised whatever
//     the configuration; Kestrel left the default out and Go's client then
//     assumed 1000.
//   - hazard 4 (curl's half): a client that reuses a connection just as the
//     idle timeout closes it must not see a framing error.
//
// The MAX_CONCURRENT_STREAMS race (hazard 1) and the empty DATA(END_STREAM)
// that breaks gRPC through a proxy (hazard 3) need a gRPC client: see
// examples/grpc/interop (its own module). The browser half of hazard 4 and the nghttp2
// clients are bench scripts: bench/interop, bench/RESULTS-interop.md.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/net/http2"

	"github.com/h2lifecycle/h2lifecycle/drain"
	"github.com/h2lifecycle/h2lifecycle/idle"
	"github.com/h2lifecycle/h2lifecycle/internal/h2test"
	"github.com/h2lifecycle/h2lifecycle/server"
)

// ----------------------------------------------------------------------------
// Hazard 0 (DESIGN.md): WINDOW_UPDATE / RST_STREAM after a stream is closed.

// closedStreamHandler serves the paths of TestClosedStreamFramesIgnored:
// /ok answers, /abort resets the stream (RST_STREAM(INTERNAL_ERROR)),
// /cancel waits for the client to cancel, /hold waits for release.
type closedStreamHandler struct {
	release chan struct{}
}

func (h *closedStreamHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/abort":
		panic(http.ErrAbortHandler) // the server resets the stream, logs nothing
	case "/cancel":
		<-r.Context().Done()
		return
	case "/hold":
		select {
		case <-h.release:
		case <-r.Context().Done():
			return
		}
	}
	io.WriteString(w, "ok "+r.URL.Path)
}

// wireWatch reads frames on behalf of a test and records the ones that
// would end streams or the connection: every RST_STREAM and every GOAWAY.
type wireWatch struct {
	c       *h2test.Client
	resets  []string
	goAways []*goAwaySeen
	ended   map[uint32]string // stream → :status, once ended
	bodies  map[uint32]string
	status  map[uint32]string
	pings   [][8]byte // non-ACK PINGs from the server
	acks    map[[8]byte]bool
	n       byte
}

type goAwaySeen struct {
	last uint32
	code http2.ErrCode
}

func newWireWatch(c *h2test.Client) *wireWatch {
	return &wireWatch{c: c, ended: map[uint32]string{}, bodies: map[uint32]string{}, status: map[uint32]string{},
		acks: map[[8]byte]bool{}}
}

func (w *wireWatch) see(f http2.Frame) {
	id := f.Header().StreamID
	switch f := f.(type) {
	case *http2.RSTStreamFrame:
		w.resets = append(w.resets, fmt.Sprintf("RST_STREAM(%d, %v)", id, f.ErrCode))
	case *http2.GoAwayFrame:
		w.goAways = append(w.goAways, &goAwaySeen{f.LastStreamID, f.ErrCode})
	case *http2.PingFrame:
		if f.IsAck() {
			w.acks[f.Data] = true
		} else {
			w.pings = append(w.pings, f.Data)
		}
	case *http2.MetaHeadersFrame:
		if _, ok := w.status[id]; !ok {
			w.status[id] = f.PseudoValue("status")
		}
		if f.StreamEnded() {
			w.ended[id] = w.status[id]
		}
	case *http2.DataFrame:
		w.bodies[id] += string(f.Data())
		if f.StreamEnded() {
			w.ended[id] = w.status[id]
		}
	}
}

// until reads (ACKing SETTINGS, and PINGs if the client's AutoAck is set)
// until pred holds after a frame, and fails the test if the connection ends.
func (w *wireWatch) until(t *testing.T, what string, pred func() bool) {
	t.Helper()
	if pred() {
		return
	}
	if _, err := w.c.ReadUntil(func(f http2.Frame) bool { w.see(f); return pred() }); err != nil {
		t.Fatalf("waiting for %s: connection ended: %v (resets %v, GOAWAYs %v)", what, err, w.resets, w.goAwayList())
	}
}

// sync writes a PING and reads until its ACK, seeing every frame on the
// way: the Go servers handle frames in order, so on return the server has
// processed everything written before, and answered it.
func (w *wireWatch) sync(t *testing.T) {
	t.Helper()
	w.n++
	data := [8]byte{'i', 'n', 't', 'e', 'r', 'o', 'p', w.n}
	w.c.WritePing(data)
	w.until(t, "the ACK of a sync PING", func() bool { return w.acks[data] })
}

func (w *wireWatch) goAwayList() string {
	var s []string
	for _, g := range w.goAways {
		s = append(s, fmt.Sprintf("GOAWAY(%d, %v)", g.last, g.code))
	}
	return strings.Join(s, " ")
}

// lateFrames sends what a client sends for streams it already considers
// done: a WINDOW_UPDATE returning the flow-control credit of what it read
// (Go's client is eager with those) and an RST_STREAM(CANCEL) from a
// cancellation that raced the end of the stream (hazard 0).
func lateFrames(c *h2test.Client, ids ...uint32) {
	for _, id := range ids {
		c.WriteWindowUpdate(id, 1000)
		c.WriteRSTStream(id, http2.ErrCodeCancel)
	}
}

// TestClosedStreamFramesIgnored (hazard 0): RFC 9113 §5.1 says endpoints
// MUST ignore WINDOW_UPDATE and RST_STREAM received on a closed stream for a
// short while after it ended, and §6.9 that WINDOW_UPDATE may arrive on a
// half-closed or closed stream. Kestrel answered such a WINDOW_UPDATE with
// GOAWAY and lost the connection's next requests. Neither Go server may:
// after stream 1 ends in each way a stream ends — both sides sent
// END_STREAM, the server reset it, the client reset it — the client sends
// WINDOW_UPDATE and RST_STREAM for it, and the connection stays up, sends no
// GOAWAY or RST_STREAM, and serves the next request. The same holds while a
// drain is under way: in h2lifecycle's notice phase (where a request that
// crossed GOAWAY(2^31-1) is still served) and after its final GOAWAY, and
// after the stock server's shutdown GOAWAY, with the late frames naming
// every stream that has ended so far.
func TestClosedStreamFramesIgnored(t *testing.T) {
	for _, how := range []string{"both ended", "server reset", "client reset"} {
		t.Run(strings.ReplaceAll(how, " ", "_"), func(t *testing.T) {
			eachSubject(t, bothServers, bothTransports, func(t *testing.T, stock, tlsOn bool) {
				closedStreamFrames(t, stock, tlsOn, how)
			})
		})
	}
}

func closedStreamFrames(t *testing.T, stock, tlsOn bool, how string) {
	h := &closedStreamHandler{release: make(chan struct{})}
	// The PING timeout is long: the test holds the ACK while it sends
	// frames in the notice phase, and a frozen CI machine must not turn
	// that into a final GOAWAY before the crossing request.
	s := startSubject(t, &http.Server{Handler: h}, setup{stock: stock, tls: tlsOn, cfg: server.Config{Drain: drain.Config{PingTimeout: 20 * time.Second}}})
	c := s.client()
	c.Handshake()
	c.AutoAck = false // this test answers the drain's PING itself
	w := newWireWatch(c)
	wantResets := 0

	// Stream 1 ends.
	switch how {
	case "both ended":
		c.WriteHeaders(1, true, ":path", "/ok")
		w.until(t, "stream 1's response", func() bool { _, ok := w.ended[1]; return ok })
	case "server reset":
		c.WriteHeaders(1, true, ":path", "/abort")
		w.until(t, "stream 1's RST_STREAM", func() bool { return len(w.resets) > 0 })
		if w.resets[0] != "RST_STREAM(1, INTERNAL_ERROR)" {
			t.Fatalf("aborted handler: %v, want RST_STREAM(1, INTERNAL_ERROR)", w.resets)
		}
		wantResets = 1
	case "client reset":
		c.WriteHeaders(1, true, ":path", "/cancel")
		c.WriteRSTStream(1, http2.ErrCodeCancel)
	}

	// Late frames for stream 1, then the next request on the connection.
	lateFrames(c, 1)
	c.WriteHeaders(3, true, ":path", "/ok")
	w.until(t, "stream 3's response", func() bool { _, ok := w.ended[3]; return ok })
	if w.ended[3] != "200" || w.bodies[3] != "ok /ok" {
		t.Fatalf("stream 3 after late frames for stream 1: status %q body %q, want 200 \"ok /ok\"", w.ended[3], w.bodies[3])
	}
	w.sync(t) // the server has processed everything above
	if len(w.resets) != wantResets || len(w.goAways) != 0 {
		t.Fatalf("%s: late WINDOW_UPDATE/RST_STREAM on closed stream 1 got %v %s, want nothing (RFC 9113 §5.1)", s.name, w.resets, w.goAwayList())
	}
	if s.srv != nil {
		if snap := s.srv.Snapshot(); len(snap) != 1 || snap[0].OpenStreams != 0 || snap[0].State != "active" {
			t.Fatalf("snapshot after the late frames: %+v, want one active connection with no open stream", snap)
		}
	}

	// A drain begins with stream 5 in flight.
	c.WriteHeaders(5, true, ":path", "/hold")
	w.sync(t)
	drained := s.startDrain(15 * time.Second)
	w.until(t, "the drain's first GOAWAY", func() bool { return len(w.goAways) > 0 })
	lateFrames(c, 1, 3)
	next := uint32(5) // the last stream the server will serve
	if stock {
		// x/net's shutdown: one GOAWAY with the real last stream.
		if g := w.goAways[0]; g.last != 5 || g.code != http2.ErrCodeNo {
			t.Fatalf("stock shutdown GOAWAY(%d, %v), want GOAWAY(5, NO_ERROR)", g.last, g.code)
		}
	} else {
		if g := w.goAways[0]; g.last != 1<<31-1 || g.code != http2.ErrCodeNo {
			t.Fatalf("first GOAWAY(%d, %v), want GOAWAY(2147483647, NO_ERROR)", g.last, g.code)
		}
		w.until(t, "the drain's PING", func() bool { return len(w.pings) > 0 })
		// Notice phase: a request crossing GOAWAY(2^31-1) is served, late
		// frames or not.
		c.WriteHeaders(7, true, ":path", "/ok")
		w.until(t, "stream 7's response", func() bool { _, ok := w.ended[7]; return ok })
		lateFrames(c, 7)
		next = 7
		c.WritePingAck(w.pings[0])
		w.until(t, "the final GOAWAY", func() bool { return len(w.goAways) > 1 })
		if g := w.goAways[1]; g.last != 7 || g.code != http2.ErrCodeNo {
			t.Fatalf("final GOAWAY(%d, %v), want GOAWAY(7, NO_ERROR)", g.last, g.code)
		}
		lateFrames(c, 1, 3, 7)
	}
	w.sync(t)
	close(h.release)
	w.until(t, "stream 5's response", func() bool { _, ok := w.ended[5]; return ok })
	if w.ended[5] != "200" || (!stock && w.ended[7] != "200") {
		t.Fatalf("streams in flight during the drain: 5 → %q, 7 → %q, want 200", w.ended[5], w.ended[7])
	}
	lateFrames(c, 5)
	err := c.ReadUntilClosed(w.see)
	c.Conn.Close() // as a real client does on EOF: h2lifecycle's linger ends at once
	if len(w.resets) != wantResets {
		t.Errorf("%s: resets %v during the drain, want none", s.name, w.resets)
	}
	for _, g := range w.goAways {
		if g.code != http2.ErrCodeNo || (g.last != next && g.last != 1<<31-1) {
			t.Errorf("%s: GOAWAYs %s, want only NO_ERROR ones ending at %d", s.name, w.goAwayList(), next)
		}
	}
	if err != nil {
		t.Errorf("%s: connection ended with %v, want a clean EOF", s.name, err)
	}
	if err := <-drained; err != nil {
		t.Errorf("%s: drain: %v", s.name, err)
	}
	t.Logf("%s, stream 1 %s: late frames ignored; GOAWAYs %s; resets %v", s.name, how, w.goAwayList(), w.resets)
}

// ----------------------------------------------------------------------------
// Hazard 2 (DESIGN.md): SETTINGS_MAX_CONCURRENT_STREAMS is always advertised.

// TestMaxConcurrentStreamsAlwaysAdvertised (hazard 2): a server that leaves
// SETTINGS_MAX_CONCURRENT_STREAMS out of its first SETTINGS because its value
// is "the default" leaves the client to guess (RFC 9113 §6.5.2: initially
// unlimited). Go's client then assumes 1000 and Kestrel, meaning 100,
// refused the excess. The server's first SETTINGS must carry the limit the
// server enforces, for every configuration: the default (250), a value set
// through http.Server.HTTP2, with a connection policy, over h2c and TLS. And
// the limit advertised must be the one enforced: one stream above it is
// refused (h2lifecycle's server allows one more, for the race of hazard 1,
// and its tap refuses a stream the client opens above the advertised limit:
// TestStreamLimitRace).
func TestMaxConcurrentStreamsAlwaysAdvertised(t *testing.T) {
	configs := []struct {
		name   string
		http2  *http.HTTP2Config
		policy idle.Policy
		want   uint32
	}{
		{"default", nil, idle.Policy{}, 250},
		{"HTTP2.MaxConcurrentStreams=100", &http.HTTP2Config{MaxConcurrentStreams: 100}, idle.Policy{}, 100},
		{"HTTP2.MaxConcurrentStreams=3", &http.HTTP2Config{MaxConcurrentStreams: 3}, idle.Policy{}, 3},
		{"HTTP2 other fields only", &http.HTTP2Config{MaxReadFrameSize: 1 << 20}, idle.Policy{}, 250},
		{"policy", &http.HTTP2Config{MaxConcurrentStreams: 3}, idle.Policy{
			IdleTimeout: time.Minute, MaxConnectionAge: time.Hour, MaxStreamsPerConnection: 1000, PingMinInterval: time.Second,
		}, 3},
	}
	for _, cfg := range configs {
		t.Run(strings.ReplaceAll(cfg.name, " ", "_"), func(t *testing.T) {
			eachSubject(t, bothServers, bothTransports, func(t *testing.T, stock, tlsOn bool) {
				release := make(chan struct{})
				defer close(release)
				hs := &http.Server{HTTP2: cfg.http2, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					select {
					case <-release:
					case <-r.Context().Done():
					}
				})}
				s := startSubject(t, hs, setup{stock: stock, tls: tlsOn, cfg: server.Config{Policy: cfg.policy}})
				c := s.client()
				c.WritePreface() // h2c: net/http reads the preface before handing over
				c.WriteSettings()
				got := c.ExpectSettings()
				v, ok := got[http2.SettingMaxConcurrentStreams]
				if !ok || v != cfg.want {
					t.Fatalf("%s: first SETTINGS %v: MAX_CONCURRENT_STREAMS = %d (present %v), want %d", s.name, got, v, ok, cfg.want)
				}
				t.Logf("%s: SETTINGS_MAX_CONCURRENT_STREAMS=%d", s.name, v)
				if cfg.want > 3 {
					return
				}
				// The advertised limit is enforced, no more, no less.
				c.WriteSettingsAck()
				c.Sync()
				for id := uint32(1); id <= 2*cfg.want-1; id += 2 {
					c.WriteHeaders(id, true)
				}
				c.Sync()
				over := 2*cfg.want + 1
				c.WriteHeaders(over, true)
				if code := c.ExpectRSTStream(over); code != http2.ErrCodeProtocol && code != http2.ErrCodeRefusedStream {
					t.Fatalf("%s: stream %d over the limit: RST_STREAM(%v), want PROTOCOL_ERROR or REFUSED_STREAM", s.name, over, code)
				}
			})
		})
	}
}

// ----------------------------------------------------------------------------
// Hazard 4 (DESIGN.md): the idle timeout must keep working on a reused
// connection.

// TestIdleTimeoutAfterRequestAcrossTimer (hazard 4): found with curl, which
// reuses one connection for requests spaced about the idle timeout apart.
// When the supervisor's idle timer fires while a request is in flight, it
// finds nothing due and is not re-armed (the connection is busy). The HTTP/2
// server reports the connection idle (ConnState) before the response's
// END_STREAM reaches the wire (x/net flushes after it closes the stream), so
// the last event that makes the connection idle is the tap seeing
// END_STREAM: if that path does not re-arm the timer, the connection never
// idles out. Here:
// idle timeout 100ms, a request arrives at 95ms and takes 10ms, then
// silence; the notice must come 100ms after the response.
func TestIdleTimeoutAfterRequestAcrossTimer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const idle = 100 * time.Millisecond
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h2test.Advance(10 * time.Millisecond) // across the timer set when the connection started
			io.WriteString(w, "ok")
		})
		b := startSubject(t, &http.Server{Handler: h, IdleTimeout: idle}, setup{bubble: true})
		c := b.client()
		c.Handshake()
		h2test.Advance(idle - 5*time.Millisecond)
		c.WriteHeaders(1, true)
		c.ExpectResponse(1)
		synctest.Wait()
		idleFrom := time.Now()
		c.Timeout = 10 * idle
		f, err := c.ReadFrame()
		if err != nil {
			t.Errorf("no GOAWAY within %v of the connection going idle (idle timeout %v): %v", c.Timeout, idle, err)
		} else if ga, ok := f.(*http2.GoAwayFrame); !ok || ga.LastStreamID != 1<<31-1 || time.Since(idleFrom) != idle {
			t.Errorf("%s %v after the connection went idle, want GOAWAY(2147483647) after %v", h2test.Summarize(f), time.Since(idleFrom), idle)
		}
		b.stop()
	})
}

// TestIdleDrainWaitsForClientPreface (hazard 4, found with Chromium in
// bench/interop/browser.sh): a browser opened a new TLS connection for a
// fetch, then sat frozen (this machine's CPU quota) for 341ms between its
// TLS Finished and its HTTP/2 preface. The idle timeout (300ms) counted
// from the server's side of the handshake, so the server drained the
// connection before the client had said a word: Chromium read the server's
// SETTINGS and GOAWAY(2^31-1) in one read, abandoned the request it had
// opened the connection for (ERR_CONNECTION_CLOSED) and, since the
// connection was new, did not retry it: the page's fetch failed. A
// connection whose client has not yet sent its preface is not idle but
// new: the idle drain must wait for the preface (x/net's preface timeout,
// and HeaderTimeout when set, bound a peer that never sends it). The stock
// server does wait: x/net arms its idle timer only once it has read the
// client preface (serverConn.serve), so this is h2lifecycle's own.
func TestIdleDrainWaitsForClientPreface(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const idle = 300 * time.Millisecond
		var p http.Protocols
		p.SetHTTP2(true)
		hs := &http.Server{Handler: http.HandlerFunc(okHandler), IdleTimeout: idle, Protocols: &p}
		b := startSubject(t, hs, setup{tls: true, bubble: true})
		c := b.client()                            // TLS handshake done, no HTTP/2 byte written
		h2test.Advance(idle + 50*time.Millisecond) // the client is frozen
		synctest.Wait()
		c.WritePreface()
		c.WriteSettings()
		c.WriteHeaders(1, true)
		var before []string
		c.ReadUntil(func(f http2.Frame) bool {
			if ga, ok := f.(*http2.GoAwayFrame); ok {
				before = append(before, fmt.Sprintf("GOAWAY(%d)", ga.LastStreamID))
			}
			return f.Header().StreamID == 1 && f.Header().Flags.Has(http2.FlagDataEndStream)
		})
		if len(before) > 0 {
			t.Errorf("the server sent %v before the client's first request, on a connection whose client had not yet sent its preface; Chromium abandons that request", before)
		}
		b.stop()
	})
}

// ----------------------------------------------------------------------------
// Hazard 4 with curl: reuse of a connection racing its idle close.

// TestCurlReuseAcrossIdleClose (hazard 4): curl (libcurl with nghttp2)
// fetches URLs one after another on one HTTP/2 connection over TLS, the
// requests' starts spaced about the server's idle timeout apart (curl's
// --rate, a few spacings just around it), so that some requests leave just
// as the idle close does. Half are POSTs with a body. The stock server's
// single-GOAWAY idle close makes curl fail some of them with "Error in the
// HTTP2 framing layer" (its count is logged for bench/RESULTS-interop.md,
// not asserted: it is a race); the two-phase close must make curl fail none,
// and the idle close must have happened (curl reconnected). Skipped when
// curl is not installed (CI: apt-get install curl).
func TestCurlReuseAcrossIdleClose(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl not installed (Debian: apt-get install curl)")
	}
	if out, err := exec.Command(curl, "--version").Output(); err != nil || !bytes.Contains(out, []byte("HTTP2")) {
		t.Skipf("curl without HTTP/2: %v %s", err, out)
	}
	const (
		idleTimeout = 100 * time.Millisecond
		requests    = 24 // per spacing
	)
	// curl --rate N/m starts a transfer every 60s/N: 100 ms for 600/m, the
	// idle timeout, then a little more. A request itself takes well under a
	// millisecond, so the connection has been idle just under or just over
	// the timeout when the next one leaves.
	rates := []int{600, 599, 597, 594}
	eachSubject(t, bothServers, tlsOnly, func(t *testing.T, stock, _ bool) {
		hs := &http.Server{IdleTimeout: idleTimeout, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			io.WriteString(w, "ok\n")
		})}
		s := startSubject(t, hs, setup{stock: stock, tls: true})
		var total, ok, framing, connects int
		for _, rate := range rates {
			r := runCurlSequence(t, curl, s.url()+"/", fmt.Sprintf("%d/m", rate), requests)
			t.Logf("%s: --rate %d/m: %d requests, %d ok, %d \"Error in the HTTP2 framing layer\", %d connections; curl exit %v; stderr: %s",
				s.name, rate, requests, r.ok, r.framing, r.connects, r.err, firstLines(r.stderr, 3))
			total += requests
			ok += r.ok
			framing += r.framing
			connects += r.connects
		}
		t.Logf("%s: curl %s, idle timeout %v: %d requests, %d ok, %d framing-layer errors, %d connections",
			s.name, curlVersion(curl), idleTimeout, total, ok, framing, connects)
		if stock {
			return
		}
		if framing != 0 || ok != total {
			t.Errorf("%s: %d of %d requests ok, %d framing-layer errors; want every request ok", s.name, ok, total, framing)
		}
		if connects <= len(rates) {
			t.Errorf("%s: curl made %d connections for %d sequences: no idle close raced a request; the test proved nothing", s.name, connects, len(rates))
		}
	})
}

type curlResult struct {
	ok, framing, connects int
	stderr                string
	err                   error
}

// runCurlSequence runs one curl that fetches url n times in sequence, on one
// connection as long as the server keeps it, rate-limited; odd requests are
// POSTs with a small body.
func runCurlSequence(t *testing.T, curl, url, rate string, n int) curlResult {
	t.Helper()
	const out = "%{http_code} %{num_connects}\\n"
	args := []string{"--rate", rate, "--max-time", "30"}
	for i := range n {
		if i > 0 {
			args = append(args, "--next")
		}
		args = append(args, "--http2", "--insecure", "--silent", "--show-error", "--write-out", out, "--output", "/dev/null")
		if i%2 == 1 {
			args = append(args, "--data-binary", fmt.Sprintf("payload-%d", i))
		}
		args = append(args, url)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, curl, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	r := curlResult{err: cmd.Run(), stderr: stderr.String()}
	r.framing = strings.Count(r.stderr, "Error in the HTTP2 framing layer")
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		code, connects, _ := strings.Cut(line, " ")
		if code == "200" {
			r.ok++
		}
		if connects == "1" {
			r.connects++
		}
	}
	return r
}

func curlVersion(curl string) string {
	out, _ := exec.Command(curl, "--version").Output()
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.Join(strings.Fields(line)[:2], " ")
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(strings.TrimSpace(s), "\n", n+1)
	if len(lines) > n {
		lines = append(lines[:n], "…")
	}
	return strings.Join(lines, " | ")
}
