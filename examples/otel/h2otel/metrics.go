package h2otel

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/h2lifecycle/h2lifecycle/lifecycle"
)

// Attribute keys.
const (
	keyState     = attribute.Key("h2lifecycle.connection.state")
	keyReason    = attribute.Key("h2lifecycle.connection.end_reason")
	keyStreamEnd = attribute.Key("h2lifecycle.stream.end")
	keyErrorType = attribute.Key("error.type") // semantic conventions: the class of error an operation ended with
)

// The protocol, on every measurement (semantic conventions:
// network.protocol.name and network.protocol.version).
var protocol = []attribute.KeyValue{
	attribute.String("network.protocol.name", "http"),
	attribute.String("network.protocol.version", "2"),
}

// Instrument names.
const (
	nameActiveConnections = "h2lifecycle.active_connections"
	nameConnDuration      = "h2lifecycle.connection.duration"
	nameDrainDuration     = "h2lifecycle.drain.duration"
	nameActiveStreams     = "h2lifecycle.active_streams"
	nameStreams           = "h2lifecycle.streams"
	namePingRTT           = "h2lifecycle.ping.rtt"
)

// Metrics is a lifecycle.LiveMetrics that records OpenTelemetry metrics
// through a metric.Meter. Create it with New; it is safe for concurrent
// use.
type Metrics struct {
	activeConns   metric.Int64UpDownCounter
	connDuration  metric.Float64Histogram
	drainDuration metric.Float64Histogram
	activeStreams metric.Int64UpDownCounter
	streams       metric.Int64Counter
	pingRTT       metric.Float64Histogram

	// Options made once, as slices passed on whole: a variadic call
	// through the API's interfaces would otherwise allocate its slice on
	// every measurement.
	byState     [3][]metric.AddOption // active, draining, closing
	byEnd       [lifecycle.EndRefused + 1][]metric.AddOption
	plain       []metric.AddOption
	plainRecord []metric.RecordOption
}

var _ lifecycle.LiveMetrics = (*Metrics)(nil)

// New makes the instruments on meter (a nil meter is an error). Pass the
// result to server.WithMetrics.
func New(meter metric.Meter) (*Metrics, error) {
	if meter == nil {
		return nil, errors.New("h2otel: New needs a metric.Meter")
	}
	m := &Metrics{}
	var errs []error
	add := func(err error) { errs = append(errs, err) }
	var err error
	m.activeConns, err = meter.Int64UpDownCounter(nameActiveConnections, metric.WithUnit("{connection}"),
		metric.WithDescription("HTTP/2 connections under supervision now, by state (active, draining, closing)."))
	add(err)
	m.connDuration, err = meter.Float64Histogram(nameConnDuration, metric.WithUnit("s"),
		metric.WithDescription("How long HTTP/2 connections lasted, by why they ended; error.type for those an error ended."),
		metric.WithExplicitBucketBoundaries(1, 10, 60, 300, 900, 1800, 3600, 7200, 21600, 86400))
	add(err)
	m.drainDuration, err = meter.Float64Histogram(nameDrainDuration, metric.WithUnit("s"),
		metric.WithDescription("Time from the start of a connection's drain to its close, by reason."),
		metric.WithExplicitBucketBoundaries(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
	add(err)
	m.activeStreams, err = meter.Int64UpDownCounter(nameActiveStreams, metric.WithUnit("{stream}"),
		metric.WithDescription("HTTP/2 streams open now on supervised connections."))
	add(err)
	m.streams, err = meter.Int64Counter(nameStreams, metric.WithUnit("{stream}"),
		metric.WithDescription("HTTP/2 streams that ended, by how: completed, reset, cut (open at the close), dropped (above the server's GOAWAY), refused (over the stream limit)."))
	add(err)
	m.pingRTT, err = meter.Float64Histogram(namePingRTT, metric.WithUnit("s"),
		metric.WithDescription("Round trip of the last acknowledged PING on a connection, recorded when it closes."),
		metric.WithExplicitBucketBoundaries(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1))
	add(err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	set := func(kv ...attribute.KeyValue) attribute.Set { return attribute.NewSet(append(kv, protocol...)...) }
	for i, st := range []lifecycle.State{lifecycle.StateActive, lifecycle.StateDraining, lifecycle.StateClosing} {
		m.byState[i] = []metric.AddOption{metric.WithAttributeSet(set(keyState.String(st.String())))}
	}
	for e := range m.byEnd {
		m.byEnd[e] = []metric.AddOption{metric.WithAttributeSet(set(keyStreamEnd.String(lifecycle.StreamEnd(e).String())))}
	}
	plain := metric.WithAttributeSet(set())
	m.plain, m.plainRecord = []metric.AddOption{plain}, []metric.RecordOption{plain}
	return m, nil
}

// ConnOpened counts a connection that came under supervision.
func (m *Metrics) ConnOpened() {
	m.activeConns.Add(context.Background(), 1, m.byState[lifecycle.StateActive]...)
}

// ConnStateChanged moves a connection between states.
func (m *Metrics) ConnStateChanged(from, to lifecycle.State) {
	ctx := context.Background()
	if int(from) < len(m.byState) {
		m.activeConns.Add(ctx, -1, m.byState[from]...)
	}
	if int(to) < len(m.byState) {
		m.activeConns.Add(ctx, 1, m.byState[to]...)
	}
}

// StreamOpened counts a stream the server took in.
func (m *Metrics) StreamOpened() {
	m.activeStreams.Add(context.Background(), 1, m.plain...)
}

// StreamClosed counts how a stream ended.
func (m *Metrics) StreamClosed(end lifecycle.StreamEnd) {
	ctx := context.Background()
	if end != lifecycle.EndRefused { // a refused stream was never open
		m.activeStreams.Add(ctx, -1, m.plain...)
	}
	if int(end) < len(m.byEnd) {
		m.streams.Add(ctx, 1, m.byEnd[end]...)
	}
}

// ConnClosed records a closed connection from its final report. It runs
// once per connection: its attribute set is made here.
func (m *Metrics) ConnClosed(r *lifecycle.Report) {
	if r == nil {
		return
	}
	ctx := context.Background()
	reason := string(r.Reason)
	if reason == "" {
		reason = "unknown"
	}
	kv := append([]attribute.KeyValue{keyReason.String(reason)}, protocol...)
	if r.Aborted || r.Reason == lifecycle.ReasonKeepaliveTimeout {
		kv = append(kv, keyErrorType.String(reason))
	}
	opt := metric.WithAttributeSet(attribute.NewSet(kv...))
	m.connDuration.Record(ctx, r.Age.Seconds(), opt)
	if r.RTT > 0 {
		m.pingRTT.Record(ctx, r.RTT.Seconds(), m.plainRecord...)
	}
	tl := &r.Timeline
	if r.Drained && !tl.Start.IsZero() && !tl.Closed.IsZero() {
		m.drainDuration.Record(ctx, max(tl.Closed.Sub(tl.Start), 0).Seconds(),
			metric.WithAttributeSet(attribute.NewSet(append([]attribute.KeyValue{keyReason.String(reason)}, protocol...)...)))
	}
}
