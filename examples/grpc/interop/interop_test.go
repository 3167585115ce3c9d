package interop_test

// gRPC interop (moved from the core module, which must not require grpc):
// real grpc-go clients against gRPC hosted with
// grpc.Server.ServeHTTP behind h2lifecycle (examples/grpc), and the two
// field incidents that need a gRPC client:
//
//   - seed 001: the MAX_CONCURRENT_STREAMS accounting race
//     (golang/go#42777): a client at the server's stream limit opens a new
//     stream the instant it reads another's END_STREAM, and the server,
//     which has not yet counted that stream as closed, resets the new one
//     with PROTOCOL_ERROR.
//   - seed 003: an empty DATA(END_STREAM) after HEADERS
//     (golang/go#56317): a gRPC reverse proxy (httputil.ReverseProxy,
//     FlushInterval -1) in front of a backend that fails an RPC at once
//     answers with HEADERS and an empty DATA(END_STREAM), and grpc-go
//     fails the call with "server closed the stream without sending
//     trailers" instead of the backend's status.
//
// The call counts scale with H2LIFECYCLE_INTEROP_SCALE (default 1), for the
// longer runs of bench/RESULTS-interop.md; H2LIFECYCLE_INTEROP_SPIN=N adds N
// CPU-burning goroutines to the stream-limit race.

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/h2lifecycle/h2lifecycle/bench/experiment"
	"github.com/h2lifecycle/h2lifecycle/examples/grpc/echo"
	"github.com/h2lifecycle/h2lifecycle/idle"
	"github.com/h2lifecycle/h2lifecycle/server"
)

// interopScale multiplies the call counts of the gRPC tests.
func interopScale() int {
	if n, err := strconv.Atoi(os.Getenv("H2LIFECYCLE_INTEROP_SCALE")); err == nil && n > 0 {
		return n
	}
	return 1
}

// dialGRPC returns a grpc-go client of addr, over TLS (certificate not
// verified) or h2c. With rec, h2c connections are recorded on the client's
// side. It is closed when the test ends.
func dialGRPC(t testing.TB, addr string, tlsOn bool, rec *experiment.Recorder) *grpc.ClientConn {
	t.Helper()
	creds := insecure.NewCredentials()
	if tlsOn {
		creds = credentials.NewTLS(&tls.Config{InsecureSkipVerify: true})
	}
	opts := []grpc.DialOption{grpc.WithTransportCredentials(creds)}
	if rec != nil && !tlsOn {
		opts = append(opts, grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			var d net.Dialer
			c, err := d.DialContext(ctx, "tcp", addr)
			if err != nil {
				return nil, err
			}
			return rec.Wrap(c, experiment.ClientSide), nil
		}))
	}
	cc, err := grpc.NewClient("passthrough:///"+addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// startGRPCBackend serves s with grpc-go's own server (grpc.Server.Serve,
// its own HTTP/2 transport) over h2c on 127.0.0.1, until the test ends.
func startGRPCBackend(t testing.TB, s *echo.Server) string {
	t.Helper()
	gs := grpc.NewServer()
	echo.Register(gs, s)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		gs.Serve(ln)
	}()
	t.Cleanup(func() {
		gs.Stop()
		<-done
	})
	return ln.Addr().String()
}

// grpcProxy is the seed 003 proxy: httputil.ReverseProxy to an h2c gRPC
// backend with FlushInterval -1 (flush every write, as streaming RPCs need).
func grpcProxy(t testing.TB, backend string) *httputil.ReverseProxy {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: &p}
	t.Cleanup(tr.CloseIdleConnections)
	target := &url.URL{Scheme: "http", Host: backend}
	return &httputil.ReverseProxy{
		Rewrite:       func(r *httputil.ProxyRequest) { r.SetURL(target) },
		Transport:     tr,
		FlushInterval: -1,
		ErrorLog:      quietInteropLog,
	}
}

// grpcOutcomes counts RPC results by code and message.
type grpcOutcomes struct {
	mu    sync.Mutex
	n     int
	codes map[string]int
}

func (o *grpcOutcomes) add(err error) {
	st := status.Convert(err)
	key := st.Code().String()
	if st.Code() != codes.OK && st.Code() != codes.NotFound {
		key += ": " + st.Message()
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.codes == nil {
		o.codes = map[string]int{}
	}
	o.n++
	o.codes[key]++
}

// count returns the outcomes keyed key, and all the others.
func (o *grpcOutcomes) count(key string) (n, others int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for k, v := range o.codes {
		if k == key {
			n += v
		} else {
			others += v
		}
	}
	return n, others
}

func (o *grpcOutcomes) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return fmt.Sprintf("%d RPCs %v", o.n, o.codes)
}

// callMany makes n calls of f from workers goroutines.
func callMany(n, workers int, f func(i int) error) *grpcOutcomes {
	o := &grpcOutcomes{}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				o.add(f(i))
			}
		}()
	}
	wg.Wait()
	return o
}

// ----------------------------------------------------------------------------
// gRPC through many drains.

// TestGRPCThroughDrains: a grpc-go client makes unary, failing-unary,
// server-streaming and bidirectional calls from 8 goroutines against gRPC
// served with ServeHTTP behind h2lifecycle, while every connection is ended
// again and again: max connection age 100ms, a Drain of every connection
// every 250ms (a deploy or a balancer's rotation), and an idle timeout of
// 50ms that a second, sparse client (one call every 40–70ms on its own
// connection) keeps racing; over h2c and TLS. grpc-go opens a new
// connection when it reads GOAWAY(2^31-1), and the calls that crossed it
// are served: not one RPC may fail. (grpc-go's own server ends connections
// the same two-phase way; net/http's HTTP/2 server does not.)
func TestGRPCThroughDrains(t *testing.T) {
	for _, tlsOn := range []bool{false, true} {
		t.Run(interopName(false, tlsOn), func(t *testing.T) {
			gs := grpc.NewServer()
			echo.Register(gs, &echo.Server{Interval: time.Millisecond})
			t.Cleanup(gs.Stop)
			core, logs := observer.New(zap.InfoLevel)
			hs := &http.Server{Handler: gs}
			cfg := server.Config{Policy: idle.Policy{IdleTimeout: 50 * time.Millisecond, MaxConnectionAge: 100 * time.Millisecond}}
			s := startInterop(t, false, tlsOn, hs, cfg, server.WithLogger(zap.New(core)))
			cc := dialGRPC(t, s.addr, tlsOn, nil)

			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			drains := make(chan int, 1)
			go func() { // rotate every connection, as a deploy or a balancer would
				n := 0
				tick := time.NewTicker(250 * time.Millisecond)
				defer tick.Stop()
				for {
					select {
					case <-ctx.Done():
						drains <- n
						return
					case <-tick.C:
						// Its own context: Drain's grace ends at the
						// context's deadline, and a drain cut short by the
						// end of the test would reset streams in flight.
						dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
						if err := s.srv.Drain(dctx); err != nil {
							t.Errorf("Drain: %v", err)
						}
						dcancel()
						n++
					}
				}
			}()
			sparse := make(chan *grpcOutcomes, 1)
			go func() {
				ec := echo.NewClient(dialGRPC(t, s.addr, tlsOn, nil))
				o := &grpcOutcomes{}
				for ctx.Err() == nil {
					timer := time.NewTimer(40*time.Millisecond + rand.N(30*time.Millisecond))
					<-timer.C
					rctx, rcancel := context.WithTimeout(context.Background(), 20*time.Second)
					_, err := ec.Unary(rctx, "sparse")
					rcancel()
					o.add(err)
				}
				sparse <- o
			}()
			st := echo.CallLoop(ctx, echo.NewClient(cc), 8)
			rotations := <-drains
			so := <-sparse
			reasons := map[string]int{}
			for _, e := range logs.FilterMessage("http2 connection drained").All() {
				reasons[fmt.Sprint(e.ContextMap()["reason"])]++
			}
			t.Logf("%s: %v; sparse client: %v; %d Drain calls; connections drained by reason: %v", s.name, st, so, rotations, reasons)
			if st.Failed != 0 {
				t.Errorf("%s: %d of %d RPCs failed: %v", s.name, st.Failed, st.RPCs, st.Examples)
			}
			if _, failed := so.count("OK"); failed != 0 {
				t.Errorf("%s: sparse client: %v", s.name, so)
			}
			if st.Unary == 0 || st.Errors == 0 || st.Streams == 0 {
				t.Errorf("%s: some kind of RPC never completed: %v", s.name, st)
			}
			if total := reasons["shutdown"] + reasons["max_age"] + reasons["idle"]; total < 3 {
				t.Errorf("%s: only %d connections drained (%v): the RPCs did not cross drains", s.name, total, reasons)
			}
		})
	}
}

// TestGRPCIdleRace: grpc-go clients that pause about the idle timeout
// between calls, so that calls leave as the idle close does; half the calls
// are Count streams. Stock and h2lifecycle, h2c and TLS. grpc-go retries on
// its own the calls a GOAWAY says were not processed, so even the stock
// server's single GOAWAY loses few or none; what it does lose is logged,
// and h2lifecycle must lose none.
func TestGRPCIdleRace(t *testing.T) {
	const idleTimeout = 40 * time.Millisecond
	calls := 300 * interopScale()
	eachInterop(t, func(t *testing.T, stock, tlsOn bool) {
		gs := grpc.NewServer()
		echo.Register(gs, &echo.Server{})
		t.Cleanup(gs.Stop)
		hs := &http.Server{Handler: gs, IdleTimeout: idleTimeout}
		s := startInterop(t, stock, tlsOn, hs, server.Config{})
		const workers = 4
		ec := echo.NewClient(dialGRPC(t, s.addr, tlsOn, nil))
		o := callMany(calls, workers, func(i int) error {
			// A pause of 36–44ms: the connection is idle for about the
			// timeout when this worker calls again (the others call at
			// random other times, so a pause is rarely the whole idle time).
			pause := idleTimeout - 4*time.Millisecond + rand.N(8*time.Millisecond)
			timer := time.NewTimer(pause)
			<-timer.C
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if i%2 == 0 {
				_, err := ec.Unary(ctx, "x")
				return err
			}
			stream, err := ec.Count(ctx, 3)
			if err != nil {
				return err
			}
			for {
				if _, err := stream.Recv(); err == io.EOF {
					return nil
				} else if err != nil {
					return err
				}
			}
		})
		ok, failed := o.count("OK")
		t.Logf("%s: idle timeout %v, %d calls from %d workers pausing 36–44ms: %d ok, %d failed %v", s.name, idleTimeout, calls, workers, ok, failed, o)
		if !stock && failed != 0 {
			t.Errorf("%s: %d calls failed: %v", s.name, failed, o)
		}
	})
}

// ----------------------------------------------------------------------------
// Seed 003: empty DATA(END_STREAM) after HEADERS through a gRPC proxy.

// TestGRPCProxyTrailersOnly (seed 003): grpc-go calls, through the seed's
// reverse proxy, a backend method that fails at once. The backend answers
// "trailers-only": one HEADERS with grpc-status and END_STREAM. The proxy's
// flush timer (FlushInterval -1 flushes the headers from another goroutine)
// races the handler's return: when the flush wins, the HTTP/2 server sends
// HEADERS without END_STREAM, then an empty DATA(END_STREAM), and grpc-go
// fails the call with INTERNAL "server closed the stream without sending
// trailers" instead of NOT_FOUND. Run for the stock server, h2lifecycle
// without server.Config.HoldHeaderFlush and h2lifecycle with a 5ms hold,
// over h2c and TLS: with the hold, every call must fail with NOT_FOUND —
// even when the hold expires before the handler returns (hold1ns): the
// status is then repeated as trailers.
// Then streaming calls through the same proxy with a hold of a minute: the
// hold must never delay a message (only headers that wait for no body),
// so they finish well within their 20s deadline.
func TestGRPCProxyTrailersOnly(t *testing.T) {
	backend := startGRPCBackend(t, &echo.Server{Interval: time.Millisecond})
	calls := 1000 * interopScale()
	for _, tlsOn := range []bool{false, true} {
		for _, c := range []struct {
			name  string
			stock bool
			hold  time.Duration
		}{
			{"stock", true, 0},
			{"h2lifecycle", false, 0},
			{"h2lifecycle+hold5ms", false, 5 * time.Millisecond},
			// A hold that always expires first: what 5ms becomes when the
			// handler is starved of CPU for longer than the hold.
			{"h2lifecycle+hold1ns", false, time.Nanosecond},
		} {
			name := c.name + "/" + map[bool]string{false: "h2c", true: "tls"}[tlsOn]
			t.Run(name, func(t *testing.T) {
				hs := &http.Server{Handler: grpcProxy(t, backend)}
				s := startInterop(t, c.stock, tlsOn, hs, server.Config{HoldHeaderFlush: c.hold})
				ec := echo.NewClient(dialGRPC(t, s.addr, tlsOn, nil))
				o := callMany(calls, 8, func(i int) error {
					ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
					defer cancel()
					_, err := ec.Unary(ctx, echo.FailPrefix+strconv.Itoa(i))
					return err
				})
				notFound, broken := o.count("NotFound")
				t.Logf("%s (%s): %d calls of a method that fails at once: %d NOT_FOUND, %d broken: %v", name, runtime.Version(), calls, notFound, broken, o)
				// With a hold, every call gets the backend's NOT_FOUND, also
				// when the hold runs out before the handler returns (the
				// status is then repeated as trailers).
				if c.hold > 0 && broken != 0 {
					t.Errorf("%s: %d of %d calls did not get the backend's NOT_FOUND: %v", name, broken, calls, o)
				}
			})
		}
	}
	t.Run("streaming not delayed by the hold", func(t *testing.T) {
		eachTransport(t, func(t *testing.T, tlsOn bool) {
			hs := &http.Server{Handler: grpcProxy(t, backend)}
			s := startInterop(t, false, tlsOn, hs, server.Config{HoldHeaderFlush: time.Minute})
			ec := echo.NewClient(dialGRPC(t, s.addr, tlsOn, nil))
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			st := echo.CallLoop(ctx, ec, 4)
			t.Logf("through the proxy, hold 1m: %v", st)
			if st.Failed != 0 || st.Streams == 0 || st.Errors == 0 {
				t.Errorf("hold 1m: %v; want every RPC done, streams and NOT_FOUND errors among them", st)
			}
		})
	})
}

// TestGRPCProxyStreamLatency measures how long server-streaming messages
// take through the proxy with and without HoldHeaderFlush: the hold applies
// only to a flush before any body byte, so the added latency must be about
// nothing. Measured, not asserted (no wall-clock assertions on this
// machine): the numbers go to bench/RESULTS-interop.md.
func TestGRPCProxyStreamLatency(t *testing.T) {
	backend := startGRPCBackend(t, &echo.Server{Interval: 2 * time.Millisecond})
	for _, hold := range []time.Duration{0, 5 * time.Millisecond} {
		t.Run("hold="+hold.String(), func(t *testing.T) {
			hs := &http.Server{Handler: grpcProxy(t, backend)}
			s := startInterop(t, false, false, hs, server.Config{HoldHeaderFlush: hold})
			ec := echo.NewClient(dialGRPC(t, s.addr, false, nil))
			var first, rest []time.Duration
			for range 50 * interopScale() {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				stream, err := ec.Count(ctx, 10)
				if err != nil {
					cancel()
					t.Fatal(err)
				}
				for i := 0; ; i++ {
					msg, err := stream.Recv()
					if err == io.EOF {
						break
					}
					if err != nil {
						cancel()
						t.Fatal(err)
					}
					d, err := echo.Latency(msg, time.Now())
					if err != nil {
						cancel()
						t.Fatal(err)
					}
					if i == 0 {
						first = append(first, d)
					} else {
						rest = append(rest, d)
					}
				}
				cancel()
			}
			t.Logf("hold %v (%s): first message %s; later messages %s", hold, runtime.Version(), quantiles(first), quantiles(rest))
		})
	}
}

func quantiles(ds []time.Duration) string {
	if len(ds) == 0 {
		return "none"
	}
	slices.Sort(ds)
	q := func(p float64) time.Duration { return ds[int(p*float64(len(ds)-1))].Round(time.Microsecond) }
	return fmt.Sprintf("n=%d p50=%v p90=%v p99=%v max=%v", len(ds), q(0.5), q(0.9), q(0.99), q(1))
}

// ----------------------------------------------------------------------------
// Seed 001: the MAX_CONCURRENT_STREAMS accounting race.

// TestMaxConcurrentStreamsRace (seed 001) measures the race the seed saw: a
// grpc-go client at the server's limit (320, set through
// http.Server.HTTP2) with 500 RPCs in flight on one connection, each new
// stream opened the instant another's END_STREAM is read.
//
// x/net closes a stream in its books (serverConn.wroteFrame) only when the
// write of its END_STREAM frame has been reported to the serve loop. Frames
// that fit the 4 KiB write buffer are only buffered then, and reach the
// wire at the next flush, after the books are updated: no race. A frame
// that does not fit is written from another goroutine straight to the
// socket, and the client can answer before that goroutine reports back; the
// fix for golang/go#42777 only looks for a report already waiting. So the
// race needs END_STREAM on a large frame: here, gRPC trailers of about 9 KB
// (a binary trailer, TrailerPad), and, for the Go client, response bodies of
// exactly 4096 bytes, whose final DATA(END_STREAM) frame is 4105 bytes.
//
// On the stock server it is measured, not asserted: it is a race, and a
// rare one; any RPC that fails must fail with the race's signature, nothing
// else. h2lifecycle advertises 320 and lets its inner server run 321
// (server.Wrap): x/net has at most one frame in flight off its serve loop,
// so a client that keeps to the advertised limit is never refused, and any
// reset or failed call is an error. Counts of RST_STREAM are read on the
// client's end of the (h2c) connection.
func TestMaxConcurrentStreamsRace(t *testing.T) {
	calls := 1000 * interopScale()
	stopSpin := spinCPU(t)
	defer stopSpin()
	for _, pad := range []int{0, 9000} {
		t.Run(fmt.Sprintf("grpc/trailers+%d", pad), func(t *testing.T) {
			for _, stock := range []bool{true, false} {
				t.Run(interopName(stock, false), func(t *testing.T) {
					gs := grpc.NewServer()
					echo.Register(gs, &echo.Server{TrailerPad: pad})
					t.Cleanup(gs.Stop)
					hs := &http.Server{Handler: gs, HTTP2: &http.HTTP2Config{MaxConcurrentStreams: 320}}
					s := startInterop(t, stock, false, hs, server.Config{})
					rec := experiment.NewRecorder()
					rec.MaxEvents = 1 << 20
					ec := echo.NewClient(dialGRPC(t, s.addr, false, rec))
					start := time.Now()
					o := callMany(calls, 500, func(i int) error {
						ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
						defer cancel()
						_, err := ec.Unary(ctx, "x")
						return err
					})
					elapsed := time.Since(start)
					resets := receivedResets(rec)
					ok, failed := o.count("OK")
					raced, _ := o.count("Internal: stream terminated by RST_STREAM with error code: PROTOCOL_ERROR")
					t.Logf("%s (%s): %d unary calls, 500 in flight, limit 320, trailers +%d B, %v: %d ok, %d failed %v; RST_STREAM received %v; %d connections",
						s.name, runtime.Version(), calls, pad, elapsed.Round(time.Millisecond), ok, failed, o, resets, len(rec.Conns()))
					if failed != raced {
						t.Errorf("%s: failures other than the race's: %v", s.name, o)
					}
					if !stock && (failed > 0 || len(resets) > 0) {
						t.Errorf("%s: %d calls failed, RST_STREAM received %v; want none below the advertised limit", s.name, failed, resets)
					}
				})
			}
		})
	}
	// x/net's client, with one stream per worker and as many workers as the
	// limit: it holds the limit and opens a stream as soon as a body ends.
	// (More workers than the limit, with StrictMaxConcurrentStreams, stall
	// x/net's client with either server: golang/go#70809.)
	t.Run("go-client/body4096", func(t *testing.T) {
		body := make([]byte, 4096)
		for _, stock := range []bool{true, false} {
			t.Run(interopName(stock, false), func(t *testing.T) {
				hs := &http.Server{HTTP2: &http.HTTP2Config{MaxConcurrentStreams: 320},
					Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) })}
				s := startInterop(t, stock, false, hs, server.Config{})
				rec := experiment.NewRecorder()
				rec.MaxEvents = 1 << 20
				tr := &http2.Transport{AllowHTTP: true, StrictMaxConcurrentStreams: true,
					DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
						var d net.Dialer
						c, err := d.DialContext(ctx, network, addr)
						if err != nil {
							return nil, err
						}
						return rec.Wrap(c, experiment.ClientSide), nil
					}}
				t.Cleanup(tr.CloseIdleConnections)
				hc := &http.Client{Transport: tr, Timeout: 60 * time.Second}
				start := time.Now()
				o := callMany(5*calls, 320, func(int) error {
					res, err := hc.Get(s.url() + "/")
					if err != nil {
						if strings.Contains(err.Error(), "PROTOCOL_ERROR; received from peer") {
							return status.Error(codes.Internal, "stream terminated by RST_STREAM with error code: PROTOCOL_ERROR")
						}
						return status.Error(codes.Unavailable, err.Error())
					}
					defer res.Body.Close()
					if n, err := io.Copy(io.Discard, res.Body); err != nil || n != 4096 {
						return status.Errorf(codes.DataLoss, "body %d bytes, %v", n, err)
					}
					return nil
				})
				elapsed := time.Since(start)
				ok, failed := o.count("OK")
				raced, _ := o.count("Internal: stream terminated by RST_STREAM with error code: PROTOCOL_ERROR")
				resets := receivedResets(rec)
				t.Logf("%s (%s): %d GETs of 4096 B, 320 in flight, limit 320, %v: %d ok, %d failed %v; RST_STREAM received %v; %d connections",
					s.name, runtime.Version(), 5*calls, elapsed.Round(time.Millisecond), ok, failed, o, resets, len(rec.Conns()))
				if failed != raced {
					t.Errorf("%s: failures other than the race's: %v", s.name, o)
				}
				if !stock && (failed > 0 || len(resets) > 0) {
					t.Errorf("%s: %d requests failed, RST_STREAM received %v; want none below the advertised limit", s.name, failed, resets)
				}
			})
		}
	})
}

// spinCPU starts H2LIFECYCLE_INTEROP_SPIN goroutines (default none) that
// burn CPU until the returned function is called: contention that delays
// the HTTP/2 server's goroutines, as on the seed's loaded machine.
func spinCPU(t *testing.T) func() {
	n, _ := strconv.Atoi(os.Getenv("H2LIFECYCLE_INTEROP_SPIN"))
	if n <= 0 {
		return func() {}
	}
	t.Logf("%d goroutines burning CPU", n)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x := 0
			for {
				select {
				case <-stop:
					return
				default:
				}
				for i := range 100000 {
					x += i
				}
				runtime.Gosched()
			}
		}()
	}
	return func() { close(stop); wg.Wait() }
}

// receivedResets counts the RST_STREAM frames the client read, by code.
func receivedResets(rec *experiment.Recorder) map[string]int {
	out := map[string]int{}
	for _, c := range rec.Conns() {
		for _, e := range c.Events {
			if e.Type == http2.FrameRSTStream && e.Dir == experiment.Received {
				out[e.Code.String()]++
			}
		}
	}
	return out
}
