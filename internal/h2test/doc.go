// Package h2test is a kit for HTTP/2 wire tests: a raw-frame client and an
// in-memory network that works inside testing/synctest bubbles.
//
// The project relies on exact wire behaviour of golang.org/x/net/http2 and
// net/http (which frames the server writes, when, and in which order), so
// its tests talk to servers frame by frame instead of through an
// http.Transport, which would hide exactly the details under test.
//
// # Client
//
// A [Client] wraps a net.Conn with an http2.Framer and an HPACK encoder and
// decoder kept in sync with the server (RFC 9113 §4.3: one compression
// context per direction for the whole connection). Write helpers encode
// frames; read helpers apply a deadline to every read so a test never hangs,
// acknowledge the server's SETTINGS and PINGs as a real peer must (RFC 9113
// §6.5.3, §6.7), and fail the test with the last frames seen when something
// does not arrive. Frames returned by read helpers are only valid until the
// next read, as with Framer.ReadFrame.
//
// Methods that fail the test call testing.TB.Fatalf and so must be called
// from the test's goroutine. Writes may be issued from several goroutines;
// reads must come from one goroutine at a time.
//
// # In-memory network
//
// [Pipe] returns a full-duplex, buffered connection pair, and [Listener] a
// net.Listener whose [Listener.Dial] hands the other end to Accept, so a
// net/http Server can Serve it. Unlike net.Pipe, writes do not wait for
// the reader (the buffer is unbounded, as if the TCP window were infinite)
// unless [PipeConn.SetWriteLimit] simulates a full window. Deadlines are
// timers, so inside a synctest bubble they follow the fake clock, and every
// wait is a channel operation, so goroutines blocked on the network are
// durably blocked and the bubble's time can advance.
//
// Create pipes, listeners and clients inside the bubble that uses them: their
// channels and timers belong to the bubble that created them.
package h2test
