package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/h2lifecycle/h2lifecycle/server"
)

// The README's Quickstart, word for word (TestReadmeQuickstart keeps them
// identical). It is compiled, not run: it serves on :8443 with cert.pem
// and key.pem until SIGTERM.
func Example_quickstart() {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "hello over", r.Proto) })
	logger, err := zap.NewProduction()
	if err != nil {
		log.Fatal(err)
	}

	srv := &http.Server{Addr: ":8443", Handler: mux, IdleTimeout: 2 * time.Minute}
	h2, err := server.Wrap(srv, server.Config{}, server.WithLogger(logger))
	if err != nil {
		log.Fatal(err) // a bad setting, or HTTP/2 set up another way: the error names the fix
	}
	go func() {
		if err := srv.ListenAndServeTLS("cert.pem", "key.pem"); !errors.Is(err, http.ErrServerClosed) {
			log.Fatal(err)
		}
	}()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	<-ctx.Done() // SIGTERM
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	// Or srv.Shutdown: either way every HTTP/2 connection drains two-phase.
	if err := h2.Shutdown(shutdownCtx); err != nil {
		log.Print(err) // the deadline came first: the streams still open were reset
	}
}

// h2cClient speaks HTTP/2 with prior knowledge (h2c), as the examples'
// servers do so that they need no certificate; TLS works the same.
func h2cClient() *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: &p}, Timeout: 10 * time.Second}
}

// startExample wraps srv and serves it over h2c on 127.0.0.1, and returns
// the wrapper and the server's URL.
func startExample(srv *http.Server) (*server.Server, string) {
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv.Protocols = &p
	h2, err := server.Wrap(srv, server.Config{})
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(ln)
	return h2, "http://" + ln.Addr().String()
}

func get(c *http.Client, url string) string {
	resp, err := c.Get(url)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return fmt.Sprintf("%d %s", resp.StatusCode, body)
}

func ExampleWrap() {
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true) // h2c with prior knowledge; TLS ("h2") is supervised the same way
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, "hello over ", r.Proto)
		}),
		Protocols: &protocols,
	}
	h2, err := server.Wrap(srv, server.Config{}) // before srv serves
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(ln)
	defer h2.Close()

	client := h2cClient()
	defer client.CloseIdleConnections()
	fmt.Println(get(client, "http://"+ln.Addr().String()))
	fmt.Println("supervised connections:", len(h2.Snapshot()))
	// Output:
	// 200 hello over HTTP/2.0
	// supervised connections: 1
}

func ExampleServer_Shutdown() {
	started, shuttingDown := make(chan struct{}), make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-shuttingDown // a request still in flight when the shutdown begins
		fmt.Fprint(w, "done")
	})}
	h2, url := startExample(srv)
	srv.RegisterOnShutdown(func() { close(shuttingDown) })
	client := h2cClient()
	defer client.CloseIdleConnections()
	answer := make(chan string, 1)
	go func() { answer <- get(client, url) }()
	<-started

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Listeners close; the connection drains two-phase: its request is
	// served, then it closes, and Shutdown returns.
	fmt.Println("shutdown:", h2.Shutdown(ctx))
	fmt.Println("request in flight:", <-answer)
	// Output:
	// shutdown: <nil>
	// request in flight: 200 done
}

func ExampleServer_Drain() {
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "ok")
	})}
	h2, url := startExample(srv)
	defer h2.Close()
	client := h2cClient()
	defer client.CloseIdleConnections()
	fmt.Println("before:", get(client, url), len(h2.Snapshot()), "connection")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Every connection open now drains and closes; the listener stays
	// open (connection rotation), and the client simply reconnects.
	fmt.Println("drain:", h2.Drain(ctx))
	fmt.Println("after:", get(client, url))
	// Output:
	// before: 200 ok 1 connection
	// drain: <nil>
	// after: 200 ok
}

func ExampleServer_ShutdownOnSignal() {
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "ok")
	})}
	h2, url := startExample(srv)
	client := h2cClient()
	defer client.CloseIdleConnections()
	get(client, url) // one HTTP/2 connection, idle now

	// In a program: ctx is the program's, and SIGTERM starts the shutdown
	// (a second signal forces it). Here ctx ends at once instead.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rep, err := h2.ShutdownOnSignal(ctx, server.ShutdownPlan{
		DeregistrationDelay: 10 * time.Millisecond, // Kubernetes: ~10s, while endpoints update
		Grace:               5 * time.Second,
		TerminationBudget:   30 * time.Second, // terminationGracePeriodSeconds
	})
	fmt.Printf("connections %d, drained %d, streams cut %d, err %v\n", rep.Connections, rep.Drained, rep.StreamsCut, err)
	// Output:
	// connections 1, drained 1, streams cut 0, err <nil>
}

func ExampleServer_ReadinessHandler() {
	srv := &http.Server{}
	h2, err := server.Wrap(srv, server.Config{})
	if err != nil {
		log.Fatal(err)
	}
	ready := h2.ReadinessHandler() // mount it as the readiness probe: mux.Handle("/ready", ready)
	probe := func() {
		rec := httptest.NewRecorder()
		ready.ServeHTTP(rec, httptest.NewRequest("GET", "/ready", nil))
		fmt.Print(rec.Code, " ", rec.Body)
	}
	probe()
	if _, err := h2.RunShutdown(context.Background(), server.ShutdownPlan{}); err != nil {
		log.Fatal(err)
	}
	probe()
	// Output:
	// 200 ready
	// 503 shutting down
}
