// Package conformance pins the behaviours of golang.org/x/net/http2 and
// net/http that h2lifecycle relies on. It contains only tests.
//
// The supervisor leans on implementation details, several of them
// deprecated: a throwaway http.Server carrying the user's settings, a client
// GOAWAY draining one connection of a shared server, the exact frames x/net writes around GOAWAY, how it reads and buffers the
// wire, and how net/http hands connections to TLSNextProto hooks. None of
// this is a compatibility promise, and Go 1.27 moved x/net's server onto
// net/http's internal HTTP/2 (x/net's server_wrap.go). So every fact gets a
// test here, run on both toolchains: a Go or x/net upgrade that breaks one of
// these fails loudly, with a message naming what h2lifecycle would break,
// instead of losing requests quietly in production.
//
// Where the toolchains differ, the expectation is a build-tagged constant in
// toolchain_*_test.go, mirroring x/net's own build constraint
// (go1.27 && !http2legacy selects the net/http-backed server).
//
// The tests talk to stock servers frame by frame with the h2test client,
// over in-memory pipes inside testing/synctest bubbles where timing matters
// and over real 127.0.0.1 sockets for the net/http plumbing.
package conformance
