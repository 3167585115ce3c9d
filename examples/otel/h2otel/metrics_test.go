package h2otel

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/goleak"

	"github.com/h2lifecycle/h2lifecycle/drain"
	"github.com/h2lifecycle/h2lifecycle/lifecycle"
	"github.com/h2lifecycle/h2lifecycle/server"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// collect reads every metric through the ManualReader, by name.
func collect(t *testing.T, r *sdkmetric.ManualReader) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

// sums returns an Int64 sum's points by the value of key.
func sums(t *testing.T, m metricdata.Metrics, key attribute.Key) map[string]int64 {
	t.Helper()
	s, ok := m.Data.(metricdata.Sum[int64])
	if !ok {
		t.Fatalf("%s: %T, want an int64 sum", m.Name, m.Data)
	}
	out := map[string]int64{}
	for _, dp := range s.DataPoints {
		v, _ := dp.Attributes.Value(key)
		out[v.AsString()] += dp.Value
		if p, _ := dp.Attributes.Value("network.protocol.version"); p.AsString() != "2" {
			t.Errorf("%s: a point without network.protocol.version=2: %v", m.Name, dp.Attributes)
		}
	}
	return out
}

// histCounts returns a float64 histogram's counts by the value of key.
func histCounts(t *testing.T, m metricdata.Metrics, key attribute.Key) map[string]uint64 {
	t.Helper()
	h, ok := m.Data.(metricdata.Histogram[float64])
	if !ok {
		t.Fatalf("%s: %T, want a float64 histogram", m.Name, m.Data)
	}
	out := map[string]uint64{}
	for _, dp := range h.DataPoints {
		v, _ := dp.Attributes.Value(key)
		out[v.AsString()] += dp.Count
	}
	return out
}

// TestThroughManualReader drives real HTTP/2 connections through a server
// wrapped with these metrics — requests on a connection that stays open, a
// stream running into a shutdown's grace deadline — and reads the
// instruments back with the SDK's ManualReader, live and after the close.
func TestThroughManualReader(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer provider.Shutdown(context.Background())
	m, err := New(provider.Meter("github.com/h2lifecycle/h2lifecycle/examples/otel/h2otel"))
	if err != nil {
		t.Fatal(err)
	}

	started := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done() // until the grace deadline resets the stream
	})
	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true)
	hs := &http.Server{Handler: mux, Protocols: &protocols}
	h2, err := server.Wrap(hs, server.Config{}, server.WithMetrics(m))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()
	url := "http://" + ln.Addr().String()
	client := func() *http.Client {
		var p http.Protocols
		p.SetUnencryptedHTTP2(true)
		return &http.Client{Transport: &http.Transport{Protocols: &p}, Timeout: 10 * time.Second}
	}
	fast, slow := client(), client()
	defer fast.CloseIdleConnections()
	defer slow.CloseIdleConnections()
	for range 3 {
		resp, err := fast.Get(url + "/")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	slowErr := make(chan error, 1)
	go func() {
		resp, err := slow.Get(url + "/slow")
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		slowErr <- err
	}()
	<-started

	// Live, with both connections open.
	got := collect(t, reader)
	if c := sums(t, got[nameActiveConnections], keyState); c["active"] != 2 || c["draining"] != 0 || c["closing"] != 0 {
		t.Errorf("%s while serving: %v", nameActiveConnections, c)
	}
	if s := sums(t, got[nameActiveStreams], keyStreamEnd); s[""] != 1 {
		t.Errorf("%s while serving: %v, want 1", nameActiveStreams, s)
	}
	if s := sums(t, got[nameStreams], keyStreamEnd); s["completed"] != 3 {
		t.Errorf("%s while serving: %v, want 3 completed", nameStreams, s)
	}
	if _, ok := got[nameConnDuration]; ok {
		t.Errorf("%s before any connection closed", nameConnDuration)
	}

	rep, err := h2.RunShutdown(context.Background(), server.ShutdownPlan{Grace: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-slowErr; err == nil {
		t.Error("the slow request succeeded; it should have been cut at the grace deadline")
	}
	if err := <-serveErr; !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve: %v", err)
	}
	if rep.Connections != 2 || rep.StreamsCut != 1 {
		t.Fatalf("shutdown report %+v", rep)
	}

	got = collect(t, reader)
	if c := sums(t, got[nameActiveConnections], keyState); c["active"] != 0 || c["draining"] != 0 || c["closing"] != 0 {
		t.Errorf("%s after the shutdown: %v, want all 0", nameActiveConnections, c)
	}
	if s := sums(t, got[nameActiveStreams], keyStreamEnd); s[""] != 0 {
		t.Errorf("%s after the shutdown: %v", nameActiveStreams, s)
	}
	if s := sums(t, got[nameStreams], keyStreamEnd); s["completed"] != 3 || s["cut"] != 1 || len(s) != 2 {
		t.Errorf("%s after the shutdown: %v, want 3 completed, 1 cut", nameStreams, s)
	}
	if d := histCounts(t, got[nameConnDuration], keyReason); d["shutdown"] != 2 {
		t.Errorf("%s: %v, want 2 shutdown", nameConnDuration, d)
	}
	if d := histCounts(t, got[nameDrainDuration], keyReason); d["shutdown"] != 2 {
		t.Errorf("%s: %v", nameDrainDuration, d)
	}
	if d := histCounts(t, got[namePingRTT], keyReason); d[""] < 1 {
		t.Errorf("%s: %v", namePingRTT, d)
	}
	for name, unit := range map[string]string{nameActiveConnections: "{connection}", nameConnDuration: "s",
		nameDrainDuration: "s", nameActiveStreams: "{stream}", nameStreams: "{stream}", namePingRTT: "s"} {
		if got[name].Unit != unit || got[name].Description == "" {
			t.Errorf("%s: unit %q, description %q", name, got[name].Unit, got[name].Description)
		}
	}
}

// TestErrorType: a connection an error ended carries error.type; a drained
// one and one the client closed do not; a client's GOAWAY is no drain.
func TestErrorType(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer provider.Shutdown(context.Background())
	m, err := New(provider.Meter("test"))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, r := range []lifecycle.Report{
		{Reason: lifecycle.ReasonError, Aborted: true, Age: time.Second},
		{Reason: lifecycle.ReasonKeepaliveTimeout, Age: time.Second},
		{Reason: lifecycle.ReasonIdle, Drained: true, Age: time.Minute, Timeline: lifecycleTimeline(t0)},
		{Reason: lifecycle.ReasonPeer, Age: time.Second, Timeline: lifecycleTimeline(t0)},
	} {
		m.ConnClosed(&r)
	}
	got := collect(t, reader)
	if e := histCounts(t, got[nameConnDuration], keyErrorType); e["protocol_error"] != 1 || e["keepalive_timeout"] != 1 || e[""] != 2 {
		t.Errorf("error.type: %v", e)
	}
	if d := histCounts(t, got[nameDrainDuration], keyReason); d["idle"] != 1 || len(d) != 1 {
		t.Errorf("%s: %v, want the idle drain only", nameDrainDuration, d)
	}
	if _, err := New(nil); err == nil {
		t.Error("New(nil) did not fail")
	}
}

func lifecycleTimeline(t0 time.Time) (tl drain.Timeline) {
	tl.Start, tl.Closed = t0, t0.Add(25*time.Millisecond)
	return tl
}

// BenchmarkStream is a stream's start and end through the SDK: the
// attribute sets are made once, in New.
func BenchmarkStream(b *testing.B) {
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer provider.Shutdown(context.Background())
	m, err := New(provider.Meter("bench"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		m.StreamOpened()
		m.StreamClosed(lifecycle.EndCompleted)
	}
}
