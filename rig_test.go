package h2lifecycle_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/h2lifecycle/h2lifecycle/internal/h2test"
	"github.com/h2lifecycle/h2lifecycle/server"
)

// rig is a wrapped http.Server on a real 127.0.0.1 listener.
type rig struct {
	t    testing.TB
	hs   *http.Server
	srv  *server.Server
	addr string
	tls  bool
}

// startRig serves h wrapped by h2lifecycle on 127.0.0.1, h2c (and HTTP/1.1)
// or TLS. The server is closed when the test ends.
func startRig(t testing.TB, tlsOn bool, cfg server.Config, h http.Handler, opts ...server.Option) *rig {
	return startRigServer(t, tlsOn, cfg, &http.Server{Handler: h}, opts...)
}

func startRigServer(t testing.TB, tlsOn bool, cfg server.Config, hs *http.Server, opts ...server.Option) *rig {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if tlsOn {
		if hs.TLSConfig == nil {
			hs.TLSConfig = h2test.ServerTLSConfig()
		}
		ln = tls.NewListener(ln, hs.TLSConfig)
	} else if hs.Protocols == nil {
		var p http.Protocols
		p.SetHTTP1(true)
		p.SetUnencryptedHTTP2(true)
		hs.Protocols = &p
	}
	srv, err := server.Wrap(hs, cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return &rig{t: t, hs: hs, srv: srv, addr: ln.Addr().String(), tls: tlsOn}
}

// dial opens a raw-frame client connection.
func (r *rig) dial() *h2test.Client {
	r.t.Helper()
	if r.tls {
		return h2test.DialTLS(r.t, r.addr)
	}
	return h2test.Dial(r.t, r.addr)
}

// transport returns an x/net HTTP/2 client transport for the rig; each
// transport has its own connections.
func (r *rig) transport() *http2.Transport {
	tr := &http2.Transport{}
	if r.tls {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	} else {
		tr.AllowHTTP = true
		tr.DialTLSContext = func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}
	}
	r.t.Cleanup(tr.CloseIdleConnections)
	return tr
}

func (r *rig) url() string {
	if r.tls {
		return "https://" + r.addr + "/"
	}
	return "http://" + r.addr + "/"
}

// drain drains every connection and fails the test if that takes more than
// a bounded time.
func (r *rig) drain() {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.srv.Drain(ctx); err != nil {
		r.t.Fatalf("Drain: %v", err)
	}
}

// eachTransport runs f as subtests over h2c and TLS.
func eachTransport(t *testing.T, f func(t *testing.T, tlsOn bool)) {
	t.Run("h2c", func(t *testing.T) { f(t, false) })
	t.Run("tls", func(t *testing.T) { f(t, true) })
}
