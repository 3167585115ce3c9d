package main

// A gRPC server-streaming RPC, served through grpc.Server.ServeHTTP behind
// h2lifecycle, drained with and without lifecycle.DrainNotice. Only
// exported APIs and grpc-go: the file stands on its own.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/h2lifecycle/h2lifecycle/lifecycle"
	"github.com/h2lifecycle/h2lifecycle/server"
)

// tickerService is a hand-written service with one server-streaming RPC:
//
//	rpc Watch(StringValue) returns (stream StringValue) // a tick every interval, forever
//
// With notice set, Watch ends (status OK, after a last "bye" message) when
// the connection begins to drain.
type tickerService struct {
	notice   bool
	interval time.Duration
}

const watchMethod = "/h2lifecycle.test.Ticker/Watch"

var tickerDesc = grpc.ServiceDesc{
	ServiceName: "h2lifecycle.test.Ticker",
	HandlerType: (*any)(nil),
	Streams: []grpc.StreamDesc{{
		StreamName:    "Watch",
		ServerStreams: true,
		Handler: func(srv any, stream grpc.ServerStream) error {
			return srv.(*tickerService).watch(stream)
		},
	}},
}

func (s *tickerService) watch(stream grpc.ServerStream) error {
	if err := stream.RecvMsg(new(wrapperspb.StringValue)); err != nil {
		return err
	}
	ctx := stream.Context() // derived from the HTTP request's context
	var drain <-chan struct{}
	if s.notice {
		drain = lifecycle.DrainNotice(ctx)
	}
	tick := time.NewTicker(s.interval)
	defer tick.Stop()
	for i := 0; ; i++ {
		if err := stream.SendMsg(wrapperspb.String(fmt.Sprintf("tick %d", i))); err != nil {
			return err
		}
		select {
		case <-drain:
			return stream.SendMsg(wrapperspb.String("bye"))
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// watchResult is what one client stream saw.
type watchResult struct {
	msgs int
	bye  bool
	err  error // nil: the RPC ended with status OK
}

func watchOnce(ctx context.Context, cc *grpc.ClientConn, first func()) watchResult {
	defer first() // for streams that fail before their first message
	desc := &grpc.StreamDesc{StreamName: "Watch", ServerStreams: true}
	cs, err := cc.NewStream(ctx, desc, watchMethod)
	if err != nil {
		return watchResult{err: err}
	}
	if err := cs.SendMsg(wrapperspb.String("go")); err != nil {
		return watchResult{err: err}
	}
	if err := cs.CloseSend(); err != nil {
		return watchResult{err: err}
	}
	var r watchResult
	for {
		m := new(wrapperspb.StringValue)
		err := cs.RecvMsg(m)
		if errors.Is(err, io.EOF) {
			return r
		}
		if err != nil {
			r.err = err
			return r
		}
		if m.GetValue() == "bye" {
			r.bye = true
			continue
		}
		if r.msgs++; r.msgs == 1 {
			first()
		}
	}
}

type grpcDrainRun struct {
	streams, clientErrors, byes int
	errs                        []string
	report                      server.ShutdownReport
	took                        time.Duration
}

// runGRPCDrain serves the ticker through ServeHTTP on 127.0.0.1 (h2c),
// opens perConn Watch streams on each of conns client connections, and
// shuts the server down with grace once every stream has a message.
func runGRPCDrain(t *testing.T, notice bool, conns, perConn int, grace time.Duration) grpcDrainRun {
	gs := grpc.NewServer()
	gs.RegisterService(&tickerDesc, &tickerService{notice: notice, interval: 10 * time.Millisecond})
	defer gs.Stop()
	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true)
	hs := &http.Server{Handler: gs, Protocols: &protocols}
	srv, err := server.Wrap(hs, server.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	defer func() {
		srv.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second+grace) // bounds a broken run
	defer cancel()
	n := conns * perConn
	results := make([]watchResult, n)
	var started, done sync.WaitGroup
	started.Add(n)
	var ccs []*grpc.ClientConn
	for i := range conns {
		cc, err := grpc.NewClient("passthrough:///"+ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		ccs = append(ccs, cc)
		for j := range perConn {
			done.Add(1)
			go func() {
				defer done.Done()
				results[i*perConn+j] = watchOnce(ctx, cc, sync.OnceFunc(started.Done))
			}()
		}
	}
	defer func() {
		for _, cc := range ccs {
			cc.Close()
		}
	}()
	started.Wait()
	begin := time.Now()
	rep, err := srv.RunShutdown(ctx, server.ShutdownPlan{Grace: grace})
	if err != nil {
		t.Fatalf("RunShutdown: %v", err)
	}
	done.Wait()
	run := grpcDrainRun{streams: n, report: rep, took: time.Since(begin)}
	for _, r := range results {
		if r.err != nil {
			run.clientErrors++
			if len(run.errs) < 2 {
				run.errs = append(run.errs, status.Convert(r.err).String())
			}
		}
		if r.bye {
			run.byes++
		}
		if r.msgs == 0 {
			t.Errorf("a stream got no message: %v", r.err)
		}
	}
	return run
}

// TestDrainNoticeGRPCStreaming: with the notice every Watch ends with
// status OK well before the grace deadline and nothing is cut; without
// it every stream runs into the grace deadline and is cut, which the
// clients see as errors (bench/RESULTS-interop.md).
func TestDrainNoticeGRPCStreaming(t *testing.T) {
	if testing.Short() {
		t.Skip("a real-time drain of a second")
	}
	const conns, perConn = 4, 5
	const grace = time.Second
	for _, notice := range []bool{true, false} {
		t.Run(fmt.Sprintf("notice=%v", notice), func(t *testing.T) {
			run := runGRPCDrain(t, notice, conns, perConn, grace)
			rep := run.report
			t.Logf("notice=%v: %d streams on %d connections: %d client-visible errors %q, %d streams cut, %d bye messages; "+
				"%d connections, %d cut at the grace deadline; drain %v (grace %v)",
				notice, run.streams, conns, run.clientErrors, run.errs, rep.StreamsCut, run.byes,
				rep.Connections, rep.GraceExpired, run.took.Round(time.Millisecond), grace)
			if rep.Connections < conns {
				t.Errorf("%d connections reported, want at least %d", rep.Connections, conns)
			}
			if notice {
				if run.clientErrors != 0 || rep.StreamsCut != 0 || rep.GraceExpired != 0 || run.byes != run.streams {
					t.Errorf("with the notice: %d errors, %d cut, %d grace expired, %d/%d byes; want 0, 0, 0, all",
						run.clientErrors, rep.StreamsCut, rep.GraceExpired, run.byes, run.streams)
				}
				if run.took >= grace {
					t.Errorf("the drain took %v, the grace deadline", run.took)
				}
				return
			}
			if run.clientErrors != run.streams || rep.StreamsCut != run.streams || run.byes != 0 {
				t.Errorf("without the notice: %d errors, %d cut, %d byes; want %d, %d, 0",
					run.clientErrors, rep.StreamsCut, run.byes, run.streams, run.streams)
			}
			if run.took < grace {
				t.Errorf("the drain took %v, less than the grace", run.took)
			}
		})
	}
}
