//go:build go1.27 && !http2legacy

package conformance

// Go 1.27: x/net's ServeConn and ConfigureServer delegate to net/http's
// internal HTTP/2 server (x/net server_wrap.go).

const toolchainName = "Go 1.27 (x/net delegates to net/http)"

// baseConfigIsThrowaway is the wiring h2lifecycle uses: BaseConfig nil,
// because a non-nil BaseConfig makes ServeConn serve the connection on a
// one-off copy of it, which the throwaway's Shutdown cannot reach.
const baseConfigIsThrowaway = false

var handleWorks = map[wiring]bool{baseConfigNil: true, baseConfigThrowaway: false}

// Both paths end in an http.Server whose ConnState is the throwaway's
// (ConfigureServer's own, or the one-off copy, which copies ConnState).
var connStateWorks = map[wiring]bool{baseConfigNil: true, baseConfigThrowaway: true}

var httpServerHTTP2Seen = map[wiring]bool{baseConfigNil: true, baseConfigThrowaway: true}

// tlsOnlyForHTTPS: net/http's internal server sets Request.TLS whenever the
// conn has a ConnectionState, whatever the :scheme.
const tlsOnlyForHTTPS = false

// keepAlivesFlagHonoured: the internal server asks the http.Server
// (DoKeepAlives), so a throwaway with keep-alives off, or shutting down,
// starts a graceful GOAWAY whenever its stream count drops to zero.
const keepAlivesFlagHonoured = true

// serverContextIsThrowaway: x/net's wrapper puts opts.BaseConfig, or a fresh
// http.Server when it is nil, under http.ServerContextKey.
const serverContextIsThrowaway = false
