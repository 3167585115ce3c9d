package h2lifecycle_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/h2lifecycle/h2lifecycle/internal/h2test"
)

// wireLog collects what a raw client read, per stream, until the end.
type wireLog struct {
	frames  []string                 // every frame, summarized, in order
	headers map[uint32][]http.Header // header sections per stream
	bodies  map[uint32]string
	ended   map[uint32]bool
}

func readAll(t *testing.T, c *h2test.Client) *wireLog {
	return readAllThen(t, c, nil)
}

// readAllThen is readAll calling then (if not nil) after recording each frame.
func readAllThen(t *testing.T, c *h2test.Client, then func(http2.Frame)) *wireLog {
	t.Helper()
	w := &wireLog{headers: map[uint32][]http.Header{}, bodies: map[uint32]string{}, ended: map[uint32]bool{}}
	err := c.ReadUntilClosed(func(f http2.Frame) {
		w.frames = append(w.frames, h2test.Summarize(f))
		if then != nil {
			defer then(f)
		}
		id := f.Header().StreamID
		switch f := f.(type) {
		case *http2.MetaHeadersFrame:
			h := http.Header{}
			for _, hf := range f.Fields {
				h.Add(hf.Name, hf.Value)
			}
			w.headers[id] = append(w.headers[id], h)
			w.ended[id] = w.ended[id] || f.StreamEnded()
		case *http2.DataFrame:
			w.bodies[id] += string(f.Data())
			w.ended[id] = w.ended[id] || f.StreamEnded()
		}
	})
	if err != nil {
		t.Fatalf("connection ended with %v, want a clean EOF; frames:\n%s", err, strings.Join(w.frames, "\n"))
	}
	c.Conn.Close() // as real clients do on EOF: the server's linger ends at once
	return w
}

// TestTwoPhaseSequence pins the drain on the wire, frame by frame:
// GOAWAY(2^31-1) → PING → the client's HEADERS crossing it, then the ACK →
// GOAWAY(last = that stream) → the stream is served → HEADERS sent after the
// final GOAWAY get no frames, while HPACK stays in sync → clean close.
func TestTwoPhaseSequence(t *testing.T) {
	eachSubject(t, supervisedOnly, bothTransports, func(t *testing.T, _, tlsOn bool) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/upload" {
				io.Copy(io.Discard, r.Body) // ends after the trailers
				w.Header().Set("trailer-seen", r.Trailer.Get("X-New"))
			}
			io.WriteString(w, "ok "+r.URL.Path)
		})
		rg := startSubject(t, &http.Server{Handler: h}, setup{tls: tlsOn})
		c := rg.client()
		c.Handshake()
		c.AutoAck = false

		// Stream 1 is in flight across the drain; its trailers come last.
		c.WriteHeaders(1, false, ":method", "POST", ":path", "/upload", "trailer", "x-new")
		c.WriteData(1, false, []byte("part one"))
		c.Sync()

		drained := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			drained <- rg.srv.Drain(ctx)
		}()

		// Phase 1: GOAWAY(2^31-1) and, right behind it, our PING.
		ga := c.ExpectGoAway()
		if ga.LastStreamID != 1<<31-1 || ga.ErrCode != http2.ErrCodeNo || string(ga.DebugData()) != "requested" {
			t.Fatalf("first GOAWAY: last=%d code=%v debug=%q, want 2147483647 NO_ERROR \"requested\" (Server.Drain)", ga.LastStreamID, ga.ErrCode, ga.DebugData())
		}
		f, err := c.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		p, ok := f.(*http2.PingFrame)
		if !ok || p.IsAck() || string(p.Data[:2]) != "h2" {
			t.Fatalf("frame after GOAWAY #1: %s, want our PING", h2test.Summarize(f))
		}

		// A request that crossed GOAWAY #1 on the wire, then the ACK.
		c.WriteHeaders(3, true, ":path", "/crossing")
		c.WritePingAck(p.Data)

		// Phase 2: the real last stream. After it, a stream the server must
		// ignore. Its header block adds "x-new: from-5" to the HPACK dynamic
		// table, and stream 1's trailer refers to that entry by index: it
		// decodes only if the server kept decoding the ignored block.
		finals := 0
		w := readAllThen(t, c, func(f http2.Frame) {
			ga, ok := f.(*http2.GoAwayFrame)
			if !ok {
				return
			}
			if finals++; ga.LastStreamID != 3 || ga.ErrCode != http2.ErrCodeNo || finals > 1 {
				t.Errorf("final GOAWAY #%d: last=%d code=%v, want one, with 3 NO_ERROR", finals, ga.LastStreamID, ga.ErrCode)
			}
			c.WriteHeaders(5, true, ":path", "/late", "x-new", "from-5")
			c.WriteTrailers(1, "x-new", "from-5")
		})
		if finals != 1 {
			t.Fatalf("saw %d final GOAWAYs; frames:\n%s", finals, strings.Join(w.frames, "\n"))
		}
		for id, want := range map[uint32]string{1: "ok /upload", 3: "ok /crossing"} {
			if !w.ended[id] || w.bodies[id] != want || len(w.headers[id]) == 0 || w.headers[id][0].Get(":status") != "200" {
				t.Errorf("stream %d: ended=%v body=%q headers=%v, want a 200 %q", id, w.ended[id], w.bodies[id], w.headers[id], want)
			}
		}
		if got := w.headers[1][0].Get("trailer-seen"); got != "from-5" {
			t.Errorf("the handler saw trailer x-new=%q, want \"from-5\" (HPACK out of sync)", got)
		}
		if _, ok := w.headers[5]; ok || w.ended[5] || w.bodies[5] != "" {
			t.Errorf("stream 5, opened after the final GOAWAY, got frames:\n%s", strings.Join(w.frames, "\n"))
		}
		if err := <-drained; err != nil {
			t.Fatalf("Drain: %v", err)
		}
	})
}

// TestNoticeAfterServerGoAwayIsNeverSent: when the server has written its own
// GOAWAY (here: the peer's GOAWAY made it shut down), a later drain must not
// send GOAWAY(2^31-1): last-stream-id may never increase (RFC 9113 §6.8).
func TestNoticeAfterServerGoAwayIsNeverSent(t *testing.T) {
	rg := startSubject(t, &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})}, setup{})
	c := rg.client()
	c.Handshake()
	c.WriteHeaders(1, true)
	c.ExpectResponse(1)
	c.WriteGoAway(0, http2.ErrCodeNo, nil)
	ga := c.ExpectGoAway()
	if ga.LastStreamID != 1 {
		t.Fatalf("server GOAWAY last=%d, want 1", ga.LastStreamID)
	}
	drained := make(chan error, 1)
	go func() { drained <- rg.srv.Drain(context.Background()) }()
	w := readAll(t, c)
	if err := <-drained; err != nil {
		t.Fatal(err)
	}
	for _, f := range w.frames {
		if strings.HasPrefix(f, "GOAWAY") {
			t.Errorf("a GOAWAY followed the server's: %s", f)
		}
	}
}

// TestBigHeadersDuringDrains: responses with 40 KB header blocks span
// HEADERS+CONTINUATION frames and several of the server's writes; drains
// that start at any moment must never put our GOAWAY+PING inside a header
// block (RFC 9113 §6.10): a client would fail the connection with
// PROTOCOL_ERROR. Every request must succeed.
func TestBigHeadersDuringDrains(t *testing.T) {
	eachSubject(t, supervisedOnly, bothTransports, func(t *testing.T, _, tlsOn bool) {
		big := strings.Repeat("v", 1000)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for i := range 40 {
				w.Header().Set(fmt.Sprintf("x-big-%02d", i), big)
			}
			io.WriteString(w, "ok")
		})
		rg := startSubject(t, &http.Server{Handler: h}, setup{tls: tlsOn})
		const workers, perWorker = 8, 150
		n := perWorker
		if testing.Short() {
			n = 40
		}
		trs := []*http2.Transport{rg.transport(), rg.transport()}
		stop := make(chan struct{})
		drains := make(chan int, 1)
		go func() { // drain every connection, again and again, under load
			k := 0
			defer func() { drains <- k }()
			for {
				select {
				case <-stop:
					return
				case <-time.After(3 * time.Millisecond):
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				rg.srv.Drain(ctx)
				cancel()
				k++
			}
		}()
		errs := make(chan error, workers*n)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cl := &http.Client{Transport: trs[w%len(trs)], Timeout: 10 * time.Second}
				for range n {
					resp, err := cl.Get(rg.url() + "/")
					if err == nil {
						var body []byte
						body, err = io.ReadAll(resp.Body)
						resp.Body.Close()
						if err == nil && (resp.StatusCode != 200 || string(body) != "ok" || len(resp.Header) < 40) {
							err = fmt.Errorf("status %d body %q headers %d", resp.StatusCode, body, len(resp.Header))
						}
					}
					if err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(stop)
		k := <-drains
		close(errs)
		failed := 0
		for err := range errs {
			if failed++; failed <= 5 {
				t.Errorf("request failed: %v", err)
			}
		}
		t.Logf("%d requests with 40 KB response headers across %d drains of every connection: %d failed", workers*n, k, failed)
		if k < 10 {
			t.Errorf("only %d drains ran: the test did not exercise drains under load", k)
		}
	})
}

// TestDrainAtBirthServesFirstRequest: a connection drained the moment the
// server has read its preface — before the client's first HEADERS — still
// serves that first request. Go's client fails, without retrying, a request
// whose brand-new connection closes before the request was sent
// ("http2: client conn could not be established").
func TestDrainAtBirthServesFirstRequest(t *testing.T) {
	eachSubject(t, supervisedOnly, bothTransports, func(t *testing.T, _, tlsOn bool) {
		var rg *subject
		drains := make(chan error, 1000)
		hs := &http.Server{Handler: http.HandlerFunc(okHandler)}
		hs.ConnState = func(c net.Conn, st http.ConnState) {
			if st == http.StateIdle { // the HTTP/2 server has read the preface
				go func() { drains <- rg.srv.Drain(context.Background()) }()
			}
		}
		rg = startSubject(t, hs, setup{tls: tlsOn})
		runs := 200
		if testing.Short() {
			runs = 30
		}
		for i := range runs {
			tr := rg.transport()
			req, _ := http.NewRequest("POST", rg.url()+"/", strings.NewReader("body"))
			req.GetBody = nil // not replayable: the first attempt must succeed
			resp, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatalf("run %d: %v", i, err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			tr.CloseIdleConnections()
		}
		for range runs {
			if err := <-drains; err != nil {
				t.Fatal(err)
			}
		}
	})
}
