package server_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/net/http2"

	"github.com/h2lifecycle/h2lifecycle/idle"
	"github.com/h2lifecycle/h2lifecycle/internal/frame"
	"github.com/h2lifecycle/h2lifecycle/internal/h2test"
	"github.com/h2lifecycle/h2lifecycle/lifecycle"
	"github.com/h2lifecycle/h2lifecycle/server"
)

// noticeHandler answers with a flushed header, then waits for the drain
// notice and ends the response with "bye". It counts the handlers waiting
// and those that heard the notice.
type noticeHandler struct {
	waiting, noticed atomic.Int32
	nilNotice        atomic.Int32
}

func (h *noticeHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := lifecycle.DrainNotice(r.Context())
	if n == nil {
		h.nilNotice.Add(1)
		return
	}
	w.WriteHeader(http.StatusOK)
	w.(http.Flusher).Flush()
	h.waiting.Add(1)
	<-n // a notice that never comes leaves the bubble deadlocked: the test fails
	h.noticed.Add(1)
	io.WriteString(w, "bye")
}

// wireEvents reads frames until the connection ends, answering PINGs and
// SETTINGS, and returns what matters here, in wire order: "goaway(N)" and
// "data(stream,text,end)".
func wireEvents(c *h2test.Client) []string {
	var evs []string
	for {
		f, err := c.ReadFrame()
		if err != nil {
			c.Conn.Close()
			return evs
		}
		switch f := f.(type) {
		case *http2.PingFrame:
			if !f.IsAck() {
				c.Framer.WritePing(true, f.Data)
			}
		case *http2.SettingsFrame:
			if !f.IsAck() {
				c.Framer.WriteSettingsAck()
			}
		case *http2.GoAwayFrame:
			if f.LastStreamID == frame.MaxStreamID {
				evs = append(evs, "goaway(max)")
			} else {
				evs = append(evs, "goaway("+itoa(f.LastStreamID)+")")
			}
		case *http2.DataFrame:
			if len(f.Data()) > 0 || f.StreamEnded() {
				e := "data(" + itoa(f.StreamID) + "," + string(f.Data())
				if f.StreamEnded() {
					e += ",end"
				}
				evs = append(evs, e+")")
			}
		case *http2.RSTStreamFrame:
			evs = append(evs, "rst("+itoa(f.StreamID)+","+f.ErrCode.String()+")")
		}
	}
}

// joinEvents joins wire events, with a body and its empty END_STREAM DATA
// written as one.
func joinEvents(evs []string) string {
	return strings.ReplaceAll(strings.Join(evs, " "), "data(1,bye) data(1,,end)", "data(1,bye,end)")
}

func itoa(n uint32) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// openWaiting opens stream 1 on a new connection and reads its response's
// HEADERS: the handler is then waiting for the notice.
func openWaiting(t *testing.T, m *memServer) *h2test.Client {
	c := m.dial(t)
	c.Handshake()
	c.WriteHeaders(1, true)
	if _, err := c.ReadUntil(func(f http2.Frame) bool {
		fh := f.Header()
		return fh.Type == http2.FrameHeaders && fh.StreamID == 1
	}); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestDrainNoticeOnDrain: the notice is not given while the connection
// serves, is given when the drain begins, and the handler's response then
// ends after GOAWAY(2^31-1) on the wire, within the drain: nothing is cut.
func TestDrainNoticeOnDrain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &noticeHandler{}
		fm := &fakeMetrics{}
		m := startMem(t, server.Config{}, h, server.WithMetrics(fm))
		c := openWaiting(t, m)
		h2test.Advance(time.Hour) // fake time: a connection that keeps serving hears nothing
		synctest.Wait()
		if h.waiting.Load() != 1 || h.noticed.Load() != 0 {
			t.Fatalf("before the drain: %d waiting, %d noticed", h.waiting.Load(), h.noticed.Load())
		}
		evc := make(chan []string, 1)
		go func() { evc <- wireEvents(c) }()
		start := time.Now()
		if err := m.srv.Drain(context.Background()); err != nil {
			t.Fatal(err)
		}
		took := time.Since(start)
		evs := <-evc
		want := "goaway(max) data(1,bye,end) goaway(1)"
		if got := joinEvents(evs); got != want {
			t.Errorf("wire: %s, want %s", got, want)
		}
		if h.noticed.Load() != 1 {
			t.Errorf("%d handlers noticed, want 1", h.noticed.Load())
		}
		if took >= (server.Config{}).Drain.GraceOrDefault() {
			t.Errorf("drain took %v: the grace deadline", took)
		}
		m.srv.Close()
		<-m.served
		fm.mu.Lock()
		defer fm.mu.Unlock()
		if len(fm.reports) != 1 || len(fm.reports[0].StreamsCut) != 0 || fm.reports[0].StreamsCompleted != 1 || fm.reports[0].GraceExpired {
			t.Errorf("reports %+v", fm.reports)
		}
	})
}

// TestDrainNoticeWithoutDrain: the connection starts ending without our
// notice — the client's GOAWAY, an error GOAWAY of the server's — and the
// handler hears of it all the same.
func TestDrainNoticeWithoutDrain(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  server.Config
		end  func(c *h2test.Client)
		want string // the wire events after the handler's HEADERS
	}{
		// The client's GOAWAY starts the server's own (DESIGN.md, fact 6).
		{"client goaway", server.Config{}, func(c *h2test.Client) { c.WriteGoAway(0, http2.ErrCodeNo, nil) }, "goaway(1) data(1,bye,end)"},
		// DATA on stream 0 is a connection error (RFC 9113 §6.1): the
		// server's GOAWAY(PROTOCOL_ERROR) ends the connection.
		{"server error goaway", server.Config{}, func(c *h2test.Client) { c.WriteData(0, false, []byte("x")) }, "goaway(1)"},
		// A PING flood: our abort, GOAWAY(ENHANCE_YOUR_CALM) and the FIN.
		{"abort", server.Config{Policy: idle.Policy{PingMinInterval: time.Second}}, func(c *h2test.Client) {
			for i := range 6 {
				c.WritePing([8]byte{byte(i)})
			}
		}, "goaway(1)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := &noticeHandler{}
				m := startMem(t, tc.cfg, h)
				c := openWaiting(t, m)
				synctest.Wait()
				evc := make(chan []string, 1)
				go func() { evc <- wireEvents(c) }()
				tc.end(c)
				evs := <-evc
				if got := joinEvents(evs); !strings.HasPrefix(got, tc.want) {
					t.Errorf("wire: %s, want it to begin with %s", got, tc.want)
				}
				synctest.Wait()
				if h.noticed.Load() != 1 {
					t.Errorf("%d handlers noticed, want 1", h.noticed.Load())
				}
				m.srv.Close()
				<-m.served
			})
		})
	}
}

// TestDrainNoticeLateAsk: a handler that asks once the drain is under way
// gets a closed channel; HTTP/1.1 requests get nil.
func TestDrainNoticeLateAskAndHTTP1(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		var late, h1 atomic.Int32
		m := startMem(t, server.Config{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ProtoMajor == 1 {
				if lifecycle.DrainNotice(r.Context()) == nil {
					h1.Add(1)
				}
				return
			}
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			<-release
			select {
			case <-lifecycle.DrainNotice(r.Context()):
				late.Add(1)
			default:
			}
		}))
		// HTTP/1.1 on the same server.
		nc, err := m.ln.Dial()
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(nc, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		nc.Close()

		c := openWaiting(t, m)
		go wireEvents(c)
		drained := make(chan error, 1)
		go func() { drained <- m.srv.Drain(context.Background()) }()
		synctest.Wait()
		close(release)
		if err := <-drained; err != nil {
			t.Fatal(err)
		}
		if late.Load() != 1 || h1.Load() != 1 {
			t.Errorf("late ask closed: %d, want 1; HTTP/1.1 nil: %d, want 1", late.Load(), h1.Load())
		}
		if lifecycle.DrainNotice(context.Background()) != nil {
			t.Error("DrainNotice(context.Background()) is not nil")
		}
		m.srv.Close()
		<-m.served
	})
}
