package interop_test

// The few helpers the gRPC tests need, written against the exported API
// only: this module cannot reach the core's unexported test rigs.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/net/http2"

	"github.com/h2lifecycle/h2lifecycle/server"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var quietInteropLog = log.New(io.Discard, "", 0)

// interopServer is a stock or supervised server on 127.0.0.1.
type interopServer struct {
	name  string
	stock bool
	tls   bool
	addr  string
	hs    *http.Server
	srv   *server.Server // nil for the stock server
	conns *openConns
}

func (s *interopServer) url() string {
	if s.tls {
		return "https://" + s.addr
	}
	return "http://" + s.addr
}

// openConns follows net/http's view of the connections, so that a test
// waits at its end until every one is gone (goleak runs after the tests).
type openConns struct {
	mu      sync.Mutex
	open    map[net.Conn]bool
	changed chan struct{}
}

func (c *openConns) hook(nc net.Conn, st http.ConnState) {
	c.mu.Lock()
	switch st {
	case http.StateNew:
		c.open[nc] = true
	case http.StateClosed, http.StateHijacked:
		delete(c.open, nc)
	}
	c.mu.Unlock()
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

func (c *openConns) wait(t testing.TB, d time.Duration) {
	t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		n := len(c.open)
		c.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-c.changed:
		case <-deadline.C:
			t.Errorf("%d connections still open %v after the server closed", n, d)
			return
		}
	}
}

// startInterop serves hs on 127.0.0.1:0, over TLS (a self-signed
// certificate) or h2c with prior knowledge, by the stock x/net server or
// wrapped by h2lifecycle with cfg, until the test ends.
func startInterop(t testing.TB, stock, tlsOn bool, hs *http.Server, cfg server.Config, opts ...server.Option) *interopServer {
	t.Helper()
	s := &interopServer{name: interopName(stock, tlsOn), stock: stock, tls: tlsOn, hs: hs,
		conns: &openConns{open: map[net.Conn]bool{}, changed: make(chan struct{}, 1)}}
	user := hs.ConnState
	hs.ConnState = func(nc net.Conn, st http.ConnState) {
		s.conns.hook(nc, st)
		if user != nil {
			user(nc, st)
		}
	}
	if hs.ErrorLog == nil {
		hs.ErrorLog = quietInteropLog
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var p http.Protocols
	p.SetHTTP1(true)
	if tlsOn {
		p.SetHTTP2(true)
		if hs.TLSConfig == nil {
			hs.TLSConfig = serverTLSConfig(t)
		}
		ln = tls.NewListener(ln, hs.TLSConfig)
	} else {
		p.SetUnencryptedHTTP2(true)
	}
	hs.Protocols = &p
	if stock {
		if err := http2.ConfigureServer(hs, &http2.Server{}); err != nil {
			t.Fatal(err)
		}
	} else {
		srv, err := server.Wrap(hs, cfg, opts...)
		if err != nil {
			t.Fatal(err)
		}
		s.srv = srv
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	t.Cleanup(func() {
		if s.srv != nil {
			s.srv.Close()
		} else {
			hs.Close()
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("%s: Serve: %v", s.name, err)
		}
		s.conns.wait(t, 10*time.Second)
	})
	s.addr = ln.Addr().String()
	return s
}

func interopName(stock, tlsOn bool) string {
	name := "h2lifecycle"
	if stock {
		name = "stock"
	}
	if tlsOn {
		return name + "/tls"
	}
	return name + "/h2c"
}

// eachInterop runs f for the stock server and h2lifecycle over h2c and TLS,
// stock first.
func eachInterop(t *testing.T, f func(t *testing.T, stock, tlsOn bool)) {
	for _, tlsOn := range []bool{false, true} {
		for _, stock := range []bool{true, false} {
			t.Run(interopName(stock, tlsOn), func(t *testing.T) { f(t, stock, tlsOn) })
		}
	}
}

// eachTransport runs f over h2c and TLS.
func eachTransport(t *testing.T, f func(t *testing.T, tlsOn bool)) {
	t.Run("h2c", func(t *testing.T) { f(t, false) })
	t.Run("tls", func(t *testing.T) { f(t, true) })
}

var (
	certOnce sync.Once
	cert     tls.Certificate
	certErr  error
)

// serverTLSConfig offers h2 and http/1.1 with a self-signed certificate for
// 127.0.0.1 (clients skip verification).
func serverTLSConfig(t testing.TB) *tls.Config {
	certOnce.Do(func() { cert, certErr = selfSigned() })
	if certErr != nil {
		t.Fatalf("making a test certificate: %v", certErr)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}}
}

func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "h2lifecycle interop"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
