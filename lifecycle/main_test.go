package lifecycle

import (
	"net/http"
	"testing"

	"go.uber.org/goleak"
	"golang.org/x/net/http2"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newH2Server is an x/net HTTP/2 server configured as h2lifecycle's are,
// through ConfigureServer. The tests of this package serve with it, not with
// a bare &http2.Server{}: an unconfigured server takes its handlers' reply
// channels from a pool global to the process, so a channel made in one
// synctest bubble can reach another test, and the runtime stops with
// "select on synctest channel from outside bubble" (seen in CI on
// 2026-12-05, with a change that has not landed).
func newH2Server(t testing.TB) *http2.Server {
	t.Helper()
	h2 := &http2.Server{}
	if err := http2.ConfigureServer(&http.Server{}, h2); err != nil {
		t.Fatal(err)
	}
	return h2
}
