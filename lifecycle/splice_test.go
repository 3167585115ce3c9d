package lifecycle

import (
	"errors"
	"io"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/net/http2"

	"github.com/h2lifecycle/h2lifecycle/drain"
	"github.com/h2lifecycle/h2lifecycle/internal/h2test"
)

// spliceRig is one connection served by a real HTTP/2 server under a
// supervisor without Config.GoAway (the splice), with a raw-frame client.
type spliceRig struct {
	t       *testing.T
	sup     *Supervisor
	cl      *h2test.Client
	served  chan struct{} // ServeConn returned
	release chan struct{} // closing it lets /slow return
	started chan string   // the path of every handler that starts

	mu  sync.Mutex
	ran []string
}

func newSpliceRig(t *testing.T, d drain.Config) *spliceRig {
	cli, srv := h2test.Pipe()
	sup, err := New(srv, Config{Drain: d})
	if err != nil {
		t.Fatal(err)
	}
	r := &spliceRig{t: t, sup: sup, served: make(chan struct{}), release: make(chan struct{}), started: make(chan string, 16)}
	h := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.ran = append(r.ran, req.URL.Path)
		r.mu.Unlock()
		r.started <- req.URL.Path
		if req.URL.Path == "/slow" {
			<-r.release
		}
		io.WriteString(w, "ok")
	})
	h2 := newH2Server(t)
	go func() {
		defer close(r.served)
		h2.ServeConn(sup.Conn(), &http2.ServeConnOpts{Handler: sup.Handler(h)})
	}()
	r.cl = h2test.NewClient(t, cli)
	r.cl.Handshake()
	return r
}

// handlers returns the paths of the handlers that ran.
func (r *spliceRig) handlers() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.ran...)
}

// goAways reads until the connection ends and returns the last-stream-ids
// of the GOAWAYs read, failing on any error code.
func (r *spliceRig) goAways() []uint32 {
	r.t.Helper()
	var last []uint32
	for range 1000 {
		f, err := r.cl.ReadFrame()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				r.t.Fatalf("reading to the end: %v", err)
			}
			return last
		}
		switch f := f.(type) {
		case *http2.GoAwayFrame:
			if f.ErrCode != http2.ErrCodeNo {
				r.t.Fatalf("GOAWAY with %v", f.ErrCode)
			}
			last = append(last, f.LastStreamID)
		case *http2.PingFrame:
			if !f.IsAck() && r.cl.AutoAck {
				r.cl.WritePingAck(f.Data)
			}
		}
	}
	r.t.Fatal("the connection did not end")
	return nil
}

// readNotice reads GOAWAY(2^31-1) and the PING after it, and returns the
// PING's data.
func (r *spliceRig) readNotice() [8]byte {
	r.t.Helper()
	f, err := r.cl.ReadUntil(func(f http2.Frame) bool { _, ok := f.(*http2.GoAwayFrame); return ok })
	if err != nil {
		r.t.Fatal(err)
	}
	if g := f.(*http2.GoAwayFrame); g.LastStreamID != 1<<31-1 {
		r.t.Fatalf("first GOAWAY names stream %d", g.LastStreamID)
	}
	f, err = r.cl.ReadFrame()
	if err != nil {
		r.t.Fatal(err)
	}
	p, ok := f.(*http2.PingFrame)
	if !ok || p.IsAck() {
		r.t.Fatalf("after the notice GOAWAY: %v", h2test.Summarize(f))
	}
	return p.Data
}

// drainInFlight opens /slow, drains, and ACKs the drain's PING; with
// serverDeadline the tap has first seen a read deadline of the server's,
// which turns the interrupt off.
func (r *spliceRig) drainInFlight(serverDeadline bool) {
	r.t.Helper()
	r.cl.AutoAck = false
	r.cl.WriteHeaders(1, true, ":path", "/slow")
	<-r.started
	if serverDeadline {
		r.sup.Conn().SetReadDeadline(time.Now().Add(time.Hour)) // as the server could
	}
	r.sup.Drain(ReasonShutdown, time.Minute)
	r.cl.WritePingAck(r.readNotice())
}

// expectServerGoAway reads up to the next GOAWAY and fails unless it is the
// server's own, naming stream 1, after the spliced one.
func (r *spliceRig) expectServerGoAway() {
	r.t.Helper()
	f, err := r.cl.ReadUntil(func(f http2.Frame) bool { _, ok := f.(*http2.GoAwayFrame); return ok })
	if err != nil {
		r.t.Fatal(err)
	}
	if g := f.(*http2.GoAwayFrame); g.LastStreamID != 1 || g.ErrCode != http2.ErrCodeNo {
		r.t.Fatalf("the server's GOAWAY: stream %d, %v; want 1, NO_ERROR", g.LastStreamID, g.ErrCode)
	}
	r.expectSplice(spliceIn, "given to the server")
}

// expectSplice fails unless the splice is in state want.
func (r *spliceRig) expectSplice(want uint32, what string) {
	r.t.Helper()
	if st := r.sup.conn.splice(); st != want {
		r.t.Fatalf("splice state %d, want %d (%s)", st, want, what)
	}
}

// end closes the client and waits for the server to be done.
func (r *spliceRig) end() {
	r.cl.Conn.Close()
	<-r.served
	<-r.sup.Done()
}

// TestSpliceIdle: an idle connection's drain ends with a GOAWAY of the
// supervisor's own, naming no stream, and our FIN: the client, silent
// after its ACK, gives the tap no frame boundary to splice at, and nothing
// is in flight to wait for.
func TestSpliceIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newSpliceRig(t, drain.Config{})
		r.cl.AutoAck = false
		r.sup.Drain(ReasonShutdown, time.Minute)
		data := r.readNotice()
		r.cl.WritePingAck(data)
		start := time.Now()
		if got := r.goAways(); len(got) != 1 || got[0] != 0 {
			t.Fatalf("GOAWAYs after the notice: %v; want one, of stream 0", got)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("the connection ended %v after the ACK", d) // fake time: the settle, 20 ms
		}
		r.expectSplice(spliceOwn, "ours")
		r.end()
		if rep := r.sup.Report(); !rep.Drained || rep.Aborted || rep.Reason != ReasonShutdown {
			t.Errorf("report: drained %v, aborted %v, reason %q", rep.Drained, rep.Aborted, rep.Reason)
		}
	})
}

// TestSpliceSilentInFlight: a stream in flight and a client that says
// nothing after its ACK (it may wait for the final GOAWAY before it goes on
// with an upload): the tap wakes the server's reader and gives it the
// client GOAWAY, and the server's own GOAWAY names the stream before the
// stream ends.
func TestSpliceSilentInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newSpliceRig(t, drain.Config{})
		r.drainInFlight(false)
		r.expectServerGoAway()
		close(r.release)
		if got := r.goAways(); len(got) != 0 {
			t.Fatalf("GOAWAYs after the server's: %v", got)
		}
		r.end()
	})
}

// TestSpliceServerDeadline: a server that set a read deadline of its own
// is not interrupted (the tap would have to restore a deadline it cannot
// read back): with a silent client the final GOAWAY waits for the stream
// in flight, then is ours and names it.
func TestSpliceServerDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newSpliceRig(t, drain.Config{})
		r.drainInFlight(true)
		h2test.Advance(time.Second) // fake time: well past the settle
		synctest.Wait()
		r.expectSplice(spliceWanted, "waiting, a stream in flight")
		close(r.release)
		if got := r.goAways(); len(got) != 1 || got[0] != 1 {
			t.Fatalf("GOAWAYs after the notice: %v; want one, of stream 1", got)
		}
		r.expectSplice(spliceOwn, "ours")
		r.end()
	})
}

// TestSpliceInFlight: a stream in flight, no interrupt (a server deadline
// of its own), and a client that goes on talking: the tap splices the
// client GOAWAY before the client's next frame, and the server answers
// with its own GOAWAY naming the stream; a request after that is not
// processed.
func TestSpliceInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newSpliceRig(t, drain.Config{})
		r.drainInFlight(true)
		h2test.Advance(time.Second)
		synctest.Wait()
		r.cl.WriteWindowUpdate(0, 1) // a frame to splice before
		r.expectServerGoAway()
		r.cl.WriteHeaders(3, true, ":path", "/late")
		synctest.Wait()
		close(r.release)
		if got := r.goAways(); len(got) != 0 {
			t.Fatalf("more GOAWAYs after the server's: %v", got)
		}
		r.end()
		if got := r.handlers(); len(got) != 1 || got[0] != "/slow" {
			t.Fatalf("handlers that ran: %v; want only /slow", got)
		}
	})
}

// TestSpliceHeaderBlockOpen: a client holding a header block open gives
// no frame boundary and cannot ACK. At the ping timeout, or when the
// stream in flight ends, the connection ends with our GOAWAY naming the
// last stream processed, not the block's, and the block's end, sent later,
// runs no handler (FuzzDifferential seed 1971a805fabdafb2 found the grace
// waited for instead by the splice of 2026-12-05).
func TestSpliceHeaderBlockOpen(t *testing.T) {
	for _, inFlight := range []bool{false, true} {
		t.Run(map[bool]string{false: "idle", true: "in-flight"}[inFlight], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newSpliceRig(t, drain.Config{PingTimeout: 100 * time.Millisecond})
				r.cl.AutoAck = false
				path := map[bool]string{false: "/quick", true: "/slow"}[inFlight]
				r.cl.WriteHeaders(1, true, ":path", path)
				<-r.started
				r.sup.Drain(ReasonShutdown, time.Minute)
				r.readNotice()
				block := r.cl.EncodeHeaders(":method", "GET", ":scheme", "http", ":authority", "x", ":path", "/late")
				if err := r.cl.Framer.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: block[:1], EndStream: true}); err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				if inFlight {
					h2test.Advance(time.Second) // fake time: past the ping timeout
					synctest.Wait()
					r.expectSplice(spliceWanted, "waiting, inside the block")
					close(r.release)
				}
				got := r.goAways()
				if len(got) != 1 || got[0] != 1 {
					t.Fatalf("GOAWAYs after the notice: %v; want one, of stream 1", got)
				}
				if d := time.Since(start); d > 2*time.Second {
					t.Errorf("the connection ended %v after the open block", d) // fake time
				}
				r.cl.Framer.WriteContinuation(3, true, block[1:]) // the server is given nothing more
				synctest.Wait()
				r.end()
				if got := r.handlers(); len(got) != 1 || got[0] != path {
					t.Fatalf("handlers that ran: %v; want only %s", got, path)
				}
			})
		})
	}
}

// TestSplicePeerGoAway: the client's own GOAWAY makes the server drain; the
// tap splices nothing more.
func TestSplicePeerGoAway(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newSpliceRig(t, drain.Config{})
		r.cl.AutoAck = false
		r.sup.Drain(ReasonShutdown, time.Minute)
		r.readNotice()
		r.cl.WriteGoAway(0, http2.ErrCodeNo, nil)
		r.goAways()
		r.expectSplice(splicePeer, "the peer's GOAWAY")
		r.end()
	})
}
