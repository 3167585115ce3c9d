package h2prom

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"
	"golang.org/x/net/http2"

	"github.com/h2lifecycle/h2lifecycle/drain"
	"github.com/h2lifecycle/h2lifecycle/lifecycle"
	"github.com/h2lifecycle/h2lifecycle/server"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// h2c returns a client that speaks HTTP/2 with prior knowledge over one
// connection.
func h2c() *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: &p}, Timeout: 10 * time.Second}
}

func get(t *testing.T, c *http.Client, url string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 || string(b) != "ok" {
		t.Fatalf("GET %s: %s %s %q", url, resp.Proto, resp.Status, b)
	}
}

// TestDrainThroughPrometheus drives two real HTTP/2 connections through a
// shutdown — one drains cleanly, one holds a stream past the grace deadline
// — and reads the metrics back through a registry.
func TestDrainThroughPrometheus(t *testing.T) {
	m := New(Options{})
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m)

	started := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done() // until the grace deadline resets the stream
	})
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	hs := &http.Server{Handler: mux, Protocols: &protocols}
	closed := make(chan lifecycle.Reason, 8)
	h2, err := server.Wrap(hs, server.Config{}, server.WithMetrics(notifying{m, closed}))
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

	fast, slow := h2c(), h2c()
	defer fast.CloseIdleConnections()
	defer slow.CloseIdleConnections()
	for range 3 {
		get(t, fast, url+"/")
	}
	get(t, slow, url+"/")
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
	// Live: the streams are counted while their connections are open.
	for _, c := range []struct {
		name string
		c    prometheus.Collector
		want float64
	}{
		{"cx_active", m.cxActive, 2},
		{`cx_by_state{state="active"}`, m.cxByState[lifecycle.StateActive], 2},
		{"rq_total", m.rqTotal, 5},
		{"rq_active", m.rqActive, 1},
		{"rq_completed_total", m.rqCompleted, 4},
	} {
		if got := testutil.ToFloat64(c.c); got != c.want {
			t.Errorf("with two connections open: %s = %v, want %v", c.name, got, c.want)
		}
	}

	// A third client leaves with its own GOAWAY: a client close, not a drain.
	clientGoAway(t, ln.Addr().String())
	select { // the server's side ends on its own schedule
	case r := <-closed:
		if r != lifecycle.ReasonPeer {
			t.Errorf("the client's GOAWAY: a connection closed for %q", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the client's GOAWAY did not end its connection within 10s")
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
	if rep.Connections != 2 || rep.GraceExpired != 1 || rep.StreamsCut != 1 {
		t.Fatalf("shutdown report %+v: want 2 connections, one cut at the grace deadline with one stream", rep)
	}
	if got := testutil.ToFloat64(m.cxDestroy.WithLabelValues(string(lifecycle.ReasonPeer))); got != 1 {
		t.Errorf(`cx_destroy_total{reason="peer_goaway"} = %v, want 1`, got)
	}
	if n := testutil.CollectAndCount(m.cxDrained); n != len(drainReasons) {
		t.Errorf("%d cx_drained_total series, want %d: a client's GOAWAY is no drain", n, len(drainReasons))
	}

	// Every deterministic value, names and help strings included.
	const want = `
# HELP h2lifecycle_downstream_cx_active HTTP/2 connections under supervision now (Envoy: downstream_cx_active).
# TYPE h2lifecycle_downstream_cx_active gauge
h2lifecycle_downstream_cx_active 0
# HELP h2lifecycle_downstream_cx_by_state HTTP/2 connections under supervision now, by state: active (serving), draining (a GOAWAY sent, streams finishing), closing (our FIN sent, waiting for the peer's); they sum to cx_active (Envoy has no such gauge).
# TYPE h2lifecycle_downstream_cx_by_state gauge
h2lifecycle_downstream_cx_by_state{state="active"} 0
h2lifecycle_downstream_cx_by_state{state="closing"} 0
h2lifecycle_downstream_cx_by_state{state="draining"} 0
# HELP h2lifecycle_downstream_cx_destroy_active_rq_total HTTP/2 connections closed with streams still open (Envoy: downstream_cx_destroy_active_rq, the sum of downstream_cx_destroy_local_active_rq and downstream_cx_destroy_remote_active_rq).
# TYPE h2lifecycle_downstream_cx_destroy_active_rq_total counter
h2lifecycle_downstream_cx_destroy_active_rq_total 1
# HELP h2lifecycle_downstream_cx_grace_expired_total Drains cut at the grace deadline, their open streams reset.
# TYPE h2lifecycle_downstream_cx_grace_expired_total counter
h2lifecycle_downstream_cx_grace_expired_total 1
# HELP h2lifecycle_downstream_cx_ping_timeout_total Drains whose final GOAWAY went out at the ping timeout, without the PING ACK.
# TYPE h2lifecycle_downstream_cx_ping_timeout_total counter
h2lifecycle_downstream_cx_ping_timeout_total 0
# HELP h2lifecycle_downstream_cx_total HTTP/2 connections that came under supervision (Envoy: downstream_cx_total).
# TYPE h2lifecycle_downstream_cx_total counter
h2lifecycle_downstream_cx_total 3
# HELP h2lifecycle_downstream_rq_active Streams open now on supervised connections (Envoy: downstream_rq_active).
# TYPE h2lifecycle_downstream_rq_active gauge
h2lifecycle_downstream_rq_active 0
# HELP h2lifecycle_downstream_rq_cut_total Streams still open when their connection closed: reset at the grace deadline, or lost with the connection.
# TYPE h2lifecycle_downstream_rq_cut_total counter
h2lifecycle_downstream_rq_cut_total 1
# HELP h2lifecycle_downstream_rq_total Streams the server took in on supervised connections, counted as each opens (Envoy: downstream_rq_total).
# TYPE h2lifecycle_downstream_rq_total counter
h2lifecycle_downstream_rq_total 5
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"h2lifecycle_downstream_cx_active", "h2lifecycle_downstream_cx_by_state", "h2lifecycle_downstream_cx_destroy_active_rq_total",
		"h2lifecycle_downstream_cx_grace_expired_total", "h2lifecycle_downstream_cx_ping_timeout_total",
		"h2lifecycle_downstream_cx_total", "h2lifecycle_downstream_rq_active", "h2lifecycle_downstream_rq_cut_total", "h2lifecycle_downstream_rq_total",
	); err != nil {
		t.Error(err)
	}
	if got := testutil.ToFloat64(m.cxDrained.WithLabelValues(string(lifecycle.ReasonShutdown))); got != 2 {
		t.Errorf(`cx_drained_total{reason="shutdown"} = %v, want 2`, got)
	}
	if got := testutil.ToFloat64(m.cxDestroy.WithLabelValues(string(lifecycle.ReasonShutdown))); got != 2 {
		t.Errorf(`cx_destroy_total{reason="shutdown"} = %v, want 2`, got)
	}
	// What the Go client's reset and the server's completions were, the
	// report says: the metrics must agree with it.
	if got := testutil.ToFloat64(m.rqCompleted); got != float64(rep.StreamsCompleted) {
		t.Errorf("rq_completed_total %v, the report says %d", got, rep.StreamsCompleted)
	}

	// The histograms: one drain duration and one length per connection.
	// The PING ACK comes back on the connection with a stream open; the idle
	// one may be closed by the client as soon as it reads GOAWAY #1, before
	// it answers the PING (Go 1.27's client does), and then has no RTT and
	// no notice phase.
	hists := gatherHistograms(t, reg)
	for name, want := range map[string][2]uint64{
		"h2lifecycle_downstream_cx_drain_duration_seconds":               {2, 2},
		"h2lifecycle_downstream_cx_length_seconds":                       {3, 3},
		"h2lifecycle_downstream_cx_ping_rtt_seconds":                     {1, 2},
		`h2lifecycle_downstream_cx_drain_phase_seconds{phase="notice"}`:  {1, 2},
		`h2lifecycle_downstream_cx_drain_phase_seconds{phase="closing"}`: {0, 2},
	} {
		if h, ok := hists[name]; !ok || h.count < want[0] || h.count > want[1] {
			t.Errorf("%s: %+v, want %d to %d observations", name, h, want[0], want[1])
		}
	}
	// The cut connection drained for the whole grace; the clean one took a
	// round trip and the settle period.
	if h := hists["h2lifecycle_downstream_cx_drain_duration_seconds"]; h.sum < 0.3 || h.sum > 10 {
		t.Errorf("drain durations sum to %vs; one drain lasted the 300ms grace", h.sum)
	}
	if h := hists["h2lifecycle_downstream_cx_ping_rtt_seconds"]; h.sum <= 0 || h.sum > 5 {
		t.Errorf("PING RTTs sum to %vs", h.sum)
	}

	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %+v", err, problems)
	}
}

// clientGoAway opens an HTTP/2 connection to addr, sends its preface and
// SETTINGS, then leaves the client's way: GOAWAY(0, NO_ERROR), and reads
// until the server closes. (A raw framer: Go's clients differ between
// toolchains in whether their Shutdown sends a GOAWAY.)
func clientGoAway(t *testing.T, addr string) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	fr := http2.NewFramer(nc, nc)
	if _, err := io.WriteString(nc, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	if err := fr.WriteGoAway(0, http2.ErrCodeNo, nil); err != nil {
		t.Fatal(err)
	}
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return // the server closed the connection
		}
		if sf, ok := f.(*http2.SettingsFrame); ok && !sf.IsAck() {
			fr.WriteSettingsAck()
		}
	}
}

// notifying is the metrics, telling closed of each connection's close once
// the metrics have it.
type notifying struct {
	*Metrics
	closed chan<- lifecycle.Reason
}

func (n notifying) ConnClosed(r *lifecycle.Report) {
	n.Metrics.ConnClosed(r)
	n.closed <- r.Reason
}

type histogram struct {
	count uint64
	sum   float64
}

// gatherHistograms returns every histogram series by name, with its labels
// when it has any.
func gatherHistograms(t *testing.T, g prometheus.Gatherer) map[string]histogram {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]histogram{}
	for _, mf := range mfs {
		for _, metric := range mf.GetMetric() {
			h := metric.GetHistogram()
			if h == nil {
				continue
			}
			name := mf.GetName()
			if lp := metric.GetLabel(); len(lp) > 0 {
				var ls []string
				for _, l := range lp {
					ls = append(ls, l.GetName()+`="`+l.GetValue()+`"`)
				}
				name += "{" + strings.Join(ls, ",") + "}"
			}
			out[name] = histogram{h.GetSampleCount(), h.GetSampleSum()}
		}
	}
	return out
}

// TestConnClosedFromReports maps reports the socket test cannot produce on
// demand: a ping timeout, a peer that closed without a drain, a reason the
// core does not know yet.
func TestConnClosedFromReports(t *testing.T) {
	m := New(Options{Namespace: "test", ConstLabels: prometheus.Labels{"listener": "public"}})
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	for range 4 {
		m.ConnOpened()
	}
	m.ConnClosed(&lifecycle.Report{
		Reason: lifecycle.ReasonIdle, Drained: true, PingTimedOut: true, Age: time.Minute,
		Timeline:      drain.Timeline{Start: ms(0), NoticeSent: ms(0), Ack: ms(1000), Final: ms(1000), StreamsDone: ms(1000), HalfClosed: ms(1000), Closed: ms(1001)},
		StreamsOpened: 7, StreamsCompleted: 6, StreamsReset: 1,
	})
	m.ConnClosed(&lifecycle.Report{Reason: lifecycle.ReasonClosed, RTT: 2 * time.Millisecond, Age: time.Second,
		StreamsOpened: 3, StreamsCompleted: 1, StreamsCut: []uint32{5, 7}})
	m.ConnClosed(&lifecycle.Report{Age: time.Second}) // no reason
	m.ConnClosed(nil)                                 // tolerated: the gauge still goes down
	m.ConnUnsupervised()

	for _, c := range []struct {
		name string
		c    prometheus.Collector
		want float64
	}{
		{"cx_total", m.cxTotal, 4},
		{"cx_active", m.cxActive, 0},
		{"ping_timeout", m.pingTimeout, 1},
		{"grace_expired", m.graceExpired, 0},
		{"rq_total: counted live, not from reports", m.rqTotal, 0},
		{"rq_completed: counted live", m.rqCompleted, 0},
		{"rq_cut: counted live", m.rqCut, 0},
		{"cx_destroy_active_rq", m.cxActiveRq, 1},
		{"cx_unsupervised", m.cxUnsup, 1},
		{"drained idle", m.cxDrained.WithLabelValues("idle"), 1},
		{"destroy peer_closed", m.cxDestroy.WithLabelValues("peer_closed"), 1},
		{"destroy unknown", m.cxDestroy.WithLabelValues("unknown"), 1},
	} {
		if got := testutil.ToFloat64(c.c); got != c.want {
			t.Errorf("%s = %v, want %v", c.name, got, c.want)
		}
	}
	// Only the drained connection has drain phases: a notice of 1s (the
	// ping timeout), a zero settle and final, a 1ms closing.
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m)
	h := gatherHistograms(t, reg)
	for name, want := range map[string]histogram{
		`test_downstream_cx_drain_duration_seconds{listener="public"}`:              {1, 1.001},
		`test_downstream_cx_drain_phase_seconds{listener="public",phase="notice"}`:  {1, 1},
		`test_downstream_cx_drain_phase_seconds{listener="public",phase="settle"}`:  {1, 0},
		`test_downstream_cx_drain_phase_seconds{listener="public",phase="final"}`:   {1, 0},
		`test_downstream_cx_drain_phase_seconds{listener="public",phase="closing"}`: {1, 0.001},
		`test_downstream_cx_ping_rtt_seconds{listener="public"}`:                    {1, 0.002},
		`test_downstream_cx_length_seconds{listener="public"}`:                      {3, 62},
	} {
		got, ok := h[name]
		if !ok || got.count != want.count || got.sum < want.sum-1e-9 || got.sum > want.sum+1e-9 {
			t.Errorf("%s: %+v (present %v), want %+v", name, got, ok, want)
		}
	}
	// Every reason a drain can have is exported before its first event,
	// and no other.
	if n := testutil.CollectAndCount(m, "test_downstream_cx_drained_total"); n != len(drainReasons) {
		t.Errorf("%d cx_drained_total series, want one per drain reason (%d)", n, len(drainReasons))
	}
	if n := testutil.CollectAndCount(m, "test_downstream_cx_destroy_total"); n != len(reasons)+1 {
		t.Errorf("%d cx_destroy_total series, want one per reason and unknown (%d)", n, len(reasons)+1)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %+v", err, problems)
	}
}

// The zero Options work, and buckets can be replaced.
func TestOptions(t *testing.T) {
	m := New(Options{})
	if n := testutil.CollectAndCount(m); n == 0 {
		t.Fatal("no series")
	}
	m = New(Options{DrainBuckets: []float64{1}, RTTBuckets: []float64{1}, LengthBuckets: []float64{1}})
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, metric := range mf.GetMetric() {
			if h := metric.GetHistogram(); h != nil && len(h.GetBucket()) != 1 {
				t.Errorf("%s has %d buckets, want 1", mf.GetName(), len(h.GetBucket()))
			}
		}
	}
}

// TestLiveCalls: the live hooks move the gauges and the stream counters;
// a refused stream was never open.
func TestLiveCalls(t *testing.T) {
	m := New(Options{})
	m.ConnOpened()
	m.ConnOpened()
	for range 4 {
		m.StreamOpened()
	}
	m.StreamClosed(lifecycle.EndCompleted)
	m.StreamClosed(lifecycle.EndReset)
	m.StreamClosed(lifecycle.EndDropped)
	m.StreamClosed(lifecycle.EndRefused)
	m.ConnStateChanged(lifecycle.StateActive, lifecycle.StateDraining)
	m.ConnStateChanged(lifecycle.StateDraining, lifecycle.StateClosing)
	m.ConnStateChanged(lifecycle.StateActive, lifecycle.StateDraining)
	for _, c := range []struct {
		name string
		c    prometheus.Collector
		want float64
	}{
		{"rq_total", m.rqTotal, 4},
		{"rq_active", m.rqActive, 1},
		{"rq_completed", m.rqCompleted, 1},
		{"rq_reset", m.rqReset, 1},
		{"rq_refused (dropped and refused)", m.rqRefused, 2},
		{"active", m.cxByState[lifecycle.StateActive], 0},
		{"draining", m.cxByState[lifecycle.StateDraining], 1},
		{"closing", m.cxByState[lifecycle.StateClosing], 1},
	} {
		if got := testutil.ToFloat64(c.c); got != c.want {
			t.Errorf("%s = %v, want %v", c.name, got, c.want)
		}
	}
	m.StreamClosed(lifecycle.EndCut)
	m.ConnStateChanged(lifecycle.StateClosing, lifecycle.StateClosed)
	m.ConnStateChanged(lifecycle.StateDraining, lifecycle.StateClosed)
	m.ConnClosed(&lifecycle.Report{Reason: lifecycle.ReasonShutdown, StreamsCut: []uint32{1}})
	m.ConnClosed(&lifecycle.Report{Reason: lifecycle.ReasonShutdown})
	for _, c := range []struct {
		name string
		c    prometheus.Collector
		want float64
	}{
		{"rq_active", m.rqActive, 0},
		{"rq_cut", m.rqCut, 1},
		{"cx_destroy_active_rq", m.cxActiveRq, 1},
		{"cx_active", m.cxActive, 0},
		{"draining", m.cxByState[lifecycle.StateDraining], 0},
		{"closing", m.cxByState[lifecycle.StateClosing], 0},
	} {
		if got := testutil.ToFloat64(c.c); got != c.want {
			t.Errorf("after the close: %s = %v, want %v", c.name, got, c.want)
		}
	}
}
