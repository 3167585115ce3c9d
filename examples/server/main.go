// Command server is a minimal HTTP server whose HTTP/2 connections end
// cleanly: net/http's http.Server, wrapped by h2lifecycle.
//
//	go build -o server ./examples/server
//	./server -addr 127.0.0.1:8080                                   # h2c (prior knowledge) and HTTP/1.1
//	./server -addr 127.0.0.1:8443 -tls-cert c.pem -tls-key k.pem    # h2 and HTTP/1.1 over TLS
//
// It answers GET and POST on "/" with 200 and the body "ok", after
// -handler-delay (a POST's body is read to the end first). -addr may use
// port 0; the address really listened on is printed on stdout as
// "listening on HOST:PORT" before anything is served.
//
// On SIGTERM or SIGINT it stops accepting connections and drains every
// HTTP/2 connection with the two-phase GOAWAY (GOAWAY(2^31-1)+PING, then
// GOAWAY(last stream) once the PING ACK is back, then the streams in flight
// finish), and exits 0 once every connection is closed, or at -grace, when
// the streams still open are reset. A second signal kills it at once.
//
// The connection policy is all in flags (-idle-timeout, -max-connection-age,
// -max-connection-age-grace, -max-streams-per-connection, -header-timeout,
// -max-stream-duration, -stream-idle-timeout, -keepalive-interval,
// -keepalive-timeout, -ping-min-interval, -ping-permit-without-stream,
// -ping-max-strikes) and can come from a JSON or YAML file with -policy FILE
// (same names in snake_case); a flag given explicitly wins over the file.
//
// Logs are zap's production JSON on stderr, at -log-level; each drained
// connection gets one Info line ("http2 connection drained").
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
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/h2lifecycle/h2lifecycle/drain"
	"github.com/h2lifecycle/h2lifecycle/idle"
	"github.com/h2lifecycle/h2lifecycle/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	go func() {
		<-ctx.Done()
		stop() // from now on a second signal kills the process
	}()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "server:", err)
		}
		os.Exit(2)
	}
}

type config struct {
	addr         string
	certFile     string
	keyFile      string
	policyFile   string
	policy       idle.Policy
	grace        time.Duration
	handlerDelay time.Duration
	logLevel     zapcore.Level
}

// parseFlags reads the flags. The connection policy comes from -policy FILE
// (JSON or YAML) and from one flag per policy field (-idle-timeout,
// -max-connection-age, ...); a flag given explicitly wins over the file.
func parseFlags(args []string, stderr io.Writer) (config, error) {
	c := config{logLevel: zapcore.InfoLevel}
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "address to listen on (port 0 picks a free port)")
	fs.StringVar(&c.certFile, "tls-cert", "", "TLS certificate file (PEM); with -tls-key, serve h2 and HTTP/1.1 over TLS")
	fs.StringVar(&c.keyFile, "tls-key", "", "TLS private key file (PEM)")
	fs.StringVar(&c.policyFile, "policy", "", "connection policy file, JSON or YAML (keys: idle_timeout, max_connection_age, ...); flags win over it")
	fs.DurationVar(&c.grace, "grace", 30*time.Second, "how long a shutdown may take before the streams still open are reset")
	fs.DurationVar(&c.handlerDelay, "handler-delay", 0, "how long the handler waits before answering")
	fs.Var(&c.logLevel, "log-level", "log level: debug, info, warn, error")
	c.policy.RegisterFlags(fs, "")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if c.policyFile != "" {
		var p idle.Policy
		if err := p.LoadFile(c.policyFile); err != nil {
			return c, err
		}
		over := flag.NewFlagSet("policy", flag.ContinueOnError)
		p.RegisterFlags(over, "")
		var err error
		fs.Visit(func(f *flag.Flag) {
			if over.Lookup(f.Name) != nil && err == nil {
				err = over.Set(f.Name, f.Value.String())
			}
		})
		if err != nil {
			return c, err
		}
		c.policy = p
	}
	switch {
	case fs.NArg() > 0:
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	case (c.certFile == "") != (c.keyFile == ""):
		return c, errors.New("-tls-cert and -tls-key go together")
	case c.grace <= 0:
		return c, fmt.Errorf("-grace must be > 0, got %v", c.grace)
	case c.handlerDelay < 0:
		return c, fmt.Errorf("-handler-delay must be >= 0, got %v", c.handlerDelay)
	}
	return c, c.policy.Validate()
}

// run serves until ctx is done, then drains and returns nil: a drain cut
// short by the grace deadline is a normal end too.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	zc := zap.NewProductionConfig()
	zc.Level = zap.NewAtomicLevelAt(cfg.logLevel)
	zc.OutputPaths, zc.ErrorOutputPaths = []string{"stderr"}, []string{"stderr"}
	log, err := zc.Build()
	if err != nil {
		return err
	}
	defer log.Sync()

	useTLS := cfg.certFile != ""
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	if useTLS {
		protocols.SetHTTP2(true) // negotiated with ALPN "h2"
	} else {
		protocols.SetUnencryptedHTTP2(true) // h2c with prior knowledge
	}
	var tlsConfig *tls.Config
	if useTLS {
		// Load the certificate now, so that a bad one fails before the
		// address is announced.
		cert, err := tls.LoadX509KeyPair(cfg.certFile, cfg.keyFile)
		if err != nil {
			return err
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
	srv := &http.Server{
		TLSConfig:         tlsConfig, // Wrap adds "h2" and "http/1.1" to its NextProtos
		Handler:           handler(cfg.handlerDelay),
		Protocols:         &protocols,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          zap.NewStdLog(log.Named("net/http")),
	}
	h2, err := server.Wrap(srv, server.Config{
		Policy: cfg.policy,
		Drain:  drain.Config{Grace: cfg.grace},
	}, server.WithLogger(log))
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	// Tooling reads this line to learn the port.
	fmt.Fprintf(stdout, "listening on %s\n", ln.Addr())
	log.Info("listening", zap.Stringer("addr", ln.Addr()), zap.Bool("tls", useTLS),
		zap.Any("policy", cfg.policy), zap.Duration("grace", cfg.grace))

	serveErr := make(chan error, 1)
	go func() {
		if useTLS {
			serveErr <- srv.ServeTLS(ln, "", "")
		} else {
			serveErr <- srv.Serve(ln)
		}
	}()

	select {
	case err := <-serveErr:
		return err // never http.ErrServerClosed: nothing else shuts it down
	case <-ctx.Done():
	}

	log.Info("shutting down: draining every connection", zap.Duration("grace", cfg.grace))
	start := time.Now()
	sctx, cancel := context.WithTimeout(context.Background(), cfg.grace)
	defer cancel()
	// Closes the listener, drains every HTTP/2 connection two-phase, closes
	// idle HTTP/1.1 connections, and waits for all of them.
	if err := h2.Shutdown(sctx); err != nil {
		log.Warn("grace deadline reached; closing what is left", zap.Error(err))
		h2.Close()
	}
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("shut down", zap.Duration("took", time.Since(start)))
	return nil
}

// handler answers GET and POST on "/" with 200 "ok" after delay.
func handler(delay time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead:
		case http.MethodPost:
			if _, err := io.Copy(io.Discard, r.Body); err != nil {
				return // the client went away
			}
		default:
			w.Header().Set("Allow", "GET, HEAD, POST")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if delay > 0 {
			t := time.NewTimer(delay)
			defer t.Stop()
			select {
			case <-t.C:
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok")
	})
}
