//go:build go1.27 && !http2legacy

package conformance

// Go 1.27: x/net's ServeConn and ConfigureServer delegate to net/http's
// internal HTTP/2 server (x/net server_wrap.go).

const toolchainName = "Go 1.27 (x/net delegates to net/http)"

// chosenWiring is the wiring h2lifecycle uses: net/http's own HTTP/2 server
// on the throwaway, through the hook x/net's ConfigureServer uses, without
// x/net's per-connection ServeConn wrapper (package h2hook; about 1 KB a
// connection). Through x/net it would be BaseConfig nil, because a non-nil
// BaseConfig makes ServeConn serve the connection on a one-off copy of it,
// which the throwaway's Shutdown cannot reach.
const chosenWiring = netHTTPHook

var wirings = []wiring{baseConfigNil, baseConfigThrowaway, netHTTPHook}

var handleWorks = map[wiring]bool{baseConfigNil: true, baseConfigThrowaway: false, netHTTPHook: true}

// Every path ends in an http.Server whose ConnState is the throwaway's
// (ConfigureServer's own, or the one-off copy, which copies ConnState).
var connStateWorks = map[wiring]bool{baseConfigNil: true, baseConfigThrowaway: true, netHTTPHook: true}

var httpServerHTTP2Seen = map[wiring]bool{baseConfigNil: true, baseConfigThrowaway: true, netHTTPHook: true}

// tlsOnlyForHTTPS: net/http's internal server sets Request.TLS whenever the
// conn has a ConnectionState, whatever the :scheme.
const tlsOnlyForHTTPS = false

// keepAlivesFlagHonoured: the internal server asks the http.Server
// (DoKeepAlives), so a throwaway with keep-alives off, or shutting down,
// starts a graceful GOAWAY whenever its stream count drops to zero.
const keepAlivesFlagHonoured = true

// serverContextIs: x/net's wrapper puts opts.BaseConfig, or a fresh
// http.Server when it is nil, under http.ServerContextKey; net/http's own
// server adds nothing to the context it is given.
var serverContextIs = map[wiring]serverContext{baseConfigNil: freshServer, baseConfigThrowaway: throwawayServer, netHTTPHook: contextServer}
