//go:build !go1.27

package server

import "net/http"

// baseConfig is what ServeConnOpts.BaseConfig must be for the per-connection
// shutdown handle and the ConnState callbacks to work. On Go 1.26 x/net
// serves the connection itself and reads its settings (ConnState among them)
// from BaseConfig; the handle works either way (DESIGN §3, pinned by
// internal/conformance).
func baseConfig(throwaway *http.Server) *http.Server { return throwaway }

// copyVersionSettings copies the http.Server settings that only some Go
// versions have. Go 1.26 has none that HTTP/2 reads.
func copyVersionSettings(dst, src *http.Server) {}

// trimHandle drops what ConfigureServer gave the throwaway for listeners it
// will never have (the user's server did the handshake): a TLS config and
// the ALPN table, about 800 bytes a connection (bench/memory).
func trimHandle(t *http.Server) { t.TLSConfig, t.TLSNextProto = nil, nil }
