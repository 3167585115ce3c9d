package h2prom_test

import (
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/h2lifecycle/h2lifecycle/examples/prometheus/h2prom"
	"github.com/h2lifecycle/h2lifecycle/server"
)

// The metrics go to the supervised server through server.WithMetrics and to
// a registry, which /metrics serves.
func ExampleNew() {
	metrics := h2prom.New(h2prom.Options{})
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics)

	srv := &http.Server{Addr: "127.0.0.1:8080", Handler: http.NotFoundHandler()}
	if _, err := server.Wrap(srv, server.Config{}, server.WithMetrics(metrics)); err != nil {
		fmt.Println(err)
		return
	}
	admin := http.NewServeMux()
	admin.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	// go srv.ListenAndServe(); go http.ListenAndServe("127.0.0.1:9090", admin)

	// Every reason a connection can end for is exported at zero before the
	// first connection ends, and every reason a drain can have.
	fmt.Println(testutil.CollectAndCount(metrics, "h2lifecycle_downstream_cx_destroy_total"), "reasons,",
		testutil.CollectAndCount(metrics, "h2lifecycle_downstream_cx_drained_total"), "of them for drains")
	// Output: 12 reasons, 6 of them for drains
}
