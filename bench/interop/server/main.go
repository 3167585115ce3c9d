// Command server is the HTTP/2 server the interop bench scripts run real
// clients against (bench/interop/*.sh): the stock server (net/http with
// http2.ConfigureServer) or the same http.Server wrapped by h2lifecycle,
// over TLS (an in-memory self-signed certificate for 127.0.0.1) or h2c.
//
//	go run ./bench/interop/server -kind h2lifecycle -tls -idle-timeout 300ms
//	go run ./bench/interop/server -kind stock -tls -idle-timeout 300ms
//
// Paths:
//
//	/             the browser page of hazard 4 (DESIGN.md; browser.sh): fetches /ok in sequence,
//	              pausing ?lo= to ?hi= ms before each (default 280–320), ?n= of them
//	              (default 200), odd ones POSTs with a 1 KiB string body (not
//	              streamed), then POSTs its counts to /report
//	/ok           200 "ok" (a POST's body is read first)
//	/slow         200 "ok" after ?ms= milliseconds (default 200)
//	/drain        like /slow, and ends every connection ?after= ms (default 50) after
//	              it arrives: h2lifecycle drains them (two-phase), the stock server
//	              shuts down (one GOAWAY each); for nghttp -v (nghttp.sh)
//	/report       the page's counts: printed on stdout as "REPORT {json}"
//
// With -record (h2c), the server's end of every connection is decoded and
// the streams that reached it are counted, so that a client's count can be
// checked against what it really sent.
//
// It prints "listening on HOST:PORT" first. On SIGTERM or SIGINT it shuts
// down and prints "served N requests (M ok /ok, ...)" — the server's side of
// the count, to compare with what a client says it lost.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/net/http2"

	"github.com/h2lifecycle/h2lifecycle/bench/experiment"
	"github.com/h2lifecycle/h2lifecycle/idle"
	"github.com/h2lifecycle/h2lifecycle/internal/h2test"
	"github.com/h2lifecycle/h2lifecycle/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(2)
	}
}

var served, okServed, slowServed atomic.Int64

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	kind := fs.String("kind", "h2lifecycle", "stock or h2lifecycle")
	addr := fs.String("addr", "127.0.0.1:0", "address to listen on")
	useTLS := fs.Bool("tls", false, "serve h2 over TLS (self-signed certificate for 127.0.0.1); otherwise h2c")
	idleTimeout := fs.Duration("idle-timeout", 0, "http.Server.IdleTimeout")
	maxAge := fs.Duration("max-connection-age", 0, "h2lifecycle: idle.Policy.MaxConnectionAge")
	maxStreams := fs.Int("max-concurrent-streams", 0, "http.Server.HTTP2.MaxConcurrentStreams (0: default 250)")
	record := fs.Bool("record", false, "h2c: record the frames of every connection on the server's side and print, at exit, the streams each received (all, and after its first GOAWAY)")
	logLevel := zapcore.InfoLevel
	fs.Var(&logLevel, "log-level", "h2lifecycle's log level (stderr)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()),
		zapcore.Lock(os.Stderr), logLevel))
	defer log.Sync()

	var p http.Protocols
	p.SetHTTP1(true)
	if *useTLS {
		p.SetHTTP2(true)
	} else {
		p.SetUnencryptedHTTP2(true)
	}
	hs := &http.Server{Protocols: &p, IdleTimeout: *idleTimeout, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: quiet()}
	if *maxStreams > 0 {
		hs.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: *maxStreams}
	}
	var endAll func()
	switch *kind {
	case "stock":
		if err := http2.ConfigureServer(hs, &http2.Server{}); err != nil {
			return err
		}
		endAll = func() { go hs.Shutdown(context.Background()) }
	case "h2lifecycle":
		h2, err := server.Wrap(hs, server.Config{Policy: idle.Policy{MaxConnectionAge: *maxAge}}, server.WithLogger(log))
		if err != nil {
			return err
		}
		endAll = func() {
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				h2.Drain(ctx)
			}()
		}
	default:
		return fmt.Errorf("-kind must be stock or h2lifecycle, got %q", *kind)
	}
	hs.Handler = handler(endAll)

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	var rec *experiment.Recorder
	if *record && !*useTLS {
		rec = experiment.NewRecorder()
		ln = rec.Listener(ln)
	}
	if *useTLS {
		hs.TLSConfig = h2test.ServerTLSConfig()
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	serveErr := make(chan error, 1)
	go func() {
		if *useTLS {
			serveErr <- hs.ServeTLS(ln, "", "")
		} else {
			serveErr <- hs.Serve(ln)
		}
	}()
	select {
	case err := <-serveErr:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		// A stock /drain shut the server down: wait for the signal.
		<-ctx.Done()
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		hs.Shutdown(sctx)
		cancel()
	}
	if rec != nil {
		var streams, after, goAways int
		for _, c := range rec.Conns() {
			streams += c.StreamsReceived
			after += c.StreamsReceivedAfterGoAway
			goAways += c.GoAwaysSent
		}
		fmt.Printf("recorded %d connections: %d streams received, %d of them after the connection's first GOAWAY; %d GOAWAYs sent\n",
			len(rec.Conns()), streams, after, goAways)
	}
	fmt.Printf("served %d requests (%d /ok, %d /slow or /drain)\n", served.Load(), okServed.Load(), slowServed.Load())
	return nil
}

func handler(endAll func()) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		io.WriteString(w, page)
	})
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		served.Add(1)
		okServed.Add(1)
		w.Header().Set("Cache-Control", "no-store")
		io.WriteString(w, "ok")
	})
	slow := func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		slowServed.Add(1)
		t := time.NewTimer(msParam(r, "ms", 200))
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
		io.WriteString(w, "ok\n")
	}
	mux.HandleFunc("/slow", slow)
	mux.HandleFunc("/drain", func(w http.ResponseWriter, r *http.Request) {
		time.AfterFunc(msParam(r, "after", 50), endAll)
		slow(w, r)
	})
	mux.HandleFunc("POST /report", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		fmt.Printf("REPORT %s\n", b)
		io.WriteString(w, "thanks")
	})
	mux.HandleFunc("/favicon.ico", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	return mux
}

func msParam(r *http.Request, name string, def int) time.Duration {
	if v, err := strconv.Atoi(r.URL.Query().Get(name)); err == nil && v >= 0 {
		return time.Duration(v) * time.Millisecond
	}
	return time.Duration(def) * time.Millisecond
}

func quiet() *log.Logger { return log.New(io.Discard, "", 0) }

// page fetches /ok in sequence with pauses straddling the idle timeout, half
// of them POSTs with an ordinary string body: Chromium fails fetch uploads
// with a streamed body that were not yet sent when any GOAWAY arrives
// (DESIGN.md, rule 10), so the bodies here are plain strings.
const page = `<!doctype html>
<meta charset="utf-8">
<title>running</title>
<pre id="log"></pre>
<script>
const q = new URLSearchParams(location.search);
const n = +(q.get("n") || 200), lo = +(q.get("lo") || 280), hi = +(q.get("hi") || 320);
const body = "x".repeat(1024);
const counts = {n, ok: 0, failed: 0, gets: 0, posts: 0, failedGets: 0, failedPosts: 0, errors: {}};
const sleep = ms => new Promise(r => setTimeout(r, ms));
async function one(i) {
  const post = i % 2 === 1;
  post ? counts.posts++ : counts.gets++;
  try {
    const r = await fetch("/ok?i=" + i, post ? {method: "POST", body} : {cache: "no-store"});
    const t = await r.text();
    if (r.status === 200 && t === "ok") { counts.ok++; return; }
    throw new Error("status " + r.status + " body " + t.slice(0, 40));
  } catch (e) {
    counts.failed++;
    post ? counts.failedPosts++ : counts.failedGets++;
    const k = String(e);
    counts.errors[k] = (counts.errors[k] || 0) + 1;
  }
}
(async () => {
  for (let i = 0; i < n; i++) {
    await sleep(lo + Math.random() * (hi - lo));
    await one(i);
    document.getElementById("log").textContent = JSON.stringify(counts);
  }
  for (let i = 0; i < 5; i++) {
    try { await fetch("/report", {method: "POST", body: JSON.stringify(counts)}); break; } catch (e) { await sleep(100); }
  }
  document.title = "done";
})();
</script>
`
