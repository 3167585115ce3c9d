package h2prom

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/h2lifecycle/h2lifecycle/lifecycle"
	"github.com/h2lifecycle/h2lifecycle/server"
)

// Options tune the metrics. The zero value works.
type Options struct {
	// Namespace is the first part of every name. Empty means
	// "h2lifecycle"; the second part is always "downstream".
	Namespace string

	// ConstLabels are added to every series: a listener's name, say, when
	// one process wraps several servers (each with its own Metrics,
	// registered once per label value).
	ConstLabels prometheus.Labels

	// DrainBuckets are the buckets, in seconds, of the drain duration and
	// phase histograms. Nil means DefDrainBuckets.
	DrainBuckets []float64

	// RTTBuckets are the buckets, in seconds, of the PING round-trip
	// histogram. Nil means DefRTTBuckets.
	RTTBuckets []float64

	// LengthBuckets are the buckets, in seconds, of the connection length
	// histogram. Nil means DefLengthBuckets.
	LengthBuckets []float64
}

// Default buckets, in seconds.
var (
	// DefDrainBuckets span a loopback drain (a round trip plus the 20ms
	// settle) up to the 30s default grace.
	DefDrainBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

	// DefRTTBuckets span a loopback round trip up to a second.
	DefRTTBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}

	// DefLengthBuckets span a second up to a day.
	DefLengthBuckets = []float64{1, 10, 60, 300, 900, 1800, 3600, 7200, 21600, 86400}
)

// reasons are every reason a report can carry, exported at zero from the
// start in cx_destroy_total.
var reasons = []lifecycle.Reason{
	lifecycle.ReasonIdle, lifecycle.ReasonMaxAge, lifecycle.ReasonMaxStreams, lifecycle.ReasonHeaderTimeout,
	lifecycle.ReasonKeepaliveTimeout, lifecycle.ReasonTooManyPings, lifecycle.ReasonShutdown, lifecycle.ReasonRequested,
	lifecycle.ReasonPeer, lifecycle.ReasonServer, lifecycle.ReasonError, lifecycle.ReasonClosed,
}

// drainReasons are the reasons of a drained connection (lifecycle.Report.Drained),
// exported at zero in cx_drained_total. The others never drain: a client's
// GOAWAY is a client close, aborts and closes have no drain.
var drainReasons = []lifecycle.Reason{
	lifecycle.ReasonIdle, lifecycle.ReasonMaxAge, lifecycle.ReasonMaxStreams,
	lifecycle.ReasonShutdown, lifecycle.ReasonRequested, lifecycle.ReasonServer,
}

// unknownReason stands for an empty reason, which the core does not produce
// today; a label value must not be empty to be useful.
const unknownReason = "unknown"

// The drain phases, as the core's log line names them.
const (
	phaseNotice  = "notice"  // drain start to PING ACK (or the ping timeout)
	phaseSettle  = "settle"  // PING ACK to the final GOAWAY
	phaseFinal   = "final"   // final GOAWAY to the last stream's end
	phaseClosing = "closing" // our FIN to the close
)

// Metrics is a lifecycle.LiveMetrics that keeps Prometheus metrics, and a
// prometheus.Collector that exports them. Create it with New; it is safe for
// concurrent use.
type Metrics struct {
	cxTotal       prometheus.Counter
	cxActive      prometheus.Gauge
	cxByState     [len(stateNames)]prometheus.Gauge // by lifecycle.State; closed has none
	cxByStateVec  *prometheus.GaugeVec
	cxDestroy     *prometheus.CounterVec
	cxDrained     *prometheus.CounterVec
	cxActiveRq    prometheus.Counter
	cxLength      prometheus.Histogram
	drainDuration prometheus.Histogram
	drainPhase    *prometheus.HistogramVec
	pingRTT       prometheus.Histogram
	pingTimeout   prometheus.Counter
	graceExpired  prometheus.Counter
	rqTotal       prometheus.Counter
	rqActive      prometheus.Gauge
	rqCompleted   prometheus.Counter
	rqReset       prometheus.Counter
	rqCut         prometheus.Counter
	cxUnsup       prometheus.Counter
	rqRefused     prometheus.Counter

	all []prometheus.Collector
}

// stateNames are the label values of cx_by_state, by lifecycle.State.
var stateNames = [...]string{"active", "draining", "closing"}

var _ lifecycle.LiveMetrics = (*Metrics)(nil)
var _ prometheus.Collector = (*Metrics)(nil)
var _ server.UnsupervisedMetrics = (*Metrics)(nil)

// New returns the metrics, every series at zero. Register the result with a
// prometheus.Registerer and pass it to server.WithMetrics.
func New(o Options) *Metrics {
	ns := o.Namespace
	if ns == "" {
		ns = "h2lifecycle"
	}
	buckets := func(b, def []float64) []float64 {
		if b == nil {
			return def
		}
		return b
	}
	const sub = "downstream"
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help, ConstLabels: o.ConstLabels})
	}
	histogram := func(name, help string, b []float64) prometheus.Histogram {
		return prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help, ConstLabels: o.ConstLabels, Buckets: b})
	}
	m := &Metrics{
		cxTotal: counter("cx_total",
			"HTTP/2 connections that came under supervision (Envoy: downstream_cx_total)."),
		cxActive: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "cx_active", ConstLabels: o.ConstLabels,
			Help: "HTTP/2 connections under supervision now (Envoy: downstream_cx_active)."}),
		cxByStateVec: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "cx_by_state", ConstLabels: o.ConstLabels,
			Help: "HTTP/2 connections under supervision now, by state: active (serving), draining (a GOAWAY sent, streams finishing), closing (our FIN sent, waiting for the peer's); they sum to cx_active (Envoy has no such gauge)."}, []string{"state"}),
		cxDestroy: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "cx_destroy_total", ConstLabels: o.ConstLabels,
			Help: "HTTP/2 connections closed, by the reason they ended (Envoy: downstream_cx_destroy)."}, []string{"reason"}),
		cxDrained: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "cx_drained_total", ConstLabels: o.ConstLabels,
			Help: "HTTP/2 connections ended by a drain (two-phase GOAWAY, or the server's or peer's own GOAWAY), by reason (Envoy: downstream_cx_drain_close, downstream_cx_idle_timeout, downstream_cx_max_duration_reached, downstream_cx_max_requests_reached)."}, []string{"reason"}),
		cxActiveRq: counter("cx_destroy_active_rq_total",
			"HTTP/2 connections closed with streams still open (Envoy: downstream_cx_destroy_active_rq, the sum of downstream_cx_destroy_local_active_rq and downstream_cx_destroy_remote_active_rq)."),
		cxLength: histogram("cx_length_seconds",
			"Lifetime of HTTP/2 connections, observed when they close (Envoy: downstream_cx_length_ms).", buckets(o.LengthBuckets, DefLengthBuckets)),
		drainDuration: histogram("cx_drain_duration_seconds",
			"Time from the start of a connection's drain to its close.", buckets(o.DrainBuckets, DefDrainBuckets)),
		drainPhase: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "cx_drain_phase_seconds", ConstLabels: o.ConstLabels,
			Help:    "Time in each phase of a drain: notice (start to PING ACK or ping timeout), settle (ACK to final GOAWAY), final (final GOAWAY to the last stream's end), closing (our FIN to the close); a phase a drain skipped is not observed.",
			Buckets: buckets(o.DrainBuckets, DefDrainBuckets)}, []string{"phase"}),
		pingRTT: histogram("cx_ping_rtt_seconds",
			"Round trip of the last acknowledged PING the supervisor sent on a connection (the drain's, or a keepalive), observed when it closes.", buckets(o.RTTBuckets, DefRTTBuckets)),
		pingTimeout: counter("cx_ping_timeout_total",
			"Drains whose final GOAWAY went out at the ping timeout, without the PING ACK."),
		graceExpired: counter("cx_grace_expired_total",
			"Drains cut at the grace deadline, their open streams reset."),
		rqTotal: counter("rq_total",
			"Streams the server took in on supervised connections, counted as each opens (Envoy: downstream_rq_total)."),
		rqActive: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "rq_active", ConstLabels: o.ConstLabels,
			Help: "Streams open now on supervised connections (Envoy: downstream_rq_active)."}),
		rqCompleted: counter("rq_completed_total",
			"Streams the server completed (its END_STREAM, with the client's side ended too), counted as each ends (Envoy: downstream_rq_completed)."),
		rqReset: counter("rq_reset_total",
			"Streams ended by RST_STREAM from either side before the server completed them, counted as each ends (Envoy: downstream_rq_rx_reset plus downstream_rq_tx_reset)."),
		rqCut: counter("rq_cut_total",
			"Streams still open when their connection closed: reset at the grace deadline, or lost with the connection."),
		cxUnsup: counter("cx_unsupervised_total",
			"HTTP/2 connections (TLS and h2c) served without supervision because http2.ConfigureServer replaced h2lifecycle after server.Wrap (server.Server.UnsupervisedHTTP2): alert on any."),
		rqRefused: counter("rq_refused_total",
			"Streams not processed, which the client may retry: refused over the advertised stream limit (no handler ran; not in rq_total), or above the last-stream-id of the server's GOAWAY (in rq_total)."),
	}
	for _, r := range reasons {
		m.cxDestroy.WithLabelValues(string(r))
	}
	for _, r := range drainReasons {
		m.cxDrained.WithLabelValues(string(r))
	}
	for i, name := range stateNames {
		m.cxByState[i] = m.cxByStateVec.WithLabelValues(name)
	}
	for _, p := range []string{phaseNotice, phaseSettle, phaseFinal, phaseClosing} {
		m.drainPhase.WithLabelValues(p)
	}
	m.all = []prometheus.Collector{m.cxTotal, m.cxActive, m.cxByStateVec, m.cxDestroy, m.cxDrained, m.cxActiveRq, m.cxLength,
		m.drainDuration, m.drainPhase, m.pingRTT, m.pingTimeout, m.graceExpired,
		m.rqTotal, m.rqActive, m.rqCompleted, m.rqReset, m.rqCut, m.rqRefused, m.cxUnsup}
	return m
}

// ConnUnsupervised counts an HTTP/2 connection served without supervision
// (server.UnsupervisedMetrics): a misconfigured server.
func (m *Metrics) ConnUnsupervised() { m.cxUnsup.Inc() }

// ConnOpened counts a connection that came under supervision.
func (m *Metrics) ConnOpened() {
	m.cxTotal.Inc()
	m.cxActive.Inc()
	m.cxByState[lifecycle.StateActive].Inc()
}

// ConnStateChanged moves a connection between the state gauges.
func (m *Metrics) ConnStateChanged(from, to lifecycle.State) {
	if int(from) < len(m.cxByState) {
		m.cxByState[from].Dec()
	}
	if int(to) < len(m.cxByState) {
		m.cxByState[to].Inc()
	}
}

// StreamOpened counts a stream the server took in.
func (m *Metrics) StreamOpened() {
	m.rqTotal.Inc()
	m.rqActive.Inc()
}

// StreamClosed counts how a stream ended.
func (m *Metrics) StreamClosed(end lifecycle.StreamEnd) {
	if end == lifecycle.EndRefused {
		m.rqRefused.Inc() // never opened
		return
	}
	m.rqActive.Dec()
	switch end {
	case lifecycle.EndCompleted:
		m.rqCompleted.Inc()
	case lifecycle.EndReset:
		m.rqReset.Inc()
	case lifecycle.EndCut:
		m.rqCut.Inc()
	case lifecycle.EndDropped:
		m.rqRefused.Inc()
	}
}

// ConnClosed counts a closed connection from its final report; its
// streams were counted as they ended.
func (m *Metrics) ConnClosed(r *lifecycle.Report) {
	m.cxActive.Dec()
	if r == nil {
		return
	}
	reason := string(r.Reason)
	if reason == "" {
		reason = unknownReason
	}
	m.cxDestroy.WithLabelValues(reason).Inc()
	m.cxLength.Observe(r.Age.Seconds())
	if len(r.StreamsCut) > 0 {
		m.cxActiveRq.Inc()
	}
	if r.RTT > 0 {
		m.pingRTT.Observe(r.RTT.Seconds())
	}
	if !r.Drained {
		return
	}
	m.cxDrained.WithLabelValues(reason).Inc()
	if r.PingTimedOut {
		m.pingTimeout.Inc()
	}
	if r.GraceExpired {
		m.graceExpired.Inc()
	}
	tl := &r.Timeline
	if d, ok := span(tl.Start, tl.Closed); ok {
		m.drainDuration.Observe(d.Seconds())
	}
	// The phases as the core's log line has them.
	for _, p := range []struct {
		name     string
		from, to time.Time
	}{
		{phaseNotice, tl.Start, tl.Ack},
		{phaseSettle, tl.Ack, tl.Final},
		{phaseFinal, tl.Final, tl.StreamsDone},
		{phaseClosing, tl.HalfClosed, tl.Closed},
	} {
		if d, ok := span(p.from, p.to); ok {
			m.drainPhase.WithLabelValues(p.name).Observe(d.Seconds())
		}
	}
}

// span is b-a when both happened; never negative (streams can end before
// the ACK).
func span(a, b time.Time) (time.Duration, bool) {
	if a.IsZero() || b.IsZero() {
		return 0, false
	}
	return max(b.Sub(a), 0), true
}

// Describe sends the descriptions of every metric.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.all {
		c.Describe(ch)
	}
}

// Collect sends every metric's current value.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.all {
		c.Collect(ch)
	}
}
