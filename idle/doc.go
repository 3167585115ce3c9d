// Package idle holds the connection policy of a supervised HTTP/2 server:
// when a connection has lived long enough and must end, always through the
// same two-phase drain.
//
// A [Policy] is a plain struct whose zero value is safe. Each limit names the
// reason a connection is drained for, in logs and metrics ("idle", ...).
package idle
