// Command race measures how many client requests the stock x/net HTTP/2
// server and the h2lifecycle-supervised one lose when they end connections:
// the drain race (shutdown under load) and the idle race (idle timeout
// against clients that pause about as long). It prints one table row per
// server; the numbers in bench/RESULTS-race.md come from it.
//
//	go run ./bench/race -exp drain -runs 20
//	go run ./bench/race -exp drain -tls -runs 20
//	go run ./bench/race -exp idle -runs 12
//	go run ./bench/race -exp idle -server supervised -idle-timeout 100ms -runs 3
//
// Everything runs on 127.0.0.1; each run uses a fresh server and fresh
// client transports. What counts as a failed request is defined in
// bench/experiment (type Counts): every request without its 200 "ok",
// except those that never reached a server after a shutdown closed the
// listener and those the client failed without writing them, which are
// shown in their own columns.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/h2lifecycle/h2lifecycle/bench/experiment"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "race:", err)
		os.Exit(1)
	}
}

type options struct {
	exp          string
	servers      []experiment.Kind
	tls          bool
	runs         int
	workers      int
	conns        int
	post         float64
	body         int
	warmup       time.Duration
	idleTimeout  time.Duration
	pauseMin     time.Duration
	pauseMax     time.Duration
	perWorker    int
	handlerDelay time.Duration
	grace        time.Duration
	seed         uint64
	verbose      bool
}

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("race", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.exp, "exp", "drain", "experiment: drain (shutdown under load) or idle (idle timeout race)")
	server := fs.String("server", "both", "server: stock, supervised or both")
	fs.BoolVar(&o.tls, "tls", false, "h2 over TLS (self-signed, ALPN h2) instead of h2c with prior knowledge")
	fs.IntVar(&o.runs, "runs", 0, "runs per server, each on a fresh server (0: 20 for drain, 12 for idle)")
	fs.IntVar(&o.workers, "workers", 0, "client workers (0: 64 for drain, 16 for idle)")
	fs.IntVar(&o.conns, "conns", 0, "client connections, one http2.Transport each (0: 4 for drain, one per worker for idle)")
	fs.Float64Var(&o.post, "post", 0.5, "fraction of POSTs, whose bodies cannot be replayed")
	fs.IntVar(&o.body, "body", 1024, "POST body size in bytes")
	fs.DurationVar(&o.warmup, "warmup", 200*time.Millisecond, "drain: load before the shutdown")
	fs.DurationVar(&o.idleTimeout, "idle-timeout", 50*time.Millisecond, "idle: the server's idle timeout T")
	fs.DurationVar(&o.pauseMin, "pause-min", 0, "pause between a worker's requests, lower bound (0: none for drain, 0.9T for idle)")
	fs.DurationVar(&o.pauseMax, "pause-max", 0, "pause between a worker's requests, upper bound (0: none for drain, 1.1T for idle)")
	fs.IntVar(&o.perWorker, "requests", 30, "idle: requests per worker and run")
	fs.DurationVar(&o.handlerDelay, "handler-delay", 0, "how long the handler waits before answering")
	fs.DurationVar(&o.grace, "grace", 10*time.Second, "drain: shutdown timeout, and the supervised server's grace")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the methods and pauses")
	fs.BoolVar(&o.verbose, "v", false, "print every run")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	switch o.exp {
	case "drain":
		o.runs = or(o.runs, 20)
		o.workers = or(o.workers, 64)
		o.conns = or(o.conns, 4)
	case "idle":
		o.runs = or(o.runs, 12)
		o.workers = or(o.workers, 16)
		o.conns = or(o.conns, o.workers)
		if o.pauseMin == 0 && o.pauseMax == 0 {
			o.pauseMin, o.pauseMax = o.idleTimeout*9/10, o.idleTimeout*11/10
		}
	default:
		return o, fmt.Errorf("-exp must be drain or idle, not %q", o.exp)
	}
	switch *server {
	case "both":
		o.servers = []experiment.Kind{experiment.KindStock, experiment.KindSupervised}
	default:
		k, err := experiment.ParseKind(*server)
		if err != nil {
			return o, err
		}
		o.servers = []experiment.Kind{k}
	}
	if o.post < 0 || o.post > 1 {
		return o, fmt.Errorf("-post must be in [0, 1], not %v", o.post)
	}
	return o, nil
}

func or(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

func run(ctx context.Context, args []string, out io.Writer) error {
	o, err := parse(args, os.Stderr)
	if err != nil {
		return err
	}
	transport := "h2c (prior knowledge)"
	if o.tls {
		transport = "h2 over TLS"
	}
	fmt.Fprintf(out, "%s, %s, %s/%s, %d CPUs\n", time.Now().UTC().Format("2006-01-02"), runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
	fmt.Fprintf(out, "race %s\n", strings.Join(os.Args[1:], " "))
	switch o.exp {
	case "drain":
		fmt.Fprintf(out, "drain race, %s: %d runs per server, each a fresh server; %d workers over %d connections, %.0f%% POSTs (%d B, not replayable); shutdown after %v of load\n",
			transport, o.runs, o.workers, o.conns, o.post*100, o.body, o.warmup)
	case "idle":
		fmt.Fprintf(out, "idle race, %s: idle timeout %v, pauses %v-%v; %d runs per server; %d workers over %d connections, %d requests each, %.0f%% POSTs (%d B, not replayable)\n",
			transport, o.idleTimeout, o.pauseMin, o.pauseMax, o.runs, o.workers, o.conns, o.perWorker, o.post*100, o.body)
	}
	if o.handlerDelay > 0 {
		fmt.Fprintf(out, "handler delay %v\n", o.handlerDelay)
	}
	fmt.Fprintln(out)

	var results []experiment.Result
	for _, kind := range o.servers {
		res, err := measure(ctx, o, kind, out)
		if err != nil {
			return fmt.Errorf("%v: %w", kind, err)
		}
		results = append(results, res)
	}
	printTable(out, o, results)
	return nil
}

func measure(ctx context.Context, o options, kind experiment.Kind, out io.Writer) (experiment.Result, error) {
	onRun := func(r experiment.Run) {
		if o.verbose {
			fmt.Fprintf(out, "  %v run %d: %v\n", kind, r.Index+1, r.Counts)
		}
	}
	srv := experiment.ServerConfig{Kind: kind, TLS: o.tls, HandlerDelay: o.handlerDelay}
	load := experiment.LoadConfig{
		Workers:      o.workers,
		Conns:        o.conns,
		PostFraction: o.post,
		BodySize:     o.body,
		PauseMin:     o.pauseMin,
		PauseMax:     o.pauseMax,
		Seed:         o.seed,
	}
	if o.exp == "drain" {
		srv.Grace = o.grace
		return experiment.DrainRace(ctx, experiment.DrainConfig{
			Server:          srv,
			Load:            load,
			Runs:            o.runs,
			Warmup:          o.warmup,
			ShutdownTimeout: o.grace,
			RecordServer:    !o.tls,
			OnRun:           onRun,
		})
	}
	srv.IdleTimeout = o.idleTimeout
	load.RequestsPerWorker = o.perWorker
	return experiment.IdleRace(ctx, experiment.IdleConfig{Server: srv, Load: load, Runs: o.runs, OnRun: onRun})
}

func printTable(out io.Writer, o options, results []experiment.Result) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "server\trequests\tfailed\t%\t")
	for _, c := range experiment.Causes() {
		fmt.Fprintf(tw, "%s\t", shortCause(c))
	}
	fmt.Fprint(tw, "|\tlistener closed\tnot sent\topened after GOAWAY\treplayed\t|\tabove GOAWAY\tcrossed GOAWAY\tconns\t")
	if o.exp == "drain" {
		fmt.Fprint(tw, "drain p50\tdrain max\t")
	}
	fmt.Fprintln(tw)
	for _, r := range results {
		c := r.Counts
		pct := 0.0
		if c.Requests > 0 {
			pct = 100 * float64(c.Failed) / float64(c.Requests)
		}
		fmt.Fprintf(tw, "%v\t%d\t%d\t%.3f\t", name(r.Kind), c.Requests, c.Failed, pct)
		for _, cause := range experiment.Causes() {
			fmt.Fprintf(tw, "%d\t", c.ByCause[cause])
		}
		crossed := "-"
		if r.CrossedGoAway >= 0 {
			crossed = fmt.Sprint(r.CrossedGoAway)
		}
		fmt.Fprintf(tw, "|\t%d\t%d\t%d\t%d\t|\t%d\t%s\t%d\t", c.ListenerClosed, c.NotSent, c.OpenedAfterGoAway, c.Replayed, r.AboveGoAway, crossed, r.Conns)
		if o.exp == "drain" {
			var maxD time.Duration
			if n := len(r.Shutdown); n > 0 {
				maxD = r.Shutdown[n-1]
			}
			fmt.Fprintf(tw, "%v\t%v\t", r.ShutdownMedian().Round(10*time.Microsecond), maxD.Round(10*time.Microsecond))
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	fmt.Fprintln(out)
	fmt.Fprintln(out, "failed: requests without their 200 \"ok\", by cause; not counted as failures: listener closed (never reached a server after")
	fmt.Fprintln(out, "the shutdown closed the listener), not sent (the client failed them without writing their HEADERS) and opened after")
	fmt.Fprintln(out, "GOAWAY (the client wrote their HEADERS after it had taken in a GOAWAY on the connection: RFC 9113 6.8 forbids it).")
	fmt.Fprintln(out, "above GOAWAY: streams the client sent above a GOAWAY's last-stream-id (never processed; the client replays GETs).")
	fmt.Fprintln(out, "crossed GOAWAY: streams whose HEADERS reached the server after its first GOAWAY (h2c only, recorded server-side).")
	for _, r := range results {
		for _, c := range experiment.Causes() {
			if ex := r.Counts.Examples[c]; ex != "" {
				fmt.Fprintf(out, "  %v, %v: %s\n", name(r.Kind), c, ex)
			}
		}
		if ex := r.Counts.NotSentExample; ex != "" {
			fmt.Fprintf(out, "  %v, not sent: %s\n", name(r.Kind), ex)
		}
		if ex := r.Counts.OpenedAfterGoAwayExample; ex != "" {
			fmt.Fprintf(out, "  %v, opened after GOAWAY: %s\n", name(r.Kind), ex)
		}
	}
}

func name(k experiment.Kind) string {
	if k == experiment.KindSupervised {
		return "h2lifecycle"
	}
	return "stock x/net"
}

func shortCause(c experiment.Cause) string {
	switch c {
	case experiment.CauseCannotRetry:
		return "cannot retry"
	case experiment.CauseGoAwayClosed:
		return "GOAWAY+close"
	case experiment.CauseReset:
		return "reset"
	case experiment.CauseBrokenPipe:
		return "pipe"
	case experiment.CauseEOF:
		return "EOF"
	case experiment.CauseRefused:
		return "refused"
	case experiment.CauseTimeout:
		return "timeout"
	case experiment.CauseStatus:
		return "status"
	}
	return "other"
}
