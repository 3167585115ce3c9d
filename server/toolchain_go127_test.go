//go:build go1.27

package server_test

// handlersSeeUserServer: net/http's own HTTP/2 server keeps the connection's
// context from net/http, which holds the user's server.
const handlersSeeUserServer = true
