// Package h2otel records the life of h2lifecycle's supervised HTTP/2
// connections as OpenTelemetry metrics, through the go.opentelemetry.io/otel/metric
// API only: the program chooses the SDK and the exporter (a metric.Meter
// from any MeterProvider, the no-op one included).
//
// [Metrics] implements lifecycle.LiveMetrics: hand it to server.WithMetrics.
// Streams and connection states are recorded as they happen; a
// connection's duration, drain and PING round trip when it closes.
//
// The instruments, and the semantic convention each follows or the closest
// one where none fits:
//
//	h2lifecycle.active_connections  UpDownCounter {connection}  h2lifecycle.connection.state = active | draining | closing
//	                                 like kestrel.active_connections (which has no state: the sum here)
//	h2lifecycle.connection.duration Histogram s                 h2lifecycle.connection.end_reason; error.type when an error ended it
//	                                 like kestrel.connection.duration (which sets error.type the same way)
//	h2lifecycle.drain.duration      Histogram s                 h2lifecycle.connection.end_reason; drained connections only
//	                                 no convention: the two-phase GOAWAY drain is h2lifecycle's
//	h2lifecycle.active_streams      UpDownCounter {stream}      closest: http.server.active_requests, whose required
//	                                 http.request.method and url.scheme the connection does not see
//	h2lifecycle.streams             Counter {stream}            h2lifecycle.stream.end = completed | reset | cut | dropped | refused
//	                                 no convention: http.server.request.duration needs the request's method and status
//	h2lifecycle.ping.rtt            Histogram s                 no convention
//
// Every measurement also carries network.protocol.name = "http" and
// network.protocol.version = "2". The attribute values are fixed strings
// (lifecycle.Reason, lifecycle.State, lifecycle.StreamEnd), so the
// cardinality is bounded. error.type takes the reason of a connection
// ended by an error: protocol_error, too_many_pings, header_timeout
// (aborts) and keepalive_timeout.
//
// The options of the per-stream and per-state measurements are made once,
// in New: a stream's start and end allocate nothing, with the SDK's
// aggregation included (BenchmarkStream: 0 allocations).
package h2otel
