// Command stock is the reference server of the h2spec comparison: the same
// handler and flags as examples/server, served by the stock HTTP/2 server
// (net/http + http2.ConfigureServer) instead of h2lifecycle.
//
//	stock -addr 127.0.0.1:0 [-tls-cert F -tls-key F] [-mode stock|serveconn]
//
// It prints "listening on HOST:PORT" once it listens, and exits on SIGTERM or
// SIGINT.
//
// -mode serveconn is the experiment of rule 11 (DESIGN.md): a bare accept
// loop that hands every connection to http2.Server.ServeConn itself (TLS
// handshake and ALPN done by hand, h2c read as prior knowledge), with no
// net/http http.Server serving the connection.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"golang.org/x/net/http2"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on (port 0 picks a free port)")
	certFile := flag.String("tls-cert", "", "TLS certificate file (PEM)")
	keyFile := flag.String("tls-key", "", "TLS private key file (PEM)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file (as examples/server)")
	respBytes := flag.Int("response-bytes", 0, "answer this many bytes instead of \"ok\" (as examples/server); 0: \"ok\"")
	mode := flag.String("mode", "stock", "stock: net/http + http2.ConfigureServer; serveconn: a bare http2.Server.ServeConn accept loop")
	flag.Parse()
	if (*certFile == "") != (*keyFile == "") {
		log.Fatal("-tls-cert and -tls-key go together")
	}
	var err error
	if body, err = responseBody(*respBytes); err != nil {
		log.Fatal(err)
	}
	var tlsConfig *tls.Config
	if *certFile != "" {
		cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			log.Fatal(err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			log.Fatal(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening on %s\n", ln.Addr())

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	switch *mode {
	case "stock":
		err = serveStock(ctx, ln, tlsConfig)
	case "serveconn":
		err = serveConnLoop(ctx, ln, tlsConfig)
	default:
		err = fmt.Errorf("unknown -mode %q", *mode)
	}
	if err != nil {
		log.Fatal(err)
	}
}

// serveStock is examples/server without h2lifecycle: the same Protocols,
// ReadHeaderTimeout and handler, with x/net's HTTP/2 server installed by
// http2.ConfigureServer (net/http's own on Go 1.27).
func serveStock(ctx context.Context, ln net.Listener, tlsConfig *tls.Config) error {
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	if tlsConfig != nil {
		protocols.SetHTTP2(true)
	} else {
		protocols.SetUnencryptedHTTP2(true)
	}
	// examples/server serves its handler through a ServeMux (with /ready
	// and /debug/h2 beside it); so does the reference.
	mux := http.NewServeMux()
	mux.Handle("/", handler())
	srv := &http.Server{
		TLSConfig:         tlsConfig,
		Handler:           mux,
		Protocols:         &protocols,
		ReadHeaderTimeout: 10 * time.Second,
	}
	if err := http2.ConfigureServer(srv, &http2.Server{}); err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() {
		if tlsConfig != nil {
			served <- srv.ServeTLS(ln, "", "")
		} else {
			served <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	srv.Close()
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// serveConnLoop accepts connections itself and gives each to ServeConn: no
// http.Server serves them.
func serveConnLoop(ctx context.Context, ln net.Listener, tlsConfig *tls.Config) error {
	h2 := &http2.Server{}
	mux := http.NewServeMux()
	mux.Handle("/", handler())
	var h http.Handler = mux
	if tlsConfig != nil {
		tlsConfig = tlsConfig.Clone()
		tlsConfig.NextProtos = []string{http2.NextProtoTLS}
	}
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		go func() {
			defer c.Close()
			if tlsConfig != nil {
				tc := tls.Server(c, tlsConfig)
				hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				err := tc.HandshakeContext(hctx)
				cancel()
				if err != nil || tc.ConnectionState().NegotiatedProtocol != http2.NextProtoTLS {
					return
				}
				c = tc
			}
			h2.ServeConn(c, &http2.ServeConnOpts{Context: ctx, Handler: h})
		}()
	}
}

// handler is examples/server's: GET and POST on "/" answer 200 "ok".
// body is what handler answers (-response-bytes).
var body []byte

// maxResponseBytes bounds -response-bytes, as in examples/server.
const maxResponseBytes = 64 << 20

// responseBody is examples/server's answer for -response-bytes n: "ok" for
// 0, else n bytes.
func responseBody(n int) ([]byte, error) {
	if n < 0 || n > maxResponseBytes {
		return nil, fmt.Errorf("-response-bytes must be between 0 and %d, got %d", maxResponseBytes, n)
	}
	if n == 0 {
		return []byte("ok"), nil
	}
	return bytes.Repeat([]byte{'x'}, n), nil
}

func handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead:
		case http.MethodPost:
			if _, err := io.Copy(io.Discard, r.Body); err != nil {
				return
			}
		default:
			w.Header().Set("Allow", "GET, HEAD, POST")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write(body)
	})
}
