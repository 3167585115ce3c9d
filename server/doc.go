// Package server supervises every HTTP/2 connection of a net/http
// http.Server, so that connections end with the two-phase GOAWAY drain
// (package drain) instead of the single racy GOAWAY of the stock server.
//
// The program keeps its own http.Server — listeners, TLS, HTTP/1.1, h2c
// through Protocols — and wraps it once:
//
//	srv := &http.Server{Addr: ":8443", Handler: mux}
//	h2, err := server.Wrap(srv, server.Config{})
//	if err != nil { ... }
//	go srv.ListenAndServeTLS(certFile, keyFile)
//	...
//	srv.Shutdown(ctx) // or h2.Shutdown(ctx): every HTTP/2 connection drains cleanly
//
// Wrap installs the HTTP/2 server for TLS ("h2") and for h2c with prior
// knowledge ("unencrypted_http2", when Protocols allows it) in the server's
// TLSNextProto map and registers a shutdown hook. Each HTTP/2 connection is
// then served by the full golang.org/x/net/http2 server (net/http's own on
// Go 1.27), one per http.Server as with the stock wiring, through a frame
// tap that ends each connection's drain on its own. The user's
// settings keep working: ReadTimeout and WriteTimeout per stream,
// MaxHeaderBytes, HTTP2, ErrorLog, ConnState, ConnContext and BaseContext;
// handlers see r.TLS. IdleTimeout becomes the supervisor's clean idle drain.
// HTTP/1.1 connections are not touched.
package server
