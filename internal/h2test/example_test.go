package h2test_test

import (
	"fmt"
	"io"
	"net/http"

	"github.com/h2lifecycle/h2lifecycle/internal/h2test"
)

// A net/http server and client talking over the in-memory network.
func ExampleListener() {
	l := h2test.NewListener()
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s over %s", r.Host, r.Proto)
	})}
	go hs.Serve(l)
	defer hs.Close()

	tr := &http.Transport{DialContext: l.DialContext}
	defer tr.CloseIdleConnections()
	res, err := (&http.Client{Transport: tr}).Get("http://" + l.Addr().String() + "/")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	fmt.Println(string(body))
	// Output: hello from 127.0.0.1:8443 over HTTP/1.1
}
