//go:build go1.27

package server_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/h2lifecycle/h2lifecycle/internal/h2test"
	"github.com/h2lifecycle/h2lifecycle/server"
)

// TestMaxHeaderValueCount: Go 1.27's http.Server.MaxHeaderValueCount limits
// supervised HTTP/2 requests as it does the stock server's (431 over it).
func TestMaxHeaderValueCount(t *testing.T) {
	for _, limit := range []int{0, 5} { // 0: the default (500)
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			hs := &http.Server{Protocols: h2cProtocols(), MaxHeaderValueCount: limit, Handler: http.HandlerFunc(okBenchHandler)}
			_, addr := serve(t, hs, server.Config{})
			c := h2test.Dial(t, addr)
			c.Handshake()
			var fields []string
			for i := range 20 {
				fields = append(fields, fmt.Sprintf("x-h%d", i), "v")
			}
			c.WriteHeaders(1, true, fields...)
			want := map[int]string{0: "200", 5: "431"}[limit]
			if res := c.ExpectResponse(1); res.Status != want {
				t.Errorf("20 header fields, MaxHeaderValueCount %d: status %s, want %s", limit, res.Status, want)
			}
		})
	}
}
