//go:build !go1.27

package conformance

import (
	"errors"
	"net"
	"net/http"

	"golang.org/x/net/http2"
)

// registerHook: net/http's HTTP/2 server hook is Go 1.27's; no wiring uses
// it here.
func registerHook(*http.Server, *http2.Server) (func(net.Conn, *http2.ServeConnOpts), error) {
	return nil, errors.New("net/http has no HTTP/2 server hook before Go 1.27")
}
