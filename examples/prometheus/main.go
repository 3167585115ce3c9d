// Command prometheus serves HTTP with h2lifecycle supervising its HTTP/2
// connections, and exports their life as Prometheus metrics (package
// h2prom) on a separate address.
//
//	cd examples/prometheus
//	go run . -addr 127.0.0.1:8080 -metrics-addr 127.0.0.1:9090
//	curl --http2-prior-knowledge http://127.0.0.1:8080/   # ok
//	curl http://127.0.0.1:9090/metrics | grep h2lifecycle_downstream
//
// It answers GET on "/" with 200 "ok", over h2c (prior knowledge) and
// HTTP/1.1, and prints "listening on HOST:PORT" then "metrics on HOST:PORT"
// on stdout. /metrics holds the h2prom metrics and the Go runtime's and
// process's. On SIGTERM or SIGINT it runs h2lifecycle's shutdown sequence
// (readiness off, -deregistration-delay, every connection drained
// two-phase within -grace) while /metrics keeps answering, and exits 0; a
// second signal closes everything at once and exits 1.
//
// It is its own module, so that h2lifecycle itself never depends on the
// Prometheus client: test it with `cd examples/prometheus && go test ./...`.
package main

import (
	"context"
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

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/h2lifecycle/h2lifecycle/drain"
	"github.com/h2lifecycle/h2lifecycle/examples/prometheus/h2prom"
	"github.com/h2lifecycle/h2lifecycle/server"
)

func main() {
	// Registered first: a SIGTERM right after the address is announced
	// starts the shutdown rather than killing the process.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, os.Interrupt)
	if err := run(sigs, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "prometheus:", err)
		if errors.Is(err, server.ErrForced) {
			os.Exit(1)
		}
		os.Exit(2)
	}
}

// run serves until the first signal on sigs, then shuts down; a second
// signal forces the close.
func run(sigs <-chan os.Signal, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("prometheus", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "address to serve on (h2c and HTTP/1.1)")
	metricsAddr := fs.String("metrics-addr", "127.0.0.1:9090", "address of /metrics")
	var plan server.ShutdownPlan
	fs.DurationVar(&plan.Grace, "grace", 30*time.Second, "how long the drains may take before the streams still open are reset")
	fs.DurationVar(&plan.DeregistrationDelay, "deregistration-delay", 0, "on SIGTERM, how long to keep accepting before the drains begin")
	fs.DurationVar(&plan.Spread, "spread", 0, "start the drains evenly over this window")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if plan.Grace <= 0 {
		return fmt.Errorf("-grace must be > 0, got %v", plan.Grace)
	}
	if err := plan.Validate(); err != nil {
		return err
	}
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()),
		zapcore.AddSync(stderr), zap.InfoLevel))
	defer log.Sync()

	reg := prometheus.NewRegistry()
	metrics := h2prom.New(h2prom.Options{})
	reg.MustRegister(metrics, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok")
	})
	srv := &http.Server{Handler: mux, Protocols: &protocols, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: zap.NewStdLog(log.Named("net/http"))}
	h2, err := server.Wrap(srv, server.Config{Drain: drain.Config{Grace: plan.Grace}},
		server.WithLogger(log), server.WithMetrics(metrics))
	if err != nil {
		return err
	}
	mux.Handle("/ready", h2.ReadinessHandler())

	ops := http.NewServeMux()
	ops.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	msrv := &http.Server{Handler: ops, ReadHeaderTimeout: 10 * time.Second}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	mln, err := net.Listen("tcp", *metricsAddr)
	if err != nil {
		ln.Close()
		return err
	}
	fmt.Fprintf(stdout, "listening on %s\nmetrics on %s\n", ln.Addr(), mln.Addr())
	serveErr, metricsErr := make(chan error, 1), make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	go func() { metricsErr <- msrv.Serve(mln) }()
	defer func() {
		// Last: a scrape during the drain still answers.
		msrv.Close()
		<-metricsErr
	}()

	select {
	case err := <-serveErr:
		return err
	case err := <-metricsErr:
		srv.Close()
		<-serveErr
		return fmt.Errorf("metrics server: %w", err)
	case sig := <-sigs:
		log.Info("signal received", zap.Stringer("signal", sig))
	}
	// A second signal forces the shutdown: RunShutdown treats the end of its
	// context as the force.
	ctx, force := context.WithCancel(context.Background())
	defer force()
	go func() {
		select {
		case <-sigs:
			force()
		case <-ctx.Done():
		}
	}()
	if _, err := h2.RunShutdown(ctx, plan); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	if err := <-serveErr; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
