//go:build go1.27

package server

import "net/http"

// baseConfig is what ServeConnOpts.BaseConfig must be for the per-connection
// shutdown handle and the ConnState callbacks to work. On Go 1.27 x/net
// delegates to net/http's internal HTTP/2 server; a non-nil BaseConfig makes
// it serve the connection on a one-off copy of that http.Server, which the
// throwaway's Shutdown does not reach. Nil serves it on the throwaway itself,
// whose settings and ConnState apply (DESIGN §3, pinned by
// internal/conformance).
func baseConfig(*http.Server) *http.Server { return nil }

// copyVersionSettings copies the http.Server settings that only some Go
// versions have.
func copyVersionSettings(dst, src *http.Server) {
	dst.DisableClientPriority = src.DisableClientPriority
}

// trimHandle drops the TLS config ConfigureServer gave the throwaway for
// listeners it will never have. Its ALPN table stays: without its "h2" entry
// net/http configures HTTP/2 on the throwaway a second time when the
// connection starts (bench/memory measured 875 bytes a connection more).
func trimHandle(t *http.Server) { t.TLSConfig = nil }
