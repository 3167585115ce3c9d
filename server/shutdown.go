package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/h2lifecycle/h2lifecycle/idle"
	"github.com/h2lifecycle/h2lifecycle/lifecycle"
)

// ShutdownPlan is how a service leaves: readiness off, a pause while load
// balancers deregister it, then every connection drained — spread over a
// window — within a grace deadline. The zero plan drains everything at once
// with the drain grace.
type ShutdownPlan struct {
	// DeregistrationDelay is the pause between the readiness handler
	// turning to 503 and the first drain: load balancers (a Kubernetes
	// Service's endpoints) stop sending new connections meanwhile, and the
	// listener still accepts. Zero means none.
	DeregistrationDelay time.Duration

	// Spread starts the HTTP/2 connections' drains evenly over this window,
	// so that thousands of clients do not reconnect to the next instance at
	// the same instant. Zero means all at once. It must be below Grace.
	Spread time.Duration

	// Grace bounds the drain: from its start to the forced close of what
	// is left. Zero means the drain grace (drain.Config.Grace, 30s).
	Grace time.Duration

	// TerminationBudget is the time the platform allows from SIGTERM to
	// SIGKILL (Kubernetes: terminationGracePeriodSeconds, 30s by default).
	// A plan whose DeregistrationDelay plus Grace exceeds it is logged as a
	// warning, once (by CheckShutdownPlan at start, or else by
	// RunShutdown): the process would be killed mid-drain. Zero means
	// unchecked.
	TerminationBudget time.Duration
}

// Validate reports the first setting out of range, as an
// *idle.SettingError. A plan without a Grace of its own takes the server's
// drain grace, so RunShutdown also checks Spread against that.
func (p ShutdownPlan) Validate() error {
	for _, f := range [...]struct {
		name string
		v    time.Duration
	}{{"deregistration_delay", p.DeregistrationDelay}, {"spread", p.Spread}, {"grace", p.Grace}, {"termination_budget", p.TerminationBudget}} {
		if err := idle.NonNegative("server", f.name, f.v); err != nil {
			return err
		}
	}
	if p.Grace > 0 {
		return p.checkSpread(p.Grace)
	}
	return nil
}

// checkSpread reports a Spread that does not end before the grace deadline.
func (p ShutdownPlan) checkSpread(grace time.Duration) error {
	if p.Spread >= grace {
		return &idle.SettingError{Section: "server", Field: "spread", Value: p.Spread.String(),
			Want: fmt.Sprintf("below the grace (%v)", grace)}
	}
	return nil
}

func (p ShutdownPlan) grace(def time.Duration) time.Duration {
	if p.Grace > 0 {
		return p.Grace
	}
	return def
}

// ShutdownReport is what a shutdown did.
type ShutdownReport struct {
	Begin          time.Time
	Deregistration time.Duration // spent in the deregistration delay
	Drain          time.Duration // from the first drain to the last connection closed
	Forced         bool          // a second signal, or the context, cut it short

	Connections      int    // HTTP/2 connections that closed during the shutdown
	Drained          int    // of those, ended by a two-phase drain
	StreamsCompleted uint64 // streams they completed
	StreamsCut       int    // streams still open when they closed
	PingTimeouts     int    // drains whose final GOAWAY went out at the ping timeout
	GraceExpired     int    // connections cut at the grace deadline

	// Reports holds every connection's report, in the order they closed:
	// their timelines show each drain phase (see the timeline tool).
	Reports []lifecycle.Report
}

func (r *ShutdownReport) add(c lifecycle.Report) {
	r.Connections++
	if c.Drained {
		r.Drained++
	}
	r.StreamsCompleted += c.StreamsCompleted
	r.StreamsCut += len(c.StreamsCut)
	if c.PingTimedOut {
		r.PingTimeouts++
	}
	if c.GraceExpired {
		r.GraceExpired++
	}
	r.Reports = append(r.Reports, c)
}

// ReadinessHandler answers 200 "ready" until a shutdown begins and 503
// "shutting down" from then on: a readiness probe's endpoint.
//
// On a Server that Wrap did not make it answers 503 with ErrNotWrapped's
// text: such a server supervises nothing.
func (s *Server) ReadinessHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if !s.wrapped() {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, ErrNotWrapped)
			return
		}
		if s.notReady.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "shutting down")
			return
		}
		fmt.Fprintln(w, "ready")
	})
}

// CheckShutdownPlan reports what RunShutdown would refuse in plan (see
// [ShutdownPlan.Validate]; a plan without a Grace takes the server's drain
// grace) and logs the warning of a plan whose DeregistrationDelay plus
// Grace exceeds its TerminationBudget. Call it at start, while the warning
// can still be acted on: RunShutdown then does not repeat it for the same
// plan, and the warning is logged once per plan.
func (s *Server) CheckShutdownPlan(plan ShutdownPlan) error {
	grace := plan.grace(s.cfg.Drain.GraceOrDefault())
	if err := plan.Validate(); err != nil {
		return err
	}
	if err := plan.checkSpread(grace); err != nil {
		return err
	}
	s.warnBudget(plan, grace)
	return nil
}

// warnBudget logs, once per plan, that plan does not fit its termination
// budget.
func (s *Server) warnBudget(plan ShutdownPlan, grace time.Duration) {
	b := plan.TerminationBudget
	if b <= 0 || idle.After(plan.DeregistrationDelay, grace) <= b {
		return
	}
	s.mu.Lock()
	already := s.warned != nil && *s.warned == plan
	if !already {
		s.warned = &plan
	}
	s.mu.Unlock()
	if !already {
		s.log.Warn("shutdown plan exceeds the termination budget: the process may be killed mid-drain",
			append(planFields(plan, grace), zap.Duration("termination_budget", b))...)
	}
}

func planFields(plan ShutdownPlan, grace time.Duration) []zap.Field {
	return []zap.Field{zap.Duration("deregistration_delay", plan.DeregistrationDelay),
		zap.Duration("spread", plan.Spread), zap.Duration("grace", grace)}
}

// ErrForced is the cause of the end of a shutdown that a second signal cut
// short (ShutdownOnSignal).
var ErrForced = errors.New("server: shutdown forced")

// RunShutdown runs the whole shutdown now: readiness off, the
// deregistration delay, the HTTP/1.1 side shut down (keep-alives off, idle
// connections closed, listeners closed) while every HTTP/2 connection
// drains two-phase, spread over the plan's window, until the grace
// deadline; then it closes what is left. ctx ending is the force: it closes
// everything at once, and RunShutdown returns context.Cause(ctx) (ErrForced
// for ShutdownOnSignal's second signal). The report says what happened
// either way.
//
// A program that may receive SIGTERM before it calls ShutdownOnSignal (as
// soon as it announces its address) registers its own signal channel early,
// and calls RunShutdown on the first signal with a ctx the second cancels.
func (s *Server) RunShutdown(ctx context.Context, plan ShutdownPlan) (ShutdownReport, error) {
	if !s.wrapped() {
		return ShutdownReport{}, ErrNotWrapped
	}
	grace := plan.grace(s.cfg.Drain.GraceOrDefault())
	if err := plan.Validate(); err != nil {
		return ShutdownReport{}, err
	}
	if err := plan.checkSpread(grace); err != nil {
		return ShutdownReport{}, err
	}
	rep := ShutdownReport{Begin: time.Now()}
	s.notReady.Store(true)
	s.startCollect(rep.Begin) // connections that close during the delay count too
	s.warnBudget(plan, grace)
	s.log.Info("shutting down: readiness off", planFields(plan, grace)...)

	stop := func(err error) (ShutdownReport, error) {
		rep.Forced = true
		s.Close()
		s.finishCollect(&rep)
		rep.Drain = max(time.Since(rep.Begin)-rep.Deregistration, 0)
		s.log.Warn("shutdown cut short: every connection closed at once", zap.Error(err))
		return rep, err
	}
	if d := plan.DeregistrationDelay; d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return stop(context.Cause(ctx))
		}
	}
	rep.Deregistration = time.Since(rep.Begin)

	// Drain phase.
	start := time.Now()
	deadline := start.Add(grace)
	s.mu.Lock()
	s.drainBy(grace)
	s.sequenced = true
	sups := make([]*lifecycle.Supervisor, 0, len(s.conns))
	for sup := range s.conns {
		sups = append(sups, sup)
	}
	s.mu.Unlock()
	slices.SortFunc(sups, func(a, b *lifecycle.Supervisor) int { return int(a.ID() - b.ID()) })
	s.log.Info("draining", zap.Int("http2_connections", len(sups)))
	stopWatch := s.watchDrain(len(sups), deadline) // through the spread too
	defer stopWatch()

	// HTTP/1.1: keep-alives off, listeners and idle connections closed,
	// active ones waited for — alongside the HTTP/2 drains.
	s.hs.SetKeepAlivesEnabled(false)
	h1ctx, h1cancel := context.WithDeadline(context.Background(), deadline)
	defer h1cancel()
	h1done := make(chan error, 1)
	go func() { h1done <- s.shutdownHTTP(h1ctx) }()

	for i, sup := range sups {
		if plan.Spread > 0 && i > 0 {
			at := start.Add(spreadAt(plan.Spread, i, len(sups)))
			t := time.NewTimer(time.Until(at))
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return stop(context.Cause(ctx))
			}
		}
		sup.Drain(lifecycle.ReasonShutdown, time.Until(deadline))
	}

	// Every HTTP/2 connection ends by the deadline: the supervisors cut
	// what is left then. Wait for them, and for the HTTP/1.1 side.
	err := s.waitAll(ctx)
	stopWatch()
	if err != nil {
		return stop(context.Cause(ctx))
	}
	// The drain ends with the last HTTP/2 connection; net/http's side also
	// waits for HTTP/1.1 requests still running.
	rep.Drain = time.Since(start)
	select {
	case err := <-h1done:
		if err != nil {
			s.hs.Close() // HTTP/1.1 requests still running at the deadline
		}
	case <-ctx.Done():
		return stop(context.Cause(ctx))
	}
	s.finishCollect(&rep)
	s.log.Info("shut down", zap.Int("connections", rep.Connections), zap.Int("drained", rep.Drained),
		zap.Uint64("streams_completed", rep.StreamsCompleted), zap.Int("streams_cut", rep.StreamsCut),
		zap.Int("ping_timeouts", rep.PingTimeouts), zap.Int("grace_expired", rep.GraceExpired),
		zap.Duration("deregistration", rep.Deregistration), zap.Duration("drain", rep.Drain))
	return rep, nil
}

// ShutdownOnSignal waits for SIGTERM or SIGINT, or for ctx to end, then runs
// RunShutdown; a second signal forces the close (RunShutdown returns
// ErrForced). It starts listening for the signals when called (see
// RunShutdown for a program that must listen earlier). Do not pass a ctx
// that the same signals cancel: the first signal would also count as the
// second.
func (s *Server) ShutdownOnSignal(ctx context.Context, plan ShutdownPlan) (ShutdownReport, error) {
	if !s.wrapped() {
		return ShutdownReport{}, ErrNotWrapped
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, os.Interrupt)
	defer signal.Stop(sigs)
	return s.shutdownOn(ctx, plan, sigs)
}

// shutdownOn is ShutdownOnSignal with the signals coming from sigs: the
// first (or ctx ending) starts the shutdown, the next forces it.
func (s *Server) shutdownOn(ctx context.Context, plan ShutdownPlan, sigs <-chan os.Signal) (ShutdownReport, error) {
	select {
	case sig := <-sigs:
		s.log.Info("signal received", zap.Stringer("signal", sig))
	case <-ctx.Done():
	}
	force, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	go func() {
		select {
		case sig := <-sigs:
			s.log.Warn("second signal: closing everything", zap.Stringer("signal", sig))
			cancel(ErrForced)
		case <-force.Done():
		}
	}()
	return s.RunShutdown(force, plan)
}

// startCollect starts collecting the reports of the connections that close
// from begin on.
func (s *Server) startCollect(begin time.Time) {
	s.mu.Lock()
	s.collect = &ShutdownReport{Begin: begin}
	s.mu.Unlock()
}

// finishCollect moves the collected connection reports into rep.
func (s *Server) finishCollect(rep *ShutdownReport) {
	s.mu.Lock()
	c := s.collect
	s.collect = nil
	s.mu.Unlock()
	if c == nil {
		return
	}
	for _, r := range c.Reports {
		rep.add(r)
	}
}

// spreadAt is when the i-th of n drains starts within a spread: i/n of it,
// computed without overflow for any spread.
func spreadAt(spread time.Duration, i, n int) time.Duration {
	d, k := time.Duration(n), time.Duration(i)
	return spread/d*k + spread%d*k/d
}
