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
// On SIGTERM or SIGINT it runs h2lifecycle's shutdown sequence
// (server.RunShutdown): the readiness endpoint /ready turns to 503 at once,
// the listener keeps accepting for -deregistration-delay while load balancers
// stop sending new connections, then the listener closes and every HTTP/2
// connection drains with the two-phase GOAWAY (GOAWAY(2^31-1)+PING, then
// GOAWAY(last stream) once the PING ACK is back, then the streams in flight
// finish), the drains' starts spread evenly over -spread; streams still open
// at -grace (counted from the first drain) are reset. It exits 0 once every
// connection is closed, or at -grace. A second signal closes everything at
// once and exits 1. -termination-budget is the time the platform allows
// between SIGTERM and SIGKILL (Kubernetes' terminationGracePeriodSeconds): a
// plan whose -deregistration-delay plus -grace exceeds it is logged as a
// warning at start.
//
// /ready (server.ReadinessHandler) and /debug/h2 (server.DebugHandler: every
// live connection as JSON) are served on -addr, or on -admin-addr (plain
// HTTP/1.1) when it is given, printed on stdout as "admin listening on
// HOST:PORT" right after the first line; the admin listener stays open until
// the shutdown is over, so a probe sees the 503 the whole time. -timeline
// FILE writes, once the shutdown is over, an SVG picture of every connection
// drained during it (package lifecycle/timeline).
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
	"bytes"
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
	"runtime/pprof"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/h2lifecycle/h2lifecycle/drain"
	"github.com/h2lifecycle/h2lifecycle/idle"
	"github.com/h2lifecycle/h2lifecycle/lifecycle/timeline"
	"github.com/h2lifecycle/h2lifecycle/server"
)

func main() {
	// Registered before anything else: from here on SIGTERM starts the
	// shutdown instead of killing the process, even if it arrives the
	// instant the address is announced.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, os.Interrupt)
	if err := run(sigs, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "server:", err)
		if errors.Is(err, server.ErrForced) {
			os.Exit(1)
		}
		os.Exit(2)
	}
}

type config struct {
	addr         string
	adminAddr    string
	certFile     string
	keyFile      string
	policyFile   string
	policy       idle.Policy
	plan         server.ShutdownPlan
	handlerDelay time.Duration
	respBytes    int
	cpuProfile   string
	timeline     string
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
	fs.StringVar(&c.adminAddr, "admin-addr", "", "address of /ready and /debug/h2 (plain HTTP/1.1); empty serves them on -addr")
	fs.StringVar(&c.certFile, "tls-cert", "", "TLS certificate file (PEM); with -tls-key, serve h2 and HTTP/1.1 over TLS")
	fs.StringVar(&c.keyFile, "tls-key", "", "TLS private key file (PEM)")
	fs.StringVar(&c.policyFile, "policy", "", "connection policy file, JSON or YAML (keys: idle_timeout, max_connection_age, ...); flags win over it")
	fs.DurationVar(&c.plan.Grace, "grace", 30*time.Second, "how long the drains may take, from the first, before the streams still open are reset")
	fs.DurationVar(&c.plan.DeregistrationDelay, "deregistration-delay", 0, "on SIGTERM, how long /ready answers 503 while the listener still accepts, before the drains begin")
	fs.DurationVar(&c.plan.Spread, "spread", 0, "start the HTTP/2 connections' drains evenly over this window (below -grace)")
	fs.DurationVar(&c.plan.TerminationBudget, "termination-budget", 0, "time the platform allows from SIGTERM to SIGKILL (Kubernetes terminationGracePeriodSeconds); warn if -deregistration-delay + -grace exceeds it; 0: unchecked")
	fs.DurationVar(&c.handlerDelay, "handler-delay", 0, "how long the handler waits before answering")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file (a benchmark knob)")
	fs.IntVar(&c.respBytes, "response-bytes", 0, "answer this many bytes instead of \"ok\" (a benchmark knob); 0: \"ok\"")
	fs.StringVar(&c.timeline, "timeline", "", "after the shutdown, write an SVG picture of the connections it drained to this file")
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
	case c.plan.Grace <= 0:
		return c, fmt.Errorf("-grace must be > 0, got %v", c.plan.Grace)
	case c.handlerDelay < 0:
		return c, fmt.Errorf("-handler-delay must be >= 0, got %v", c.handlerDelay)
	case c.respBytes < 0 || c.respBytes > maxResponseBytes:
		return c, fmt.Errorf("-response-bytes must be between 0 and %d, got %d", maxResponseBytes, c.respBytes)
	}
	if err := c.plan.Validate(); err != nil {
		return c, err
	}
	return c, c.policy.Validate()
}

// run serves until the first signal on sigs, then runs the shutdown
// sequence and returns nil: a drain cut short by the grace deadline is a
// normal end too. A second signal forces the close; run then returns an
// error wrapping server.ErrForced.
func run(sigs <-chan os.Signal, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if cfg.cpuProfile != "" {
		f, err := os.Create(cfg.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
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
	mux := http.NewServeMux()
	mux.Handle("/", handler(cfg.handlerDelay, cfg.respBytes))
	srv := &http.Server{
		TLSConfig:         tlsConfig, // Wrap adds "h2" and "http/1.1" to its NextProtos
		Handler:           mux,
		Protocols:         &protocols,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          zap.NewStdLog(log.Named("net/http")),
	}
	h2, err := server.Wrap(srv, server.Config{
		Policy: cfg.policy,
		Drain:  drain.Config{Grace: cfg.plan.Grace},
	}, server.WithLogger(log))
	if err != nil {
		return err
	}
	ops := mux // where /ready and /debug/h2 live
	var admin *http.Server
	if cfg.adminAddr != "" {
		ops = http.NewServeMux()
		admin = &http.Server{Handler: ops, ReadHeaderTimeout: 10 * time.Second,
			ErrorLog: zap.NewStdLog(log.Named("admin"))}
	}
	ops.Handle("/ready", h2.ReadinessHandler())
	ops.Handle("/debug/h2", h2.DebugHandler())

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	var adminLn net.Listener
	if admin != nil {
		if adminLn, err = net.Listen("tcp", cfg.adminAddr); err != nil {
			ln.Close()
			return err
		}
	}
	// Tooling reads these lines to learn the ports.
	fmt.Fprintf(stdout, "listening on %s\n", ln.Addr())
	if adminLn != nil {
		fmt.Fprintf(stdout, "admin listening on %s\n", adminLn.Addr())
	}
	plan := cfg.plan
	log.Info("listening", zap.Stringer("addr", ln.Addr()), zap.Bool("tls", useTLS),
		zap.Any("policy", cfg.policy), zap.Duration("grace", plan.Grace),
		zap.Duration("deregistration_delay", plan.DeregistrationDelay), zap.Duration("spread", plan.Spread),
		zap.Duration("termination_budget", plan.TerminationBudget))
	// A plan over its termination budget is said now, when it can still be
	// fixed, and only now: RunShutdown does not repeat it at SIGTERM.
	if err := h2.CheckShutdownPlan(plan); err != nil {
		ln.Close()
		if adminLn != nil {
			adminLn.Close()
		}
		return err
	}

	serveErr := make(chan error, 1)
	go func() {
		if useTLS {
			serveErr <- srv.ServeTLS(ln, "", "")
		} else {
			serveErr <- srv.Serve(ln)
		}
	}()
	adminErr := make(chan error, 1)
	if admin != nil {
		go func() { adminErr <- admin.Serve(adminLn) }()
	}
	defer func() {
		if admin != nil {
			// Closed only now: the readiness probe must see 503, not a
			// refused connection, for the whole shutdown.
			admin.Close()
			<-adminErr
		}
	}()

	select {
	case err := <-serveErr:
		return err // never http.ErrServerClosed: nothing else shuts it down
	case err := <-adminErr:
		srv.Close()
		<-serveErr
		return fmt.Errorf("admin server: %w", err)
	case sig := <-sigs:
		log.Info("signal received", zap.Stringer("signal", sig))
	}
	force, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	go func() {
		select {
		case sig := <-sigs:
			log.Warn("second signal: closing everything", zap.Stringer("signal", sig))
			cancel(server.ErrForced)
		case <-force.Done():
		}
	}()

	// Readiness off, the deregistration delay, then the listener closed and
	// every connection drained two-phase, spread, within the grace; the
	// second signal ends force, which closes everything at once.
	rep, err := h2.RunShutdown(force, plan)
	if cfg.timeline != "" {
		if terr := writeTimeline(cfg.timeline, rep); terr != nil {
			log.Error("writing the timeline", zap.String("file", cfg.timeline), zap.Error(terr))
		} else {
			log.Info("timeline written", zap.String("file", cfg.timeline), zap.Int("connections", len(rep.Reports)))
		}
	}
	if err != nil {
		return err
	}
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// writeTimeline draws the shutdown's connections to file.
func writeTimeline(file string, rep server.ShutdownReport) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	title := fmt.Sprintf("examples/server shutdown: %d HTTP/2 connections, %d drained, %d streams cut",
		rep.Connections, rep.Drained, rep.StreamsCut)
	if err := timeline.SVG(f, rep.Reports, timeline.WithTitle(title)); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// handler answers GET and POST on "/" with 200 and "ok" (or size bytes:
// responseBody) after delay.
func handler(delay time.Duration, size int) http.Handler {
	body := responseBody(size)
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
		w.Write(body)
	})
}

// maxResponseBytes bounds -response-bytes: the body is made once, in memory.
const maxResponseBytes = 64 << 20

// responseBody is what the handler answers: "ok", or size bytes.
func responseBody(size int) []byte {
	if size == 0 {
		return []byte("ok")
	}
	return bytes.Repeat([]byte{'x'}, size)
}
