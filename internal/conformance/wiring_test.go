package conformance

import (
	"bytes"
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/h2lifecycle/h2lifecycle/internal/h2test"
	"golang.org/x/net/http2"
)

// wiring is how a supervised connection's HTTP/2 server is reached: x/net's
// ServeConn with ServeConnOpts.BaseConfig nil or the throwaway, or (Go 1.27)
// net/http's own HTTP/2 server through the hook x/net uses (package h2hook).
type wiring int

const (
	baseConfigNil       wiring = iota // ServeConnOpts.BaseConfig == nil
	baseConfigThrowaway               // ServeConnOpts.BaseConfig == the throwaway
	netHTTPHook                       // h2hook.Register on the throwaway, no x/net
)

func (w wiring) String() string {
	switch w {
	case baseConfigThrowaway:
		return "BaseConfig=throwaway"
	case netHTTPHook:
		return "net/http hook"
	}
	return "BaseConfig=nil"
}

// chosen is the wiring h2lifecycle uses on this toolchain.
func chosen() wiring { return chosenWiring }

// register configures h2 on hs, the throwaway, with wiring w, and returns
// the function that serves a connection.
func register(w wiring, hs *http.Server, h2 *http2.Server) (func(net.Conn, *http2.ServeConnOpts), error) {
	if w == netHTTPHook {
		return registerHook(hs, h2)
	}
	if err := http2.ConfigureServer(hs, h2); err != nil {
		return nil, err
	}
	return func(nc net.Conn, opts *http2.ServeConnOpts) {
		if w == baseConfigThrowaway {
			opts.BaseConfig = hs
		}
		h2.ServeConn(nc, opts)
	}, nil
}

// connConfig describes one supervised connection.
type connConfig struct {
	wiring  wiring // zero value: BaseConfig nil; use chosen() for the real wiring
	handler http.Handler
	// before runs before HTTP/2 is configured; after runs after it, before
	// the connection is served. With the net/http hook, h2 only carries
	// settings, read at each use (as x/net's ConfigureServer does there).
	before, after func(hs *http.Server, h2 *http2.Server)
	ctx           context.Context
	sawPreface    bool
}

// supervised is a connection served the way h2lifecycle serves one: its own
// HTTP/2 server registered on its own throwaway http.Server.
type supervised struct {
	hs   *http.Server // the throwaway: hs.Shutdown is the per-connection shutdown handle
	h2   *http2.Server
	conn net.Conn      // what ServeConn got
	done chan struct{} // closed when ServeConn returns
	log  *logBuffer    // the throwaway's ErrorLog
}

// serve starts ServeConn on nc and stops it when the test ends.
func serve(t *testing.T, nc net.Conn, cfg connConfig) *supervised {
	t.Helper()
	s := &supervised{
		hs:   &http.Server{},
		h2:   &http2.Server{},
		conn: nc,
		done: make(chan struct{}),
		log:  new(logBuffer),
	}
	// Server logs go to a buffer: the server may log after the test's end.
	s.hs.ErrorLog = log.New(s.log, "", 0)
	if cfg.before != nil {
		cfg.before(s.hs, s.h2)
	}
	serveConn, err := register(cfg.wiring, s.hs, s.h2)
	if err != nil {
		t.Fatalf("%v: configuring HTTP/2: %v", cfg.wiring, err)
	}
	if cfg.after != nil {
		cfg.after(s.hs, s.h2)
	}
	opts := &http2.ServeConnOpts{
		Context:          cfg.ctx,
		Handler:          cfg.handler,
		SawClientPreface: cfg.sawPreface,
	}
	if opts.Handler == nil {
		opts.Handler = http.NotFoundHandler()
	}
	go func() {
		defer close(s.done)
		serveConn(nc, opts)
	}()
	t.Cleanup(func() {
		nc.Close()
		<-s.done
	})
	return s
}

// pipeConn serves a supervised connection on an in-memory pipe and returns
// a raw client for the other end. Call it inside a synctest bubble.
func pipeConn(t *testing.T, cfg connConfig) (*h2test.Client, *supervised) {
	t.Helper()
	cli, srv := h2test.Pipe()
	s := serve(t, srv, cfg)
	return h2test.NewClient(t, cli), s
}

type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// gates is a handler whose requests block on a per-path gate: a request for
// /block/NAME waits until open("NAME") (or its stream ends); anything else
// answers at once. The body is the path. started reports each request's path.
type gates struct {
	mu      sync.Mutex
	gate    map[string]chan struct{}
	started chan string
}

func newGates() *gates {
	return &gates{gate: make(map[string]chan struct{}), started: make(chan string, 100)}
}

func (g *gates) ch(name string) chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	ch, ok := g.gate[name]
	if !ok {
		ch = make(chan struct{})
		g.gate[name] = ch
	}
	return ch
}

func (g *gates) open(name string) { close(g.ch(name)) }

func (g *gates) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.started <- r.URL.Path
	if name, ok := strings.CutPrefix(r.URL.Path, "/block/"); ok {
		select {
		case <-g.ch(name):
		case <-r.Context().Done():
			return
		}
	}
	io.WriteString(w, r.URL.Path)
}

// waitStarted waits for the handler of path to start.
func (g *gates) waitStarted(t *testing.T, path string) {
	t.Helper()
	for range 100 {
		select {
		case p := <-g.started:
			if p == path {
				return
			}
		case <-time.After(h2test.DefaultTimeout):
			t.Fatalf("handler for %s did not start within %v", path, h2test.DefaultTimeout)
		}
	}
	t.Fatalf("handler for %s did not start in 100 requests", path)
}

// noneStarted fails if any handler started since the last wait; call it
// after synctest.Wait.
func (g *gates) noneStarted(t *testing.T, why string) {
	t.Helper()
	select {
	case p := <-g.started:
		t.Fatalf("handler for %s started: %s", p, why)
	default:
	}
}

// seen is what a read loop saw of a frame: enough to assert on after the
// frame's buffers are reused.
type seen struct {
	http2.FrameHeader
	summary   string
	goAway    *goAwayInfo
	rstCode   http2.ErrCode
	increment uint32
	data      []byte
	fields    map[string]string // header block fields (last value wins)
}

type goAwayInfo struct {
	last uint32
	code http2.ErrCode
}

func record(f http2.Frame) seen {
	s := seen{FrameHeader: f.Header(), summary: h2test.Summarize(f)}
	switch f := f.(type) {
	case *http2.GoAwayFrame:
		s.goAway = &goAwayInfo{f.LastStreamID, f.ErrCode}
	case *http2.RSTStreamFrame:
		s.rstCode = f.ErrCode
	case *http2.WindowUpdateFrame:
		s.increment = f.Increment
	case *http2.DataFrame:
		s.data = bytes.Clone(f.Data())
	case *http2.MetaHeadersFrame:
		s.fields = make(map[string]string)
		for _, hf := range f.Fields {
			s.fields[hf.Name] = hf.Value
		}
	}
	return s
}

// syncSeen writes a PING and returns every frame read before its ACK.
func syncSeen(t *testing.T, c *h2test.Client, tag byte) []seen {
	t.Helper()
	data := [8]byte{'c', 'o', 'n', 'f', 's', 'y', 'n', tag}
	c.WritePing(data)
	var got []seen
	_, err := c.ReadUntil(func(f http2.Frame) bool {
		if p, ok := f.(*http2.PingFrame); ok && p.IsAck() && p.Data == data {
			return true
		}
		got = append(got, record(f))
		return false
	})
	if err != nil {
		t.Fatalf("waiting for PING ACK: %v", err)
	}
	return got
}

// readUntilClosed records every frame until the server closes the conn.
func readUntilClosed(t *testing.T, c *h2test.Client) []seen {
	t.Helper()
	var got []seen
	if err := c.ReadUntilClosed(func(f http2.Frame) { got = append(got, record(f)) }); err != nil {
		t.Fatalf("reading until the server closes: %v", err)
	}
	return got
}

func summaries(ss []seen) string {
	var b strings.Builder
	for _, s := range ss {
		b.WriteString("\n  ")
		b.WriteString(s.summary)
	}
	if b.Len() == 0 {
		return " (none)"
	}
	return b.String()
}

// firstGoAway returns the first GOAWAY among ss, or nil.
func firstGoAway(ss []seen) *goAwayInfo {
	for _, s := range ss {
		if s.goAway != nil {
			return s.goAway
		}
	}
	return nil
}

// expectQuiet fails, saying why it matters, if any frame arrives within d
// or the connection ends. Only meaningful inside a synctest bubble after
// synctest.Wait, where "nothing within d" is a fact, not a guess.
func expectQuiet(t *testing.T, c *h2test.Client, d time.Duration, why string) {
	t.Helper()
	old := c.Timeout
	c.Timeout = d
	f, err := c.ReadFrame()
	c.Timeout = old
	switch {
	case err == nil:
		t.Fatalf("%s: got %s within %v: %s", toolchainName, h2test.Summarize(f), d, why)
	case !h2test.IsTimeout(err):
		t.Fatalf("%s: connection failed (%v) within %v: %s", toolchainName, err, d, why)
	}
}

type clientT = h2test.Client

func newDiscardLogger() *log.Logger { return log.New(io.Discard, "", 0) }
