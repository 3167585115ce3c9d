package experiment

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/net/http2"

	"github.com/h2lifecycle/h2lifecycle/drain"
	"github.com/h2lifecycle/h2lifecycle/idle"
	"github.com/h2lifecycle/h2lifecycle/internal/h2test"
	"github.com/h2lifecycle/h2lifecycle/server"
)

// Kind is the kind of HTTP/2 server under test.
type Kind uint8

const (
	// KindStock is net/http with http2.ConfigureServer: the x/net server as
	// every Go program gets it, with its single-GOAWAY shutdown and idle close.
	KindStock Kind = iota
	// KindSupervised is the same http.Server wrapped by server.Wrap.
	KindSupervised
)

func (k Kind) String() string {
	switch k {
	case KindStock:
		return "stock"
	case KindSupervised:
		return "supervised"
	}
	return "invalid"
}

// ParseKind parses "stock" or "supervised".
func ParseKind(s string) (Kind, error) {
	switch s {
	case "stock":
		return KindStock, nil
	case "supervised", "h2lifecycle":
		return KindSupervised, nil
	}
	return 0, fmt.Errorf("experiment: unknown server kind %q (want stock or supervised)", s)
}

// ServerConfig describes a server to start. The zero value is a stock h2c
// server with no idle timeout and an immediate handler.
type ServerConfig struct {
	Kind Kind
	TLS  bool // h2 over TLS (ALPN h2, http/1.1); otherwise h2c prior knowledge

	// IdleTimeout closes connections idle this long: http.Server.IdleTimeout
	// for the stock server, idle.Policy.IdleTimeout for the supervised one.
	// Zero means none.
	IdleTimeout time.Duration

	// Grace bounds a supervised drain (drain.Config.Grace). Zero means the
	// drain package's default. The stock server has no such setting: its
	// shutdown waits as long as the Shutdown context allows.
	Grace time.Duration

	// HandlerDelay is how long the handler waits before answering.
	HandlerDelay time.Duration

	// Recorder, when set, records the frames of every h2c connection on the
	// server side (TLS connections are encrypted below net/http, so they
	// are not recorded).
	Recorder *Recorder

	// Logger receives the supervised server's logs. Nil logs nothing.
	Logger *zap.Logger
}

// Server is a running server on 127.0.0.1.
type Server struct {
	Kind Kind
	TLS  bool
	Addr string // host:port
	URL  string // http://addr/ or https://addr/

	HTTP       *http.Server
	Supervised *server.Server // nil for the stock server

	// ServeErr is what Serve returned, if it was not http.ErrServerClosed;
	// set once Shutdown or Close has returned.
	ServeErr error

	serveErr  chan error
	serveOnce sync.Once
}

// Handler serves GET and POST on "/" (POST reads its body to the end) with
// 200 and the body "ok" after delay; other paths are 404, other methods 405.
func Handler(delay time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead:
		case http.MethodPost:
			if _, err := io.Copy(io.Discard, r.Body); err != nil {
				// The stream was reset or the connection died: there is
				// nobody to answer.
				return
			}
		default:
			w.Header().Set("Allow", "GET, HEAD, POST")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if delay > 0 {
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Content-Length", "2")
		io.WriteString(w, "ok")
	})
}

// Protocols is what both kinds of server speak: HTTP/1.1, h2 over TLS and
// h2c with prior knowledge.
func Protocols() *http.Protocols {
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetHTTP2(true)
	p.SetUnencryptedHTTP2(true)
	return &p
}

// StartServer starts a server on 127.0.0.1:0. Stop it with Shutdown or Close.
func StartServer(cfg ServerConfig) (*Server, error) {
	hs := &http.Server{
		Handler:           Handler(cfg.HandlerDelay),
		Protocols:         Protocols(),
		ReadHeaderTimeout: 10 * time.Second,
		// net/http logs "http2: ... GOAWAY" noise through ErrorLog; the
		// experiment counts what the client sees instead.
		ErrorLog: discardLogger(),
	}
	s := &Server{Kind: cfg.Kind, TLS: cfg.TLS, HTTP: hs, serveErr: make(chan error, 1)}
	switch cfg.Kind {
	case KindStock:
		hs.IdleTimeout = cfg.IdleTimeout // ConfigureServer copies it into the HTTP/2 server
		if err := http2.ConfigureServer(hs, &http2.Server{}); err != nil {
			return nil, err
		}
	case KindSupervised:
		h2, err := server.Wrap(hs, server.Config{
			Policy: idle.Policy{IdleTimeout: cfg.IdleTimeout},
			Drain:  drain.Config{Grace: cfg.Grace},
		}, server.WithLogger(cfg.Logger))
		if err != nil {
			return nil, err
		}
		s.Supervised = h2
	default:
		return nil, fmt.Errorf("experiment: unknown server kind %d", cfg.Kind)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.Addr = ln.Addr().String()
	if cfg.Recorder != nil && !cfg.TLS {
		ln = cfg.Recorder.Listener(ln)
	}
	if cfg.TLS {
		s.URL = "https://" + s.Addr + "/"
		hs.TLSConfig = h2test.ServerTLSConfig()
		go func() { s.serveErr <- hs.ServeTLS(ln, "", "") }()
	} else {
		s.URL = "http://" + s.Addr + "/"
		go func() { s.serveErr <- hs.Serve(ln) }()
	}
	return s, nil
}

// Shutdown drains the server under way: for the stock server
// http.Server.Shutdown (one GOAWAY per connection), for the supervised one
// server.Server.Shutdown (two-phase, ctx's deadline bounding the grace).
// Both close the listener first. It returns when every connection is closed,
// or ctx.Err().
func (s *Server) Shutdown(ctx context.Context) error {
	var err error
	if s.Supervised != nil {
		err = s.Supervised.Shutdown(ctx)
	} else {
		err = s.HTTP.Shutdown(ctx)
	}
	s.waitServe()
	return err
}

// Close closes the listener and every connection at once.
func (s *Server) Close() error {
	var err error
	if s.Supervised != nil {
		err = s.Supervised.Close()
	} else {
		err = s.HTTP.Close()
	}
	s.waitServe()
	return err
}

// waitServe waits for Serve to return, once; it returns at once after
// Shutdown or Close, which close the listener first.
func (s *Server) waitServe() {
	s.serveOnce.Do(func() {
		if err := <-s.serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.ServeErr = err
		}
	})
}

func discardLogger() *log.Logger { return log.New(io.Discard, "", 0) }
