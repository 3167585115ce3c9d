// Command demo shows, on this machine, what h2lifecycle changes: the same
// client load against the stock golang.org/x/net/http2 server and against
// the same server supervised by h2lifecycle, both shut down under load.
//
//	go run ./examples/demo
//	go run ./examples/demo -runs 10 -workers 128 -tls
//
// Everything runs on 127.0.0.1 and takes about ten seconds. It measures the
// three ways a connection ends that the README names: a shutdown under load
// (the runs alternate between the two servers, each on a fresh server with
// fresh client connections, so both see the same machine), an idle timeout
// racing the client's next request (both servers), and a maximum connection
// age under load (h2lifecycle: the stock server has no such limit). It
// prints first, in plain words, what each server lost and why; then, for
// experts, what one connection of each server carried on the wire when the
// shutdown began (recorded at the server's end for h2c, at the client's end
// for TLS, whose bytes are encrypted below net/http), and the failed
// requests by cause. Nothing is canned: every number is measured as it
// prints.
//
// -timeline FILE adds one more shutdown of the h2lifecycle server under the
// same load, not counted in the table, run through the same shutdown
// sequence as examples/server (server.RunShutdown, its drains spread over
// -spread), and draws every connection it drained as an SVG: when
// GOAWAY(2^31-1)+PING went out, when the PING ACK came back, the final
// GOAWAY, the last stream's end, the FIN and the close (package
// lifecycle/timeline).
//
//	go run ./examples/demo -conns 12 -spread 200ms -timeline drain.svg
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"golang.org/x/net/http2"

	"github.com/h2lifecycle/h2lifecycle/bench/experiment"
	"github.com/h2lifecycle/h2lifecycle/idle"
	"github.com/h2lifecycle/h2lifecycle/lifecycle"
	"github.com/h2lifecycle/h2lifecycle/lifecycle/timeline"
	"github.com/h2lifecycle/h2lifecycle/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := runMain(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// runMain runs the demo and returns the exit code: 0, also for -h (the
// usage was asked for), 2 for bad flags, 1 when a measurement failed.
func runMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	err := run(ctx, args, stdout)
	var usage usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &usage):
		fmt.Fprintln(stderr, "demo:", err)
		return 2
	}
	fmt.Fprintln(stderr, "demo:", err)
	return 1
}

// usageError is a bad flag or flag value.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

type options struct {
	runs     int
	workers  int
	conns    int
	post     float64
	warmup   time.Duration
	tls      bool
	seed     uint64
	timeline string
	spread   time.Duration

	idleRequests int           // per worker, in the idle race
	idleTimeout  time.Duration // of the idle race
	maxAge       time.Duration // of the max-age run
	ageDuration  time.Duration // how long the max-age run's load runs
}

func run(ctx context.Context, args []string, out io.Writer) error {
	var o options
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.IntVar(&o.runs, "runs", 5, "shutdowns per server")
	fs.IntVar(&o.workers, "workers", 64, "client workers, each sending one request after the other")
	fs.IntVar(&o.conns, "conns", 4, "client connections the workers share")
	fs.Float64Var(&o.post, "post", 0.5, "fraction of POSTs, whose bodies cannot be replayed")
	fs.DurationVar(&o.warmup, "duration", 200*time.Millisecond, "how long the load runs before each shutdown")
	fs.BoolVar(&o.tls, "tls", false, "h2 over TLS instead of h2c with prior knowledge")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the choice between GET and POST")
	fs.StringVar(&o.timeline, "timeline", "", "after the runs, drain the h2lifecycle server once more and draw its connections' drains to this SVG file")
	fs.DurationVar(&o.spread, "spread", 0, "in the -timeline run, start the connections' drains evenly over this window (server.ShutdownPlan.Spread)")
	fs.IntVar(&o.idleRequests, "idle-requests", 30, "idle race: requests per worker (16 workers, one connection each, pausing about -idle-timeout between requests)")
	fs.DurationVar(&o.idleTimeout, "idle-timeout", 50*time.Millisecond, "idle race: the servers' idle timeout")
	fs.DurationVar(&o.maxAge, "max-age", 100*time.Millisecond, "max-age run: h2lifecycle's idle.Policy.MaxConnectionAge")
	fs.DurationVar(&o.ageDuration, "age-duration", time.Second, "max-age run: how long the load runs")
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintln(out, "Usage: go run ./examples/demo [flags]")
		fmt.Fprintln(out, "Measures, on 127.0.0.1, the requests the stock x/net HTTP/2 server and h2lifecycle lose when connections end")
		fmt.Fprintln(out, "(a shutdown under load, an idle timeout, a maximum connection age), and shows one shutdown on the wire.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if o.runs < 1 || o.workers < 1 || o.conns < 1 || o.post < 0 || o.post > 1 || o.warmup <= 0 ||
		o.idleRequests < 1 || o.idleTimeout <= 0 || o.maxAge <= 0 || o.ageDuration <= 0 {
		return usageError{errors.New("-runs, -workers, -conns, -duration, -idle-requests, -idle-timeout, -max-age and -age-duration must be positive and -post in [0, 1]")}
	}
	if o.spread < 0 || o.spread >= timelineGrace {
		return usageError{fmt.Errorf("-spread must be in [0, %v), got %v", timelineGrace, o.spread)}
	}
	transport := "h2c"
	if o.tls {
		transport = "h2 over TLS"
	}

	fmt.Fprintf(out, "h2lifecycle demo: the stock x/net HTTP/2 server and the same server supervised by h2lifecycle, on 127.0.0.1,\n")
	fmt.Fprintf(out, "under the same load (%d workers over %d connections, %s, %.0f%% POSTs whose bodies cannot be replayed).\n",
		o.workers, o.conns, transport, 100*o.post)
	fmt.Fprintf(out, "%s, %d CPUs. Measuring %d shutdowns per server, an idle-timeout race and a max-age run (about ten seconds)...\n\n",
		runtime.Version(), runtime.NumCPU(), o.runs)

	kinds := []experiment.Kind{experiment.KindStock, experiment.KindSupervised}
	var results [2]experiment.Result
	var shown [2]*shownConn
	for i := range kinds {
		results[i] = experiment.Result{Kind: kinds[i], TLS: o.tls, CrossedGoAway: -1}
	}
	for r := range o.runs {
		for i, kind := range kinds {
			run, err := experiment.DrainOnce(ctx, experiment.DrainConfig{
				Server: experiment.ServerConfig{Kind: kind, TLS: o.tls},
				Load: experiment.LoadConfig{
					Workers:      o.workers,
					Conns:        o.conns,
					PostFraction: o.post,
					Seed:         o.seed + uint64(r),
				},
				Warmup:       o.warmup,
				RecordServer: true,
			})
			if err != nil {
				return fmt.Errorf("%v: %w", name(kind), err)
			}
			add(&results[i], run)
			if c := pickConn(kind, run); c != nil && (shown[i] == nil || c.score > shown[i].score) {
				shown[i] = c
			}
		}
	}

	var idleResults [2]experiment.Result
	for i, kind := range kinds {
		res, err := experiment.IdleRace(ctx, experiment.IdleConfig{
			Server: experiment.ServerConfig{Kind: kind, TLS: o.tls, IdleTimeout: o.idleTimeout},
			Load:   experiment.LoadConfig{PostFraction: o.post, Seed: o.seed, RequestsPerWorker: o.idleRequests},
		})
		if err != nil {
			return fmt.Errorf("idle race, %v: %w", name(kind), err)
		}
		idleResults[i] = res
	}
	age, err := maxAgeRun(ctx, o)
	if err != nil {
		return fmt.Errorf("max-age run: %w", err)
	}

	printSummary(out, o, results, idleResults, age)
	fmt.Fprintf(out, "The detail, for experts. A shutdown on the wire:\n")
	fmt.Fprintf(out, "the stock server ends a connection with one GOAWAY(last stream): a request already on the wire is lost.\n")
	fmt.Fprintf(out, "h2lifecycle sends GOAWAY(2^31-1)+PING first, and the real GOAWAY only when the PING comes back.\n\n")
	for i, kind := range kinds {
		printConn(out, kind, shown[i])
	}
	printCounts(out, results[:])
	if o.timeline != "" {
		return drawTimeline(ctx, out, o)
	}
	return nil
}

// timelineGrace bounds the drains of the -timeline run, as DrainOnce's
// default shutdown timeout bounds the measured ones.
const timelineGrace = 15 * time.Second

// drawTimeline shuts the h2lifecycle server down once more under the same
// load, through server.RunShutdown, whose report holds every connection's
// drain timeline, and draws it. experiment.DrainOnce shuts down through
// Shutdown, which reports no timelines: hence a run of its own.
func drawTimeline(ctx context.Context, out io.Writer, o options) error {
	srv, err := experiment.StartServer(experiment.ServerConfig{Kind: experiment.KindSupervised, TLS: o.tls})
	if err != nil {
		return err
	}
	defer srv.Close()
	load, err := experiment.StartLoad(experiment.LoadConfig{
		URL:          srv.URL,
		Workers:      o.workers,
		Conns:        o.conns,
		PostFraction: o.post,
		Seed:         o.seed,
		Duration:     2*o.warmup + 30*time.Second, // outlives the drain
	})
	if err != nil {
		return err
	}
	defer func() {
		load.Stop()
		load.Wait()
	}()
	// StartLoad has opened every connection; let the load run as before
	// each measured shutdown.
	t := time.NewTimer(o.warmup)
	select {
	case <-t.C:
	case <-ctx.Done():
		t.Stop()
		return ctx.Err()
	}
	load.ShutdownBegan()
	rep, err := srv.Supervised.RunShutdown(ctx, server.ShutdownPlan{Spread: o.spread, Grace: timelineGrace})
	if err != nil {
		return err
	}
	load.Stop()
	counts := load.Wait()

	f, err := os.Create(o.timeline)
	if err != nil {
		return err
	}
	title := fmt.Sprintf("h2lifecycle demo: %d connections drained under load (%d requests, %d failed)",
		rep.Drained, counts.Requests, counts.Failed)
	if err := timeline.SVG(f, rep.Reports, timeline.WithTitle(title)); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nTimeline: one more h2lifecycle shutdown under the same load (not counted above): %d connections drained in %v, %d requests, %d failed; drawn to %s.\n",
		rep.Drained, rep.Drain.Round(10*time.Microsecond), counts.Requests, counts.Failed, o.timeline)
	return nil
}

// add folds a run into a result, as experiment.DrainRace does.
func add(r *experiment.Result, run experiment.Run) {
	r.Runs++
	r.Counts.Add(run.Counts)
	r.Shutdown = append(r.Shutdown, run.Shutdown)
	slices.Sort(r.Shutdown)
	for _, c := range run.Client.Conns() {
		r.AboveGoAway += c.StreamsAboveGoAway()
	}
}

// shownConn is the connection whose frames the demo prints.
type shownConn struct {
	rec   experiment.ConnRecord
	score int // how much of the story it shows
}

// pickConn picks the connection of a run that tells the most: for the
// stock server, streams that crossed its GOAWAY; for h2lifecycle, streams
// that crossed the first GOAWAY and both GOAWAYs.
func pickConn(kind experiment.Kind, run experiment.Run) *shownConn {
	conns := run.Client.Conns()
	if run.Server != nil {
		conns = run.Server.Conns()
	}
	var best *shownConn
	for _, c := range conns {
		score := 0
		for _, e := range c.Events {
			if e.Type == http2.FrameGoAway {
				score += 10
			}
		}
		if score == 0 {
			continue
		}
		if c.Side == experiment.ServerSide {
			score += min(c.StreamsReceivedAfterGoAway, 5)
		} else {
			score += min(c.StreamsAboveGoAway(), 5)
		}
		if best == nil || score > best.score {
			best = &shownConn{rec: c, score: score}
		}
	}
	return best
}

func printConn(out io.Writer, kind experiment.Kind, c *shownConn) {
	if c == nil {
		fmt.Fprintf(out, "%s: no connection saw a GOAWAY.\n\n", name(kind))
		return
	}
	r := c.rec
	side := "the server's end"
	if r.Side == experiment.ClientSide {
		side = "the client's end"
	}
	fmt.Fprintf(out, "%s — one connection at shutdown, seen from %s (→ sent, ← received; t=0 at the first GOAWAY):\n", name(kind), side)

	var t0 time.Time
	var lastID uint32 = 1<<31 - 1 // of the newest GOAWAY on this connection
	for _, e := range r.Events {
		if e.Type == http2.FrameGoAway {
			t0 = e.At
			break
		}
	}
	finalLast := uint32(1<<31 - 1)
	for _, e := range r.Events {
		if e.Type == http2.FrameGoAway {
			finalLast = min(finalLast, e.LastStreamID)
		}
	}
	// At the client's end, the requests that crossed the GOAWAY left before
	// it arrived: show the last few sent before it.
	var before []experiment.Event
	if r.Side == experiment.ClientSide {
		for _, e := range r.Events {
			if e.At.Before(t0) && e.Type == http2.FrameHeaders && e.Dir == experiment.Sent {
				before = append(before, e)
			}
		}
		before = before[max(len(before)-4, 0):]
	}
	for _, e := range before {
		note := "sent before the GOAWAY arrived: processed"
		if e.StreamID > finalLast {
			note = "sent before the GOAWAY arrived: never processed"
		}
		fmt.Fprintf(out, "%-72s %s\n", fmt.Sprintf("  %+9.3f ms  %v", float64(e.At.Sub(t0).Microseconds())/1000, e), note)
	}

	// Every GOAWAY and PING is shown; stream frames only up to a few of
	// each kind, the requests that crossed the GOAWAY first.
	limits := map[http2.FrameType]int{http2.FrameHeaders: 4, http2.FrameData: 3, http2.FrameRSTStream: 2}
	skipped := map[http2.FrameType]int{}
	for _, e := range r.Events {
		if e.At.Before(t0) {
			continue
		}
		note := ""
		switch e.Type {
		case http2.FrameGoAway:
			lastID = e.LastStreamID
			if e.LastStreamID == 1<<31-1 {
				note = "stop opening streams"
			} else {
				note = fmt.Sprintf("streams above %d will not be processed", e.LastStreamID)
			}
		case http2.FramePing:
			if e.Flags.Has(http2.FlagPingAck) {
				note = "every stream sent before the GOAWAY has arrived"
				if r.Side == experiment.ClientSide {
					note = "behind every stream sent before the GOAWAY"
				}
			}
		case http2.FrameHeaders:
			if isResponse(r, e) {
				continue // the END_STREAM lines say when streams end
			}
			// A request that left the client after the GOAWAY left the server.
			if e.StreamID > lastID {
				note = "crossed the GOAWAY: never processed"
			} else {
				note = "crossed the GOAWAY: processed"
			}
		case http2.FrameRSTStream:
			if e.Dir == experiment.Received && r.Side == experiment.ServerSide || e.Dir == experiment.Sent && r.Side == experiment.ClientSide {
				note = "the client gives the stream up"
			}
		}
		if n, ok := limits[e.Type]; ok {
			if n == 0 {
				skipped[e.Type]++
				continue
			}
			limits[e.Type] = n - 1
		}
		line := fmt.Sprintf("  %+9.3f ms  %v", float64(e.At.Sub(t0).Microseconds())/1000, e)
		if note != "" {
			line = fmt.Sprintf("%-72s %s", line, note)
		}
		fmt.Fprintln(out, line)
	}
	if len(skipped) > 0 {
		var parts []string
		for _, t := range []http2.FrameType{http2.FrameHeaders, http2.FrameData, http2.FrameRSTStream} {
			if n := skipped[t]; n > 0 {
				parts = append(parts, fmt.Sprintf("%d %v", n, t))
			}
		}
		fmt.Fprintf(out, "  (not shown: %s)\n", strings.Join(parts, ", "))
	}
	if !r.Closed.IsZero() && !t0.IsZero() {
		fmt.Fprintf(out, "  %+9.3f ms  connection closed\n", float64(r.Closed.Sub(t0).Microseconds())/1000)
	}
	fmt.Fprintln(out)
}

// isResponse reports whether a HEADERS event is a response (written by the
// server) rather than a request.
func isResponse(r experiment.ConnRecord, e experiment.Event) bool {
	if r.Side == experiment.ServerSide {
		return e.Dir == experiment.Sent
	}
	return e.Dir == experiment.Received
}

func printCounts(out io.Writer, results []experiment.Result) {
	fmt.Fprintf(out, "Requests over %d shutdowns per server:\n", results[0].Runs)
	tw := tabwriter.NewWriter(out, 0, 0, 3, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t", name(r.Kind))
	}
	fmt.Fprintln(tw)
	row := func(label string, f func(experiment.Result) string) {
		fmt.Fprintf(tw, "%s\t", label)
		for _, r := range results {
			fmt.Fprintf(tw, "%s\t", f(r))
		}
		fmt.Fprintln(tw)
	}
	row("requests", func(r experiment.Result) string { return fmt.Sprint(r.Counts.Requests) })
	row("answered 200 ok", func(r experiment.Result) string { return fmt.Sprint(r.Counts.OK) })
	row("FAILED", func(r experiment.Result) string { return fmt.Sprint(r.Counts.Failed) })
	for _, c := range experiment.Causes() {
		if results[0].Counts.ByCause[c] == 0 && results[1].Counts.ByCause[c] == 0 {
			continue
		}
		row("  "+c.String(), func(r experiment.Result) string { return fmt.Sprint(r.Counts.ByCause[c]) })
	}
	row("streams the server never processed", func(r experiment.Result) string { return fmt.Sprint(r.AboveGoAway) })
	row("GETs the client replayed", func(r experiment.Result) string { return fmt.Sprint(r.Counts.Replayed) })
	row("median shutdown", func(r experiment.Result) string {
		return r.ShutdownMedian().Round(10 * time.Microsecond).String()
	})
	row("not failures: refused, the listener closed", func(r experiment.Result) string { return fmt.Sprint(r.Counts.ListenerClosed) })
	row("not failures: never sent by the client", func(r experiment.Result) string { return fmt.Sprint(r.Counts.NotSent) })
	tw.Flush()
	fmt.Fprintln(out)
	for _, r := range results {
		for _, c := range experiment.Causes() {
			if ex := r.Counts.Examples[c]; ex != "" {
				fmt.Fprintf(out, "%s, %v: %s\n", name(r.Kind), c, wrap(ex))
			}
		}
	}
	fmt.Fprintln(out, "A worker whose dial is refused stops: the server is gone, and a real client would go to another one.")
	fmt.Fprintln(out, "\"Never sent\": the client failed the request without writing it to the connection (see bench/experiment, type Counts).")
}

// wrap shortens a sample error to about 160 bytes, at a word boundary: a
// long error ends with " ..." after a whole word, never mid-word.
func wrap(s string) string {
	s = strings.TrimSpace(s)
	const limit = 160
	if len(s) <= limit {
		return s
	}
	cut := strings.LastIndexByte(s[:limit-4], ' ')
	if cut <= 0 {
		cut = limit - 4 // one long word: nothing better to cut at
	}
	return strings.TrimRight(s[:cut], " ,:;") + " ..."
}

// ageResult is what the max-age run measured.
type ageResult struct {
	counts  experiment.Counts
	rotated int64 // connections ended at their maximum age
}

// maxAgeRun serves the load with h2lifecycle under a short maximum
// connection age, so that connections are rotated while they carry
// requests. The stock server has no age limit to compare with.
func maxAgeRun(ctx context.Context, o options) (ageResult, error) {
	var rotated atomic.Int64
	hs := &http.Server{Handler: experiment.Handler(0), Protocols: experiment.Protocols(), ErrorLog: log.New(io.Discard, "", 0)}
	h2, err := server.Wrap(hs, server.Config{Policy: idle.Policy{MaxConnectionAge: o.maxAge}},
		server.WithMetrics(ageMetrics{&rotated}))
	if err != nil {
		return ageResult{}, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return ageResult{}, err
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	load, err := experiment.StartLoad(experiment.LoadConfig{
		URL:          "http://" + ln.Addr().String() + "/",
		Workers:      o.workers,
		Conns:        o.conns,
		PostFraction: o.post,
		Seed:         o.seed,
		Duration:     o.ageDuration,
	})
	if err != nil {
		h2.Close()
		<-served
		return ageResult{}, err
	}
	stop := context.AfterFunc(ctx, load.Stop)
	counts := load.Wait()
	stop()
	h2.Close()
	<-served
	return ageResult{counts: counts, rotated: rotated.Load()}, ctx.Err()
}

// ageMetrics counts the connections that ended at their maximum age.
type ageMetrics struct{ rotated *atomic.Int64 }

func (ageMetrics) ConnOpened() {}
func (m ageMetrics) ConnClosed(r *lifecycle.Report) {
	if r.Reason == lifecycle.ReasonMaxAge {
		m.rotated.Add(1)
	}
}

// printSummary says, in plain words and before any detail, what each server
// lost when its connections ended, and why.
func printSummary(out io.Writer, o options, shutdown, idleRace [2]experiment.Result, age ageResult) {
	fmt.Fprintln(out, "What happened:")
	stock, h2 := shutdown[0].Counts, shutdown[1].Counts
	fmt.Fprintf(out, "- Shutdown, %d times under load: the stock server lost %s; h2lifecycle lost %s.\n",
		o.runs, lost(stock), lost(h2))
	if stock.Failed > 0 {
		fmt.Fprintf(out, "  Why: the stock server closed each connection with a single GOAWAY while requests were already on their way to it%s.\n",
			because(stock))
	}
	stock, h2 = idleRace[0].Counts, idleRace[1].Counts
	fmt.Fprintf(out, "- Idle timeout (%v, clients pausing about that long between requests): the stock server lost %s; h2lifecycle lost %s.\n",
		o.idleTimeout, lost(stock), lost(h2))
	if stock.Failed > 0 {
		fmt.Fprintf(out, "  Why: the stock server closed idle connections just as the client sent its next request on them%s.\n",
			because(stock))
	}
	fmt.Fprintf(out, "- Max connection age (%v, h2lifecycle only: the stock server has no age limit, only the shutdown above):\n", o.maxAge)
	fmt.Fprintf(out, "  h2lifecycle rotated %d connections at their age limit under load and lost %s.\n", age.rotated, lost(age.counts))
	fmt.Fprintln(out, "h2lifecycle ends every connection in two phases, so a request already on the wire is served, not lost.")
	fmt.Fprintln(out)
}

// lost is "N of M requests".
func lost(c experiment.Counts) string {
	return fmt.Sprintf("%d of %d requests", c.Failed, c.Requests)
}

// because names the main cause of the failures, in words.
func because(c experiment.Counts) string {
	best, n := experiment.Cause(0), 0
	for _, cause := range experiment.Causes() {
		if c.ByCause[cause] > n {
			best, n = cause, c.ByCause[cause]
		}
	}
	switch best {
	case experiment.CauseCannotRetry:
		return ", and the client cannot send a POST whose body it has already written a second time"
	case experiment.CauseGoAwayClosed:
		return ", and closed it before answering them"
	}
	return fmt.Sprintf(" (the client's error, most often: %v)", best)
}

func name(k experiment.Kind) string {
	if k == experiment.KindSupervised {
		return "h2lifecycle"
	}
	return "stock x/net"
}
