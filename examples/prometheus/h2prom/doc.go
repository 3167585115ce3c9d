// Package h2prom exports the life of h2lifecycle's supervised HTTP/2
// connections as Prometheus metrics, named after Envoy's downstream
// connection statistics so that dashboards and alerts written for an Envoy
// front proxy read the same here.
//
// [Metrics] implements lifecycle.LiveMetrics: hand it to server.WithMetrics
// and register it with a prometheus.Registerer. The core tells it of every
// stream as it opens and ends and of every connection as it changes state,
// so the stream counters and the gauges are live; what a connection's final
// lifecycle.Report says (why it ended, how long it and its drain lasted)
// is counted when it closes.
//
// The metrics and the Envoy statistics they mirror (Envoy's HTTP connection
// manager statistics):
//
//	h2lifecycle_downstream_cx_total                        downstream_cx_total, downstream_cx_http2_total
//	h2lifecycle_downstream_cx_active                       downstream_cx_active
//	h2lifecycle_downstream_cx_by_state{state}              none: cx_active by state (active, draining, closing)
//	h2lifecycle_downstream_cx_destroy_total{reason}        downstream_cx_destroy (Envoy splits it local/remote; the reason says which)
//	h2lifecycle_downstream_cx_drained_total{reason}        downstream_cx_drain_close (shutdown), downstream_cx_idle_timeout (idle),
//	                                                       downstream_cx_max_duration_reached (max_age),
//	                                                       downstream_cx_max_requests_reached (max_streams)
//	h2lifecycle_downstream_cx_destroy_active_rq_total      downstream_cx_destroy_active_rq (= _local_active_rq + _remote_active_rq)
//	h2lifecycle_downstream_cx_length_seconds               downstream_cx_length_ms (in seconds, Prometheus' base unit)
//	h2lifecycle_downstream_cx_drain_duration_seconds       none: Envoy does not time its drains
//	h2lifecycle_downstream_cx_drain_phase_seconds{phase}   none
//	h2lifecycle_downstream_cx_ping_rtt_seconds             none
//	h2lifecycle_downstream_cx_ping_timeout_total           none (http2.keepalive_timeout is reason="keepalive_timeout" here)
//	h2lifecycle_downstream_cx_grace_expired_total          none: Envoy's drain_timeout expiry is not counted
//	h2lifecycle_downstream_rq_total                        downstream_rq_total, downstream_rq_http2_total (as each stream opens)
//	h2lifecycle_downstream_rq_active                       downstream_rq_active
//	h2lifecycle_downstream_rq_completed_total              downstream_rq_completed (as each stream ends)
//	h2lifecycle_downstream_rq_reset_total                  downstream_rq_rx_reset + downstream_rq_tx_reset (as each stream ends)
//	h2lifecycle_downstream_rq_cut_total                    none: streams still open when their connection closed
//	h2lifecycle_downstream_cx_unsupervised_total           none: HTTP/2 connections a misconfigured server did not supervise (alert on any)
//	h2lifecycle_downstream_rq_refused_total                none: streams not processed, safe to retry (over the stream limit, or above the server's GOAWAY)
//
// The reason label takes the fixed strings of package lifecycle (idle,
// max_age, max_streams, header_timeout, keepalive_timeout, too_many_pings,
// shutdown, requested, peer_goaway, server_goaway, protocol_error,
// peer_closed), so its cardinality is bounded. cx_destroy_total exports
// every one from the start at zero, so that rate() and alerts see a series
// before its first event; cx_drained_total exports only those a drain can
// have (idle, max_age, max_streams, shutdown, requested, server_goaway): a
// client's own GOAWAY is a client close (cx_destroy_total{reason="peer_goaway"}),
// not a drain.
//
// Two series deserve alerts: h2lifecycle_downstream_rq_cut_total (requests
// lost to a close: the grace is too short for the slowest stream, or the
// process is killed mid-drain) and h2lifecycle_downstream_cx_ping_timeout_total
// (clients that did not answer the drain's PING in time: the final GOAWAY
// went out blind, and a request crossing it may have been refused).
package h2prom
