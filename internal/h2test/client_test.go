package h2test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/net/http2"
)

// serve runs a stock x/net server on the server end of a Pipe and returns a
// Client on the other end. Call it inside a synctest bubble.
func serve(t *testing.T, h http.HandlerFunc) *Client {
	t.Helper()
	cli, srv := Pipe()
	hs := &http.Server{}
	h2 := &http2.Server{}
	if err := http2.ConfigureServer(hs, h2); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		h2.ServeConn(srv, &http2.ServeConnOpts{Handler: h})
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return NewClient(t, cli)
}

func echo(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Got", r.Header.Get("X-Test"))
	w.Header().Set("X-Len", strings.Repeat("l", len(r.Header.Get("X-Big"))))
	w.Header().Set("Trailer", "X-Trailer-Echo")
	io.WriteString(w, r.Method+" "+r.URL.Path)
	io.Copy(io.Discard, r.Body)
	w.Header().Set("X-Trailer-Echo", r.Trailer.Get("X-T"))
}

func TestClientHandshakeAndRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := serve(t, echo)
		c.Handshake()
		if got := c.ServerSettings[http2.SettingMaxConcurrentStreams]; got == 0 {
			t.Errorf("ServerSettings = %v, want MAX_CONCURRENT_STREAMS", c.ServerSettings)
		}
		c.WriteHeaders(1, true, ":path", "/hello", "x-test", "yes")
		res := c.ExpectResponse(1)
		if res.Status != "200" || string(res.Body) != "GET /hello" || res.Header.Get("X-Got") != "yes" {
			t.Fatalf("response %+v, body %q", res, res.Body)
		}
		if len(res.Frames) == 0 || res.Frames[0].Type != http2.FrameHeaders {
			t.Fatalf("frames %v, want HEADERS first", res.Frames)
		}
	})
}

func TestClientContinuationAndTrailers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := serve(t, echo)
		c.Handshake()
		big := strings.Repeat("b", 3000)
		c.WriteHeadersSplit(1, false, 100, ":method", "POST", "x-big", big, "trailer", "x-t")
		c.WriteData(1, false, []byte("body"))
		c.WriteTrailers(1, "x-t", "tail")
		res := c.ExpectResponse(1)
		if got := len(res.Header.Get("X-Len")); got != len(big) {
			t.Fatalf("server saw a %d-byte x-big, want %d (split across CONTINUATION)", got, len(big))
		}
		if got := res.Trailer.Get("X-Trailer-Echo"); got != "tail" {
			t.Fatalf("server saw trailer %q, want tail; response %+v", got, res)
		}
	})
}

func TestClientEncodeHeadersSharesDynamicTable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := serve(t, echo)
		c.Handshake()
		first := c.EncodeHeaders(":method", "GET", ":scheme", "http", ":authority", "a", ":path", "/", "x-test", "indexed")
		c.WriteHeaderBlock(1, true, first, 0)
		c.ExpectResponse(1)
		// The second encoding refers to the dynamic table entries the first
		// one added; the server decodes it only if both tables agree.
		second := c.EncodeHeaders(":method", "GET", ":scheme", "http", ":authority", "a", ":path", "/", "x-test", "indexed")
		if len(second) >= len(first) {
			t.Fatalf("second block %d bytes, first %d: no dynamic table reuse", len(second), len(first))
		}
		c.WriteHeaderBlock(3, true, second, 0)
		if got := c.ExpectResponse(3).Header.Get("X-Got"); got != "indexed" {
			t.Fatalf("server decoded x-test=%q", got)
		}
	})
}

func TestClientSyncAndNoFrames(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := serve(t, echo)
		c.Handshake()
		c.Sync()
		synctest.Wait()
		c.ExpectNoFrames(time.Minute)
		// PINGs from the server are ACKed by the read helpers.
		c.AutoAck = false
		c.WritePing([8]byte{1})
		f, err := c.ReadFrame()
		if p, ok := f.(*http2.PingFrame); err != nil || !ok || !p.IsAck() || p.Data != [8]byte{1} {
			t.Fatalf("ReadFrame = %v, %v; want PING ACK", f, err)
		}
	})
}

func TestClientGoAwayAndWaitClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := serve(t, echo)
		c.Handshake()
		c.WriteHeaders(1, true)
		c.ExpectResponse(1)
		c.WriteGoAway(0, http2.ErrCodeNo, nil)
		if ga := c.ExpectGoAway(); ga.ErrCode != http2.ErrCodeNo || ga.LastStreamID != 1 {
			t.Fatalf("GOAWAY last=%d code=%v, want 1, NO_ERROR", ga.LastStreamID, ga.ErrCode)
		}
		if err := c.WaitClosed(); err != nil {
			t.Fatalf("WaitClosed: %v", err)
		}
	})
}

func TestClientFirstFrameMustBeSettings(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cli, srv := Pipe()
		defer srv.Close()
		go func() {
			fr := http2.NewFramer(srv, srv)
			fr.WritePing(false, [8]byte{})
		}()
		ftb := &fakeTB{TB: t}
		ftb.run(func() { NewClient(ftb, cli).ExpectSettings() })
		if !strings.Contains(ftb.msg, "want SETTINGS") {
			t.Fatalf("failure %q, want one about SETTINGS", ftb.msg)
		}
	})
}

// fakeTB records a Fatalf instead of failing the real test.
type fakeTB struct {
	testing.TB
	mu  sync.Mutex
	msg string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.msg = strings.TrimSpace(strings.SplitN(fmt.Sprintf(format, args...), "\n", 2)[0])
	f.mu.Unlock()
	runtime.Goexit()
}

func (f *fakeTB) run(fn func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	<-done
}

func TestDialRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{"10.0.0.1:80", "example.com:443", "192.168.1.1:443"} {
		ftb := &fakeTB{TB: t}
		ftb.run(func() { Dial(ftb, addr) })
		ftb.run(func() { DialTLS(ftb, addr) })
		if !strings.Contains(ftb.msg, "refusing") && !strings.Contains(ftb.msg, "bad address") {
			t.Errorf("Dial(%q) failure %q, want a refusal", addr, ftb.msg)
		}
	}
}

// listen serves h on a real 127.0.0.1 socket with net/http's own HTTP/2.
func listen(t *testing.T, h http.HandlerFunc, useTLS bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: h, Protocols: new(http.Protocols)}
	hs.Protocols.SetHTTP1(true)
	if useTLS {
		hs.Protocols.SetHTTP2(true)
		hs.TLSConfig = ServerTLSConfig()
	} else {
		hs.Protocols.SetUnencryptedHTTP2(true)
	}
	done := make(chan error, 1)
	go func() {
		if useTLS {
			done <- hs.ServeTLS(ln, "", "")
		} else {
			done <- hs.Serve(ln)
		}
	}()
	t.Cleanup(func() {
		hs.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

func TestDialRealSockets(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		name := map[bool]string{false: "h2c", true: "tls"}[useTLS]
		t.Run(name, func(t *testing.T) {
			addr := listen(t, func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, r.Proto+" tls="+map[bool]string{false: "no", true: "yes"}[r.TLS != nil])
			}, useTLS)
			var c *Client
			if useTLS {
				c = DialTLS(t, addr)
			} else {
				c = Dial(t, addr)
			}
			c.Handshake()
			c.WriteHeaders(1, true)
			want := "HTTP/2.0 tls=" + map[bool]string{false: "no", true: "yes"}[useTLS]
			if res := c.ExpectResponse(1); string(res.Body) != want {
				t.Fatalf("body %q, want %q", res.Body, want)
			}
		})
	}
}
