package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/zap/zapcore"

	"github.com/h2lifecycle/h2lifecycle/internal/h2test"
	"github.com/h2lifecycle/h2lifecycle/server"
)

// TestDrainProgress: a drain that lasts says every 5s, at Info, how many
// connections are left of how many, the streams open and the time to the
// deadline; the debug page has the same totals and the deadline. Fake
// time: the lines come at 5s, 10s, 15s exactly.
func TestDrainProgress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := map[string]chan struct{}{"/a": make(chan struct{}), "/b": make(chan struct{})}
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if ch := release[r.URL.Path]; ch != nil {
				<-ch
			}
		})
		m := startMem(t, server.Config{}, h)
		var peers sync.WaitGroup
		goAways := make(chan time.Time, 8)
		for _, path := range []string{"/a", "/b", "/b", ""} { // three busy connections with 5 streams, one idle
			c := m.dial(t)
			c.Handshake()
			if path != "" {
				c.WriteHeaders(1, true, ":path", path)
				if path == "/b" {
					c.WriteHeaders(3, true, ":path", path)
				}
			}
			c.Sync()
			peers.Add(1)
			go peer(c, goAways, &peers)
		}
		synctest.Wait()
		begin := time.Now()
		done := make(chan server.ShutdownReport, 1)
		go func() {
			rep, err := m.srv.RunShutdown(context.Background(), server.ShutdownPlan{Grace: 30 * time.Second})
			if err != nil {
				t.Error(err)
			}
			done <- rep
		}()
		progress := func() []string {
			var out []string
			for _, e := range m.logs.FilterMessage("draining: progress").All() {
				if e.Level != zapcore.InfoLevel {
					t.Errorf("progress at %v", e.Level)
				}
				f := e.ContextMap()
				out = append(out, fmt.Sprintf("%v/%v streams=%v in=%v at=%v", f["connections_left"], f["connections_total"],
					f["streams_open"], f["deadline_in"], e.Time.Sub(begin)))
			}
			return out
		}

		h2test.Advance(4 * time.Second)
		synctest.Wait()
		if p := progress(); len(p) != 0 {
			t.Errorf("progress before 5s: %v", p)
		}
		// The debug page during the drain: totals and the deadline.
		rec := httptest.NewRecorder()
		m.srv.DebugHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/debug/h2", nil))
		var doc struct {
			Draining   bool   `json:"draining"`
			Deadline   string `json:"drain_deadline"`
			DeadlineIn string `json:"drain_deadline_in"`
			Totals     struct {
				Connections int            `json:"connections"`
				OpenStreams int            `json:"open_streams"`
				ByState     map[string]int `json:"by_state"`
			} `json:"totals"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		wantDeadline := begin.Add(30 * time.Second).UTC().Format(time.RFC3339Nano)
		if !doc.Draining || doc.Deadline != wantDeadline || doc.DeadlineIn != "26s" || doc.Totals.Connections != 3 ||
			doc.Totals.OpenStreams != 5 || doc.Totals.ByState["draining(final)"] != 3 {
			t.Errorf("debug page during the drain (deadline want %s):\n%s", wantDeadline, rec.Body)
		}

		h2test.Advance(time.Second) // 5s
		synctest.Wait()
		close(release["/a"])
		h2test.Advance(5 * time.Second) // 10s
		synctest.Wait()
		close(release["/b"])
		h2test.Advance(5 * time.Second) // 15s: the drain is over
		synctest.Wait()
		rep := <-done
		peers.Wait()
		<-m.served
		want := "3/4 streams=5 in=25s at=5s\n2/4 streams=4 in=20s at=10s"
		if got := strings.Join(progress(), "\n"); got != want {
			t.Errorf("progress lines:\n%s\nwant\n%s", got, want)
		}
		if rep.Connections != 4 || rep.StreamsCut != 0 {
			t.Errorf("report %+v", rep)
		}
	})
}
