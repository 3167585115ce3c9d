//go:build !(go1.27 && !http2legacy)

package conformance

// Go 1.26 and older, or -tags http2legacy: x/net's classic server.go.

const toolchainName = "Go 1.26 (classic x/net server.go)"

// chosenWiring is the wiring h2lifecycle uses: ServeConnOpts.BaseConfig is
// the throwaway http.Server, the only way to get ConnState callbacks here.
const chosenWiring = baseConfigThrowaway

// wirings are the wirings this toolchain has (net/http's hook is Go 1.27's).
var wirings = []wiring{baseConfigNil, baseConfigThrowaway}

// handleWorks: does throwaway.Shutdown send GOAWAY on the connection?
// x/net registers the conn in the http2.Server's own state, whatever BaseConfig is.
var handleWorks = map[wiring]bool{baseConfigNil: true, baseConfigThrowaway: true}

// connStateWorks: does throwaway.ConnState see StateActive/StateIdle?
// x/net calls ConnState on BaseConfig, which defaults to a fresh http.Server.
var connStateWorks = map[wiring]bool{baseConfigNil: false, baseConfigThrowaway: true}

// httpServerHTTP2Seen: is throwaway.HTTP2 (http.HTTP2Config) applied?
// x/net merges BaseConfig.HTTP2, so only when BaseConfig is the throwaway.
var httpServerHTTP2Seen = map[wiring]bool{baseConfigNil: false, baseConfigThrowaway: true}

// tlsOnlyForHTTPS: x/net sets Request.TLS only for :scheme https.
const tlsOnlyForHTTPS = true

// keepAlivesFlagHonoured: x/net's h1ServerKeepAlivesDisabled asserts an
// unexported method across packages, which never matches, so
// SetKeepAlivesEnabled(false) on the throwaway has no effect on HTTP/2.
const keepAlivesFlagHonoured = false

// serverContextIs: what handlers find under http.ServerContextKey: x/net
// puts BaseConfig there, or a fresh http.Server when it is nil.
var serverContextIs = map[wiring]serverContext{baseConfigNil: freshServer, baseConfigThrowaway: throwawayServer}
