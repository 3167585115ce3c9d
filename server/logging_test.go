package server_test

import (
	"cmp"
	"context"
	"net/http"
	"os"
	"slices"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/h2lifecycle/h2lifecycle/idle"
	"github.com/h2lifecycle/h2lifecycle/internal/h2test"
	"github.com/h2lifecycle/h2lifecycle/server"
)

// TestLogFields pins what operators grep for: one Info line per drained
// connection with fixed fields, Debug lines for the routine steps, a Debug
// line for a connection that simply closed, Warn for peer protocol
// violations.
func TestLogFields(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := startMem(t, server.Config{Policy: idle.Policy{PingMinInterval: time.Second}}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		var peers sync.WaitGroup
		goAways := make(chan time.Time, 4)
		c := m.dial(t)
		c.Handshake()
		c.WriteHeaders(1, true)
		c.ExpectResponse(1)
		peers.Add(1)
		go peer(c, goAways, &peers)
		synctest.Wait()
		if err := m.srv.Drain(context.Background()); err != nil {
			t.Fatal(err)
		}
		peers.Wait()

		closer := m.dial(t) // closes without a drain
		closer.Handshake()
		closer.Conn.Close()
		violator := m.dial(t) // a connection error
		violator.Handshake()
		violator.WriteWindowUpdate(99, 1)
		violator.WaitClosed()
		violator.Conn.Close()
		flooder := m.dial(t)
		flooder.Handshake()
		for i := range 6 {
			flooder.WritePing([8]byte{byte(i)})
		}
		flooder.WaitClosed()
		flooder.Conn.Close()
		synctest.Wait()

		drained := m.logs.FilterMessage("http2 connection drained").All()
		if len(drained) != 1 || drained[0].Level != zapcore.InfoLevel {
			t.Fatalf("drained lines: %v", drained)
		}
		var keys []string
		for k := range drained[0].ContextMap() {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		want := []string{"age", "closing", "conn", "final", "grace_expired", "last_stream_id", "notice", "ping_timeout",
			"reason", "remote", "rtt", "settle", "streams_completed", "streams_cut", "total"}
		if !slices.Equal(keys, want) {
			t.Errorf("drained line fields %v\nwant %v", keys, want)
		}
		for _, msg := range []string{"http2 drain: GOAWAY(2147483647) and PING queued", "http2 drain: final GOAWAY requested", "http2 connection: FIN after the last GOAWAY"} {
			if l := m.logs.FilterMessage(msg).FilterField(zap.Uint64("conn", 1)).All(); len(l) != 1 || l[0].Level != zapcore.DebugLevel {
				t.Errorf("%q for the drained connection: %v", msg, l)
			}
		}
		if l := m.logs.FilterMessage("http2 connection closed").All(); len(l) != 1 || l[0].Level != zapcore.DebugLevel || l[0].ContextMap()["reason"] != "peer_closed" {
			t.Errorf("closed lines: %v", l)
		}
		var ended []any
		for _, l := range m.logs.FilterMessage("http2 connection ended").All() {
			if l.Level == zapcore.InfoLevel {
				ended = append(ended, l.ContextMap()["reason"])
			}
		}
		slices.SortFunc(ended, func(a, b any) int { return cmp.Compare(a.(string), b.(string)) })
		if len(ended) != 2 || ended[0] != "protocol_error" || ended[1] != "too_many_pings" {
			t.Errorf("ended lines: %v", ended)
		}
		var warns []string
		for _, l := range m.logs.FilterLevelExact(zapcore.WarnLevel).All() {
			warns = append(warns, l.Message)
		}
		slices.Sort(warns)
		if !slices.Equal(warns, []string{"http2 peer sends PINGs too often; ending the connection", "http2 server sent GOAWAY with an error"}) {
			t.Errorf("warnings %q", warns)
		}
		m.srv.Close()
		<-m.served
	})
}

// TestShutdownOnSignals: the first signal starts the sequence, the second
// forces it.
func TestShutdownOnSignals(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
		m := startMem(t, server.Config{}, h)
		c := m.dial(t)
		c.Handshake()
		c.WriteHeaders(1, true)
		c.Sync()
		sigs := make(chan os.Signal, 2)
		done := make(chan error, 1)
		go func() {
			_, err := m.srv.ShutdownOn(context.Background(), server.ShutdownPlan{DeregistrationDelay: time.Second, Grace: time.Hour}, sigs)
			done <- err
		}()
		h2test.Advance(time.Minute)
		synctest.Wait()
		if len(done) != 0 || len(m.logs.FilterMessage("shutting down: readiness off").All()) != 0 {
			t.Fatal("shut down without a signal")
		}
		sigs <- syscall.SIGTERM
		// The drain has begun (after the deregistration delay) when the
		// connection gets its notice; its grace is an hour.
		if ga := c.ExpectGoAway(); ga.LastStreamID != 1<<31-1 {
			t.Fatalf("first GOAWAY last=%d, want the notice", ga.LastStreamID)
		}
		synctest.Wait()
		if len(done) != 0 {
			t.Fatal("the shutdown ended before the stream did")
		}
		sigs <- syscall.SIGTERM
		if err := <-done; err != server.ErrForced {
			t.Fatalf("ShutdownOn = %v, want ErrForced", err)
		}
		c.Conn.Close()
		<-m.served
		synctest.Wait()
		if l := m.logs.FilterMessage("second signal: closing everything").All(); len(l) != 1 {
			t.Errorf("no log of the second signal: %v", m.logs.All())
		}
	})
}
