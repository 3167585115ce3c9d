// Command grpc serves a gRPC service through h2lifecycle: grpc-go's
// grpc.Server, hosted with its ServeHTTP method in a net/http http.Server
// wrapped by server.Wrap, so that every HTTP/2 connection ends with the
// two-phase GOAWAY and no RPC is lost to an idle close, a max-age rotation
// or a deploy.
//
//	go run ./examples/grpc -addr 127.0.0.1:50051                        # h2c (prior knowledge)
//	go run ./examples/grpc -addr 127.0.0.1:50443 -tls-cert c.pem -tls-key k.pem
//	go run ./examples/grpc -client -addr 127.0.0.1:50051 -duration 10s  # a client: RPCs, counted
//
// The service is examples/grpc/echo (written by hand, no protoc): a unary
// echo that fails at once for "fail:..." messages, a server-streaming Count
// and a bidirectional Chat; the standard health service is registered too.
//
// Why behind net/http: grpc.Server.Serve brings its own HTTP/2 server, which
// already ends connections in two phases (its keepalive.ServerParameters);
// ServeHTTP puts gRPC on the same port and server as the rest of a Go
// program's HTTP, where net/http's HTTP/2 server ends connections with a
// single GOAWAY and loses the RPCs that cross it. h2lifecycle gives back the
// two-phase close and adds the same policy (idle timeout, max connection age
// and its grace, keepalive, ping enforcement). grpc-go documents ServeHTTP as
// experimental and slower than Serve; it does not support every grpc.Server
// option (those of its own transport).
//
// The connection policy is short by default (-idle-timeout 1s,
// -max-connection-age 3s) so that connections visibly rotate under a client;
// every flag of idle.Policy is accepted (-keepalive-interval,
// -ping-min-interval, ...).
//
// With -backend ADDR it is instead a gRPC reverse proxy: an
// httputil.ReverseProxy (FlushInterval -1, as gRPC needs) to the h2c gRPC
// server at ADDR, served by h2lifecycle with server.Config.HoldHeaderFlush
// (-hold-header-flush, 5ms): without it, a backend's quick error reaches
// grpc-go clients as HEADERS and an empty DATA(END_STREAM), which they
// reject with "server closed the stream without sending trailers"
// (golang/go#56317).
//
// -addr may use port 0; the address really listened on is printed on stdout
// as "listening on HOST:PORT". On SIGTERM or SIGINT the server drains every
// connection and exits 0. The client (-client) runs unary, streaming and
// bidirectional calls from -workers goroutines for -duration, prints a
// summary line and exits 1 if any RPC failed.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	"google.golang.org/grpc/health/grpc_health_v1"

	"github.com/h2lifecycle/h2lifecycle/drain"
	"github.com/h2lifecycle/h2lifecycle/examples/grpc/echo"
	"github.com/h2lifecycle/h2lifecycle/idle"
	"github.com/h2lifecycle/h2lifecycle/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	go func() {
		<-ctx.Done()
		stop() // a second signal kills the process
	}()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "grpc:", err)
		}
		if errors.Is(err, errRPCsFailed) {
			os.Exit(1)
		}
		os.Exit(2)
	}
}

type config struct {
	addr, certFile, keyFile string
	policy                  idle.Policy
	grace                   time.Duration
	backend                 string
	holdHeaderFlush         time.Duration
	logLevel                zapcore.Level

	client   bool
	insecure bool // client: skip certificate verification
	duration time.Duration
	workers  int
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	c := config{logLevel: zapcore.InfoLevel}
	fs := flag.NewFlagSet("grpc", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.addr, "addr", "127.0.0.1:50051", "address to listen on (port 0 picks one); with -client, the server's address")
	fs.StringVar(&c.certFile, "tls-cert", "", "TLS certificate (PEM); with -tls-key, serve over TLS; with -client, connect over TLS")
	fs.StringVar(&c.keyFile, "tls-key", "", "TLS private key (PEM)")
	fs.DurationVar(&c.grace, "grace", 30*time.Second, "how long a drain may take before the streams still open are reset")
	fs.StringVar(&c.backend, "backend", "", "proxy every RPC to the h2c gRPC server at this address (httputil.ReverseProxy)")
	fs.DurationVar(&c.holdHeaderFlush, "hold-header-flush", 5*time.Millisecond, "with -backend: server.Config.HoldHeaderFlush (0 turns it off)")
	fs.Var(&c.logLevel, "log-level", "log level: debug, info, warn, error")
	fs.BoolVar(&c.client, "client", false, "run a client against -addr instead of a server")
	fs.BoolVar(&c.insecure, "insecure", false, "client over TLS: skip certificate verification")
	fs.DurationVar(&c.duration, "duration", 5*time.Second, "client: how long to call")
	fs.IntVar(&c.workers, "workers", 8, "client: concurrent callers")
	// Short defaults: connections rotate within seconds under a client.
	c.policy.IdleTimeout, c.policy.MaxConnectionAge = time.Second, 3*time.Second
	c.policy.RegisterFlags(fs, "")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	switch {
	case fs.NArg() > 0:
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	case !c.client && (c.certFile == "") != (c.keyFile == ""):
		return c, errors.New("-tls-cert and -tls-key go together")
	case c.grace <= 0:
		return c, fmt.Errorf("-grace must be > 0, got %v", c.grace)
	case c.holdHeaderFlush < 0:
		return c, fmt.Errorf("-hold-header-flush must be >= 0, got %v", c.holdHeaderFlush)
	case c.workers <= 0:
		return c, fmt.Errorf("-workers must be > 0, got %d", c.workers)
	}
	return c, c.policy.Validate()
}

// run serves (or, with -client, calls) until ctx is done.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if cfg.client {
		return runClient(ctx, cfg, stdout)
	}
	// zap's production JSON, on stderr.
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()),
		zapcore.Lock(zapcore.AddSync(stderr)), cfg.logLevel))
	defer log.Sync()

	useTLS := cfg.certFile != ""
	var protocols http.Protocols
	if useTLS {
		protocols.SetHTTP2(true) // ALPN "h2"; gRPC needs HTTP/2
	} else {
		protocols.SetUnencryptedHTTP2(true) // h2c with prior knowledge, as gRPC clients speak it
	}
	hs := &http.Server{
		Protocols:         &protocols,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          zap.NewStdLog(log.Named("net/http")),
	}
	if useTLS {
		cert, err := tls.LoadX509KeyPair(cfg.certFile, cfg.keyFile)
		if err != nil {
			return err
		}
		hs.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
	scfg := server.Config{Policy: cfg.policy, Drain: drain.Config{Grace: cfg.grace}}
	var gs *grpc.Server
	if cfg.backend != "" {
		hs.Handler = Proxy(cfg.backend)
		scfg.HoldHeaderFlush = cfg.holdHeaderFlush
	} else {
		gs = NewGRPCServer()
		defer gs.Stop()
		hs.Handler = gs // grpc.Server.ServeHTTP
	}
	h2, err := server.Wrap(hs, scfg, server.WithLogger(log))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "listening on %s\n", ln.Addr())
	log.Info("listening", zap.Stringer("addr", ln.Addr()), zap.Bool("tls", useTLS),
		zap.String("backend", cfg.backend), zap.Any("policy", cfg.policy))
	serveErr := make(chan error, 1)
	go func() {
		if useTLS {
			serveErr <- hs.ServeTLS(ln, "", "")
		} else {
			serveErr <- hs.Serve(ln)
		}
	}()
	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: draining every connection")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.grace+5*time.Second)
	defer cancel()
	err = h2.Shutdown(sctx)
	if serr := <-serveErr; !errors.Is(serr, http.ErrServerClosed) {
		return serr
	}
	return err
}

// NewGRPCServer returns the gRPC server of the example: the echo service
// and the health service.
func NewGRPCServer() *grpc.Server {
	gs := grpc.NewServer()
	echo.Register(gs, &echo.Server{Interval: time.Millisecond})
	grpc_health_v1.RegisterHealthServer(gs, health.NewServer())
	return gs
}

// Proxy returns a gRPC reverse proxy to the h2c gRPC server at backend.
// FlushInterval -1 flushes every write at once, as streaming RPCs need;
// trailers are forwarded by ReverseProxy.
func Proxy(backend string) *httputil.ReverseProxy {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	target := &url.URL{Scheme: "http", Host: backend}
	return &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = r.In.Host
		},
		Transport:     &http.Transport{Protocols: &p, ForceAttemptHTTP2: true},
		FlushInterval: -1,
		ErrorLog:      nil,
	}
}

var errRPCsFailed = errors.New("some RPCs failed")

// runClient calls the server at cfg.addr from cfg.workers goroutines until
// cfg.duration has passed or ctx is done, each looping over a unary call, a
// failing unary call (which must fail with NOT_FOUND, nothing else), a
// Count stream and a Chat stream.
func runClient(ctx context.Context, cfg config, stdout io.Writer) error {
	creds := insecure.NewCredentials()
	if cfg.certFile != "" || cfg.insecure {
		tc := &tls.Config{InsecureSkipVerify: cfg.insecure}
		if cfg.certFile != "" {
			c, err := credentials.NewClientTLSFromFile(cfg.certFile, "")
			if err != nil {
				return err
			}
			creds = c
		} else {
			creds = credentials.NewTLS(tc)
		}
	}
	cc, err := grpc.NewClient("passthrough:///"+cfg.addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		return err
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(ctx, cfg.duration)
	defer cancel()
	st := echo.CallLoop(ctx, echo.NewClient(cc), cfg.workers)
	fmt.Fprintln(stdout, st)
	if st.Failed > 0 {
		return fmt.Errorf("%w: %d of %d", errRPCsFailed, st.Failed, st.RPCs)
	}
	return nil
}
