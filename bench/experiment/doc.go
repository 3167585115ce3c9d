// Package experiment measures what HTTP/2 clients lose when a server ends
// its connections, on loopback, for the stock golang.org/x/net/http2 server
// and for the same server supervised by h2lifecycle.
//
// Two races are measured, each with real sockets and a real client (x/net's
// http2.Transport, net/http's own on Go 1.27), never with canned numbers:
//
//   - The drain race: the server shuts down while the load runs. A request
//     whose HEADERS cross the server's GOAWAY on the wire was never
//     processed; the client replays it if it can (a GET), and fails it if
//     its body cannot be replayed ("cannot retry ... after Request.Body was
//     written") or if the server closes the connection under it.
//   - The idle race: the server closes connections idle for T while the
//     clients pause about T between requests, so that some requests leave
//     just as the idle close does.
//
// Half the load (by default) is POSTs whose bodies cannot be replayed: the
// body is a plain io.Reader of our own type, so net/http sets no GetBody and
// the client cannot retry them. That is the case that makes the race
// visible; GETs are replayed silently and hide it.
//
// What counts as a failure is decided in one place, [Counts]: every request
// that did not get its 200 "ok" is a failure, classified by the family of
// its error, except the requests that fail only because a shutdown closed
// the listener (see [Counts.ListenerClosed]): a client of a server that is
// going away cannot open new connections to it, and no server can help that.
//
// Everything runs on 127.0.0.1, every loop is bounded in count and in time,
// and every run creates its servers and transports afresh, so runs do not
// influence each other through pooled connections.
//
// A [Recorder] wraps connections and decodes the frames crossing them, for
// the demo's account of what happened on the wire and for counting the
// streams that crossed a GOAWAY.
package experiment
