//go:debug http2server=0

// Command godebugoff wraps an http.Server in a binary whose default
// GODEBUG turns the HTTP/2 server off, and prints Wrap's error
// (TestWrapRespectsGoDebugDirective).
package main

import (
	"fmt"
	"net/http"

	"github.com/h2lifecycle/h2lifecycle/server"
)

func main() {
	_, err := server.Wrap(&http.Server{}, server.Config{})
	fmt.Println(err)
}
