package lifecycle

import (
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/h2lifecycle/h2lifecycle/idle"
	"github.com/h2lifecycle/h2lifecycle/internal/frame"
)

// TestStreamIDOf: the id read from the HTTP/2 server's ResponseWriter is the
// stream's, for several streams on one connection; other ResponseWriters
// have none.
func TestStreamIDOf(t *testing.T) {
	srv, cli := net.Pipe()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := streamIDOf(w)
		if !ok {
			http.Error(w, "no stream id", 500)
			return
		}
		io.WriteString(w, strconv.Itoa(int(id)))
	})
	h2 := newH2Server(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		h2.ServeConn(srv, &http2.ServeConnOpts{Handler: h})
	}()
	tr := &http2.Transport{AllowHTTP: true}
	cc, err := tr.NewClientConn(cli)
	if err != nil {
		t.Fatal(err)
	}
	for want := 1; want <= 7; want += 2 { // the Go client numbers streams 1, 3, 5, …
		req, _ := http.NewRequest("GET", "http://pipe/", nil)
		res, err := cc.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if string(b) != strconv.Itoa(want) {
			t.Errorf("stream %d: handler read id %q", want, b)
		}
	}
	cc.Close()
	cli.Close()
	<-done

	for _, w := range []http.ResponseWriter{httptest.NewRecorder(), struct{ http.ResponseWriter }{}, nil} {
		if id, ok := streamIDOf(w); ok {
			t.Errorf("%T: id %d, want none", w, id)
		}
	}
}

// TestHandlerCost: Supervisor.Handler adds no allocation per request, and
// returns the handler itself when the policy has no per-stream limit.
func TestHandlerCost(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	none, err := New(a, Config{GoAway: func() {}})
	if err != nil {
		t.Fatal(err)
	}
	defer none.Close()
	if got := none.Handler(h); got == nil || !sameFunc(got, h) {
		t.Errorf("no per-stream limits: Handler wrapped the handler")
	}
	sup, err := New(a, Config{GoAway: func() {}, Policy: idle.Policy{MaxStreamDuration: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	defer sup.Close()
	wrapped := sup.Handler(h)
	w, r := httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil)
	if n := testing.AllocsPerRun(100, func() { wrapped.ServeHTTP(w, r) }); n != 0 {
		t.Errorf("%v allocations per request, want 0", n)
	}
}

func sameFunc(a, b http.Handler) bool {
	fa, ok1 := a.(http.HandlerFunc)
	fb, ok2 := b.(http.HandlerFunc)
	return ok1 && ok2 && reflect.ValueOf(fa).Pointer() == reflect.ValueOf(fb).Pointer()
}

// TestResetCodeNeedsHandler: with a per-stream limit in the policy, the
// server's RST_STREAM(INTERNAL_ERROR) goes out as CANCEL only once
// Supervisor.Handler is installed; without it a panic could not be told
// from a deadline, and the code stays the server's.
func TestResetCodeNeedsHandler(t *testing.T) {
	for _, installed := range []bool{false, true} {
		rc := newRecConn(nil)
		s, err := New(rc, Config{GoAway: func() {}, SawClientPreface: true, Policy: idle.Policy{MaxStreamDuration: time.Minute}})
		if err != nil {
			t.Fatal(err)
		}
		if installed {
			s.Handler(http.NotFoundHandler())
		}
		if _, err := s.Conn().Write(frame.AppendRSTStream(nil, 1, frame.ErrCodeInternal)); err != nil {
			t.Fatal(err)
		}
		want := map[bool]frame.ErrCode{false: frame.ErrCodeInternal, true: frame.ErrCodeCancel}[installed]
		if w := rc.written(); len(w) != frame.HeaderLen+4 || frame.ErrCode(binary.BigEndian.Uint32(w[frame.HeaderLen:])) != want {
			t.Errorf("Handler installed %v: wrote %x, want RST_STREAM(%v)", installed, w, want)
		}
		s.Conn().Close()
	}
}
