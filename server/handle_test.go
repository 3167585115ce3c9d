package server

import (
	"net/http"
	"testing"
)

// TestHandleReuse: a handle comes back for reuse only if its Shutdown never
// ran, and the GoAway of a connection it served before does nothing to the
// connection it serves now (the fact this relies on is pinned by
// internal/conformance's TestShutdownHandleReusedAfterItsConnection).
func TestHandleReuse(t *testing.T) {
	hs := &http.Server{}
	s, err := Wrap(hs, Config{})
	if err != nil {
		t.Fatal(err)
	}
	h, err := s.newHandle(hs)
	if err != nil {
		t.Fatal(err)
	}
	late := h.goAwayFunc()
	s.release(h)
	h2, _ := s.newHandle(hs)
	if h2 != h {
		t.Fatal("a handle whose connection ended without a drain was not reused")
	}
	late() // the previous connection's drain, after its close
	if h2.state.Load()&1 != 0 {
		t.Fatal("the previous connection's GoAway shut down the handle serving the next one")
	}
	h2.goAwayFunc()()
	if h2.state.Load()&1 == 0 {
		t.Fatal("GoAway did not shut the handle down")
	}
	s.release(h2)
	if h3, _ := s.newHandle(hs); h3 == h2 {
		t.Fatal("a handle whose Shutdown ran was reused")
	}
	// Another user's server never gets this one's handles.
	h4, _ := s.newHandle(hs)
	s.release(h4)
	if h5, _ := s.newHandle(&http.Server{}); h5 == h4 {
		t.Fatal("a handle was reused for another http.Server")
	}
}

// TestHandleReuseAllocs: a reused handle costs a connection one allocation,
// its GoAway func; a new one configures an HTTP/2 server.
func TestHandleReuseAllocs(t *testing.T) {
	hs := &http.Server{}
	s, err := Wrap(hs, Config{})
	if err != nil {
		t.Fatal(err)
	}
	h, _ := s.newHandle(hs)
	s.release(h)
	var sink func()
	n := testing.AllocsPerRun(100, func() {
		h, err := s.newHandle(hs)
		if err != nil {
			t.Fatal(err)
		}
		sink = h.goAwayFunc()
		s.release(h)
	})
	if n != 1 {
		t.Errorf("a reused handle allocates %v times per connection, want 1", n)
	}
	_ = sink
}
