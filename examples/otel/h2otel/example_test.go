package h2otel_test

import (
	"context"
	"fmt"
	"net/http"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/h2lifecycle/h2lifecycle/examples/otel/h2otel"
	"github.com/h2lifecycle/h2lifecycle/server"
)

// The metrics take a Meter from the program's MeterProvider (here the SDK's
// with a ManualReader; in production, with the exporter of its choice) and
// go to the supervised server through server.WithMetrics.
func ExampleNew() {
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer provider.Shutdown(context.Background())

	metrics, err := h2otel.New(provider.Meter("github.com/h2lifecycle/h2lifecycle/examples/otel/h2otel"))
	if err != nil {
		fmt.Println(err)
		return
	}
	srv := &http.Server{Addr: "127.0.0.1:8080", Handler: http.NotFoundHandler()}
	if _, err := server.Wrap(srv, server.Config{}, server.WithMetrics(metrics)); err != nil {
		fmt.Println(err)
		return
	}
	// go srv.ListenAndServe()

	metrics.ConnOpened() // what the server does for each HTTP/2 connection
	var rm metricdata.ResourceMetrics
	reader.Collect(context.Background(), &rm)
	for _, m := range rm.ScopeMetrics[0].Metrics {
		fmt.Println(m.Name, m.Unit)
	}
	// Output: h2lifecycle.active_connections {connection}
}
