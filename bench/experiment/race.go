package experiment

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// DrainConfig describes the drain race: load runs, and after a warm-up the
// server drains every connection under load.
//
// The drain is a shutdown: http.Server.Shutdown for the stock server (one
// GOAWAY per connection, the drain every Go program has), server.Shutdown
// for the supervised one (two-phase). Both close the listener first, so each
// run starts a fresh server. Draining with the listener open and reusing one
// server over the runs is not a fair alternative: the stock server has no
// way to drain its connections but Shutdown, and server.Server.Drain drains
// the connections accepted after it too, for good, so a drained supervised
// server is of no use for the next run either.
type DrainConfig struct {
	// Server describes the server of every run. Its IdleTimeout should be
	// zero, or the idle race mixes in.
	Server ServerConfig
	// Load describes the client load; its URL is set per run. Zero Workers
	// and Conns mean 64 over 4, as in LoadConfig.
	Load LoadConfig
	// Runs is the number of runs, each on a fresh server and fresh
	// transports; zero means 1.
	Runs int
	// Warmup is how long the load runs before the drain, once every
	// connection is up; zero means 200ms.
	Warmup time.Duration
	// ShutdownTimeout bounds each drain; zero means 15s. For the supervised
	// server it also bounds the grace.
	ShutdownTimeout time.Duration
	// RecordServer records the server's end of h2c connections, to count
	// the streams that crossed its first GOAWAY.
	RecordServer bool
	// OnRun, if set, is called after each run with its result, recorders
	// included.
	OnRun func(Run)
}

// Run is the result of one run.
type Run struct {
	Index  int
	Counts Counts
	// Shutdown is how long the drain took: from the call to Shutdown to its
	// return, every connection closed.
	Shutdown time.Duration
	// ShutdownErr is what Shutdown returned: ctx's error if the timeout won.
	ShutdownErr error
	// ShutdownAt is when the shutdown began.
	ShutdownAt time.Time
	Client     *Recorder // the client's end of every connection
	Server     *Recorder // the server's end of h2c connections; nil otherwise
}

// Result sums up the runs of an experiment.
type Result struct {
	Kind   Kind
	TLS    bool
	Runs   int
	Counts Counts
	// Conns counts the client connections that received any byte.
	Conns int
	// AboveGoAway counts the streams the client sent with ids above the
	// last-stream-id of a GOAWAY it then received: streams that crossed the
	// final GOAWAY and that the server never processed. The client replays
	// them when it can; each non-replayable one is a failure.
	AboveGoAway int
	// SentAfterGoAway counts the streams the client opened after it had
	// received a GOAWAY (see ConnRecord.StreamsSentAfterGoAway): the one
	// way a two-phase drain can still see a stream above its final
	// last-stream-id.
	SentAfterGoAway int
	// CrossedGoAway counts the streams whose HEADERS reached the server
	// after it wrote its first GOAWAY (recorded on the server's end, so h2c
	// only; -1 when not recorded). For the stock server they are the
	// streams above; for the supervised one they crossed
	// GOAWAY(2^31-1) and were processed.
	CrossedGoAway int
	// ShutdownErrors counts the drains that ran out of time.
	ShutdownErrors int
	// Shutdown holds the drain durations, sorted.
	Shutdown []time.Duration
	Elapsed  time.Duration
}

// ShutdownMedian is the median drain duration, zero without drains.
func (r *Result) ShutdownMedian() time.Duration {
	if len(r.Shutdown) == 0 {
		return 0
	}
	return r.Shutdown[len(r.Shutdown)/2]
}

// DrainRace runs the drain race cfg.Runs times.
func DrainRace(ctx context.Context, cfg DrainConfig) (Result, error) {
	runs := max(cfg.Runs, 1)
	res := Result{Kind: cfg.Server.Kind, TLS: cfg.Server.TLS, CrossedGoAway: -1}
	if cfg.RecordServer && !cfg.Server.TLS {
		res.CrossedGoAway = 0
	}
	start := time.Now()
	for i := range runs {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		run, err := DrainOnce(ctx, cfg)
		if err != nil {
			return res, fmt.Errorf("run %d: %w", i+1, err)
		}
		run.Index = i
		res.add(run)
		if cfg.OnRun != nil {
			cfg.OnRun(run)
		}
	}
	slices.Sort(res.Shutdown)
	res.Elapsed = time.Since(start)
	return res, nil
}

func (r *Result) add(run Run) {
	r.Runs++
	r.Counts.Add(run.Counts)
	if !run.ShutdownAt.IsZero() {
		r.Shutdown = append(r.Shutdown, run.Shutdown)
	}
	if run.ShutdownErr != nil {
		r.ShutdownErrors++
	}
	for _, c := range run.Client.Conns() {
		if c.BytesReceived > 0 {
			r.Conns++
		}
		r.AboveGoAway += c.StreamsAboveGoAway()
		r.SentAfterGoAway += c.StreamsSentAfterGoAway
	}
	if run.Server != nil {
		for _, c := range run.Server.Conns() {
			r.CrossedGoAway += c.StreamsReceivedAfterGoAway
		}
	}
}

// DrainOnce runs the drain race once, on a fresh server.
func DrainOnce(ctx context.Context, cfg DrainConfig) (Run, error) {
	warmup := cfg.Warmup
	if warmup <= 0 {
		warmup = 200 * time.Millisecond
	}
	timeout := cfg.ShutdownTimeout
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	scfg := cfg.Server
	var srec *Recorder
	if cfg.RecordServer && !scfg.TLS {
		srec = NewRecorder()
		scfg.Recorder = srec
	}
	srv, err := StartServer(scfg)
	if err != nil {
		return Run{}, err
	}
	lcfg := cfg.Load
	lcfg.URL = srv.URL
	lcfg.Recorder = NewRecorder()
	// The load must outlive the warm-up and the drain; Shutdown's timeout
	// bounds the latter.
	lcfg.Duration = max(lcfg.Duration, 2*warmup+timeout+5*time.Second)
	load, err := StartLoad(lcfg)
	if err != nil {
		srv.Close()
		return Run{}, err
	}

	// Drain only once every connection is up and has served a request, so
	// that every run drains the same number of busy connections.
	if err := waitFor(ctx, load, int64(lcfg.withDefaults().Conns), 10*time.Second); err != nil {
		load.Stop()
		load.Wait()
		srv.Close()
		return Run{}, err
	}
	t := time.NewTimer(warmup)
	select {
	case <-t.C:
	case <-ctx.Done():
		t.Stop()
		load.Stop()
		load.Wait()
		srv.Close()
		return Run{}, ctx.Err()
	case <-load.Done():
		t.Stop()
	}

	sctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	load.ShutdownBegan()
	began := time.Now()
	serr := srv.Shutdown(sctx)
	took := time.Since(began)
	if serr != nil {
		srv.Close() // bound the run: cut what is left
	}
	load.Stop()
	counts := load.Wait()
	return Run{
		Counts:      counts,
		Shutdown:    took,
		ShutdownErr: serr,
		ShutdownAt:  began,
		Client:      load.Recorder(),
		Server:      srec,
	}, nil
}

// waitFor waits until the load has n successful requests, for at most d.
func waitFor(ctx context.Context, load *Load, n int64, d time.Duration) error {
	deadline := time.Now().Add(d)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for load.OK() < n {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		case <-load.Done():
			return errors.New("experiment: the load ended before the warm-up")
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("experiment: only %d of %d requests succeeded within %v of the start", load.OK(), n, d)
		}
	}
	return nil
}

// IdleConfig describes the idle race: the server closes connections idle
// for T, and every client connection has one worker that pauses about T
// between requests, so some requests leave just as the idle close does. The
// listener stays open: every failed request counts.
type IdleConfig struct {
	// Server describes the server; zero IdleTimeout means 50ms.
	Server ServerConfig
	// Load describes the clients. Zero Workers means 16; zero Conns means
	// one per worker (a connection shared by workers is never idle). Zero
	// pauses mean [0.9T, 1.1T]; zero RequestsPerWorker means 30.
	Load LoadConfig
	// Runs is the number of runs, each on a fresh server; zero means 1.
	Runs int
	// OnRun, if set, is called after each run.
	OnRun func(Run)
}

// IdleRace runs the idle race cfg.Runs times.
func IdleRace(ctx context.Context, cfg IdleConfig) (Result, error) {
	runs := max(cfg.Runs, 1)
	res := Result{Kind: cfg.Server.Kind, TLS: cfg.Server.TLS, CrossedGoAway: -1}
	start := time.Now()
	for i := range runs {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		run, err := IdleOnce(ctx, cfg)
		if err != nil {
			return res, fmt.Errorf("run %d: %w", i+1, err)
		}
		run.Index = i
		res.add(run)
		if cfg.OnRun != nil {
			cfg.OnRun(run)
		}
	}
	slices.Sort(res.Shutdown)
	res.Elapsed = time.Since(start)
	return res, nil
}

// IdleOnce runs the idle race once, on a fresh server.
func IdleOnce(ctx context.Context, cfg IdleConfig) (Run, error) {
	scfg := cfg.Server
	if scfg.IdleTimeout <= 0 {
		scfg.IdleTimeout = 50 * time.Millisecond
	}
	T := scfg.IdleTimeout
	srv, err := StartServer(scfg)
	if err != nil {
		return Run{}, err
	}
	lcfg := cfg.Load
	lcfg.URL = srv.URL
	lcfg.Recorder = NewRecorder()
	if lcfg.Workers <= 0 {
		lcfg.Workers = 16
	}
	if lcfg.Conns <= 0 {
		lcfg.Conns = lcfg.Workers
	}
	if lcfg.PauseMin <= 0 && lcfg.PauseMax <= 0 {
		lcfg.PauseMin, lcfg.PauseMax = T*9/10, T*11/10
	}
	if lcfg.RequestsPerWorker <= 0 {
		lcfg.RequestsPerWorker = 30
	}
	if lcfg.Duration <= 0 {
		// Enough for every request and pause, and a bound all the same.
		lcfg.Duration = time.Duration(lcfg.RequestsPerWorker)*(lcfg.PauseMax+scfg.HandlerDelay)*2 + 10*time.Second
	}
	load, err := StartLoad(lcfg)
	if err != nil {
		srv.Close()
		return Run{}, err
	}
	select {
	case <-load.Done():
	case <-ctx.Done():
		load.Stop()
	}
	counts := load.Wait()
	// The load is over; end what is left without measuring it.
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	return Run{Counts: counts, Client: load.Recorder()}, ctx.Err()
}
