// Package lifecycle supervises HTTP/2 connections so that they end cleanly.
//
// A [Supervisor] sits in front of one connection served by an unmodified
// HTTP/2 server (golang.org/x/net/http2, or net/http's own on Go 1.27). The
// server is handed the connection [Supervisor.Conn] returns, a frame tap: it
// follows the frame boundaries of both directions byte for byte, whatever
// the chunking, and reports the events that matter — streams opening and
// ending, PING ACKs, GOAWAYs from either side — to the supervisor, changing
// only the few bytes its documentation lists (tap.go).
//
// When the connection must end (the server shuts down, the connection has
// been idle too long, ...), the supervisor drains it in two phases (package
// drain): the tap inserts GOAWAY(2^31-1)+PING between two of the server's
// frames, at a point where that is legal; when the PING ACK comes back (or a
// timeout passes) the server is asked, by a client GOAWAY the tap gives it
// between two of the client's frames (or Config.GoAway), to send GOAWAY with
// the last stream it really processed; the streams in flight
// finish, up to a grace deadline; then the supervisor shuts its side down
// without resetting the peer, waits briefly for the peer's FIN, and closes.
//
// Handlers of long-lived streams learn that their connection began to end
// from [DrainNotice](r.Context()), a channel closed with phase 1 of the
// drain, and can finish cleanly before the grace deadline cuts them.
//
// Most programs never use this package directly: package server wires it
// into a net/http http.Server.
package lifecycle
