// Package h2lifecycle makes the HTTP/2 connections of Go servers end cleanly.
//
// A Go service loses requests whenever an HTTP/2 connection ends — on deploys,
// idle timeouts, age limits — because the server sends one GOAWAY and closes
// while a client's next request is already on the wire. h2lifecycle puts a
// supervisor in front of every connection of the unmodified
// golang.org/x/net/http2 server that ends each connection with the two-phase
// GOAWAY of RFC 9113 §6.8 and enforces connection policy the same clean way.
//
// Start with package server:
//
//	h2, err := server.Wrap(srv, server.Config{})
//
// The packages:
//
//   - server: wraps a net/http http.Server; Drain, Shutdown, Close, snapshots.
//   - lifecycle: the frame tap and the per-connection supervisor.
//   - drain: the two-phase drain as a pure state machine, and its settings.
//   - idle: the connection policy.
//   - ping: PING data, outstanding pings and the RTT estimate.
//
// This package holds no code: only the module's end-to-end tests.
package h2lifecycle
