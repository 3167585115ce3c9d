package h2lifecycle_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/h2lifecycle/h2lifecycle/internal/h2test"
	"github.com/h2lifecycle/h2lifecycle/server"
)

// TestRunShutdownForcedWhileHTTP1Runs: the force of a shutdown (ctx ending)
// closes everything at once, also while HTTP/1.1 requests are running; it
// once waited out the whole grace and reported a clean shutdown.
func TestRunShutdownForcedWhileHTTP1Runs(t *testing.T) {
	for _, how := range []string{"force", "ctx"} {
		t.Run(how, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				started := make(chan struct{}, 1)
				h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					started <- struct{}{}
					select {
					case <-r.Context().Done():
					case <-time.After(time.Hour):
					}
				})
				b := startSubject(t, &http.Server{Handler: h}, setup{bubble: true})
				tr := &http.Transport{DialContext: b.ln.DialContext}
				defer tr.CloseIdleConnections()
				go func() {
					res, err := (&http.Client{Transport: tr}).Get("http://h2lifecycle.test/")
					if err == nil {
						io.Copy(io.Discard, res.Body)
						res.Body.Close()
					}
				}()
				<-started
				ctx, cancel := context.WithCancelCause(context.Background())
				defer cancel(nil)
				type result struct {
					rep server.ShutdownReport
					err error
				}
				done := make(chan result, 1)
				begin := time.Now()
				go func() {
					rep, err := b.srv.RunShutdown(ctx, server.ShutdownPlan{Grace: time.Minute})
					done <- result{rep, err}
				}()
				h2test.Advance(time.Second) // fake time: the shutdown is under way
				if how == "force" {
					cancel(server.ErrForced) // ShutdownOnSignal's second signal
				} else {
					cancel(nil)
				}
				r := <-done
				if took := time.Since(begin); took != time.Second {
					t.Errorf("RunShutdown returned %v after it began, %v after the %s; want at once", took, took-time.Second, how)
				}
				wantErr := server.ErrForced
				if how == "ctx" {
					wantErr = context.Canceled
				}
				if !errors.Is(r.err, wantErr) || !r.rep.Forced {
					t.Errorf("RunShutdown = %v, Forced %v; want %v, true", r.err, r.rep.Forced, wantErr)
				}
				b.stop()
			})
		})
	}
}

// TestLateConnectionKeepsShutdownDeadline: a connection net/http accepted
// before Shutdown began but handed to HTTP/2 after (its h2c preface came
// late) is drained by Shutdown's deadline, not by a fresh grace counted
// from its arrival.
func TestLateConnectionKeepsShutdownDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHandlerRuns()
		b := startSubject(t, &http.Server{Handler: h}, setup{bubble: true})
		c := b.client() // connected; the preface comes later
		synctest.Wait() // accepted
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		deadline, _ := ctx.Deadline()
		shut := make(chan error, 1)
		go func() { shut <- b.srv.Shutdown(ctx) }()
		h2test.Advance(1500 * time.Millisecond) // fake time
		c.Handshake()
		c.WriteHeaders(1, true, ":path", "/hold")
		c.Timeout = time.Minute
		c.ReadUntilClosed(nil)
		if late := time.Since(deadline); late > 0 {
			t.Errorf("the late connection closed %v after Shutdown's deadline", late)
		}
		if err := <-shut; !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Shutdown = %v, want the deadline's error", err)
		}
		h.release()
		c.Conn.Close()
		b.stop()
	})
}
