// Command idleclient opens N raw HTTP/2 (h2c, prior knowledge) connections
// to one server on 127.0.0.1 and holds them idle, the client side of the
// memory and drain measurements (bench/memory, bench/drain). It runs in its
// own process: with the server's, 10,000 connections need 20,000
// descriptors, the per-process limit here.
//
//	idleclient -addr HOST:PORT -n 10000 [-inflight 0] [-close-on-goaway]
//
// Each connection sends the preface and SETTINGS, ACKs the server's
// SETTINGS and every PING, and closes when the server closes (EOF), as
// curl's and nghttp2's connections do; with -close-on-goaway it closes as
// soon as a GOAWAY arrives while it has no stream open, as Go's client
// does. With -inflight D every connection first sends one GET /?delay=D and
// keeps that stream open until its response ends.
//
// It prints "ready N" once every connection's SETTINGS were ACKed by the
// server, then, when every connection is closed (or at -timeout), one JSON
// line: how many closed cleanly, how many failed, the unix time of the last
// EOF, the GOAWAYs seen, and whether every in-flight response arrived. It
// also exits, closing everything, on SIGTERM.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

func main() {
	addr := flag.String("addr", "", "server address (127.0.0.1:PORT)")
	n := flag.Int("n", 1000, "connections")
	parallel := flag.Int("parallel", 32, "connections being set up at once")
	inflight := flag.Duration("inflight", 0, "if > 0, each connection keeps one GET /?delay=D open")
	closeOnGoAway := flag.Bool("close-on-goaway", false, "close on a GOAWAY when no stream is open (Go's client), not only on EOF")
	timeout := flag.Duration("timeout", 5*time.Minute, "give up after this long")
	flag.Parse()
	host, _, err := net.SplitHostPort(*addr)
	if err != nil || host != "127.0.0.1" {
		log.Fatalf("-addr must be 127.0.0.1:PORT, got %q", *addr)
	}
	c := &client{addr: *addr, inflight: *inflight, closeOnGoAway: *closeOnGoAway}
	c.prepare()
	deadline := time.Now().Add(*timeout)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, os.Interrupt)

	conns := make([]*conn, *n)
	var wg sync.WaitGroup
	ready := make(chan struct{}, *n)
	sem := make(chan struct{}, *parallel)
	for i := range conns {
		sem <- struct{}{}
		cn, err := c.dial()
		if err != nil {
			log.Fatalf("connection %d: %v", i, err)
		}
		conns[i] = cn
		wg.Add(1)
		go func() {
			defer wg.Done()
			cn.run(func() { ready <- struct{}{}; <-sem })
		}()
	}
	for range *n {
		select {
		case <-ready:
		case <-sigs:
			closeAll(conns)
			os.Exit(1)
		case <-time.After(time.Until(deadline)):
			log.Fatalf("not every connection was ready within -timeout")
		}
	}
	fmt.Printf("ready %d\n", *n)

	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-sigs:
		closeAll(conns)
		<-done
	case <-time.After(time.Until(deadline)):
		log.Printf("-timeout: closing the connections still open")
		closeAll(conns)
		<-done
	}
	var r result
	r.N = *n
	for _, cn := range conns {
		if cn.err != nil {
			r.Failed++
			if r.FirstError == "" {
				r.FirstError = cn.err.Error()
			}
		} else {
			r.Clean++
		}
		if cn.eofAt > r.LastEOF {
			r.LastEOF = cn.eofAt
		}
		r.GoAways += cn.goAways
		if cn.inflightOK {
			r.Responses++
		}
	}
	json.NewEncoder(os.Stdout).Encode(r)
}

type result struct {
	N          int    `json:"n"`
	Clean      int    `json:"clean"`  // closed by EOF (or by us on GOAWAY) with no error
	Failed     int    `json:"failed"` // read errors, resets, timeouts
	FirstError string `json:"first_error,omitempty"`
	LastEOF    int64  `json:"last_close_unix_ns"`
	GoAways    int    `json:"goaways"`
	Responses  int    `json:"responses"` // in-flight responses that ended with END_STREAM
}

type client struct {
	addr          string
	inflight      time.Duration
	closeOnGoAway bool
	hello         []byte // preface + SETTINGS (+ the in-flight GET)
	settingsAck   []byte
}

func (c *client) prepare() {
	var b bytes.Buffer
	b.WriteString(http2.ClientPreface)
	fr := http2.NewFramer(&b, nil)
	fr.WriteSettings()
	if c.inflight > 0 {
		var hb bytes.Buffer
		enc := hpack.NewEncoder(&hb)
		for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", c.addr}, {":path", "/?delay=" + c.inflight.String()}} {
			enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
		}
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndStream: true, EndHeaders: true})
	}
	c.hello = bytes.Clone(b.Bytes())
	b.Reset()
	fr.WriteSettingsAck()
	c.settingsAck = bytes.Clone(b.Bytes())
}

type conn struct {
	c          *client
	nc         net.Conn
	wmu        sync.Mutex
	closed     atomic.Bool
	err        error
	eofAt      int64
	goAways    int
	inflightOK bool
}

func (c *client) dial() (*conn, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	nc, err := d.Dial("tcp", c.addr)
	if err != nil {
		return nil, err
	}
	return &conn{c: c, nc: nc}, nil
}

func (cn *conn) write(b []byte) error {
	cn.wmu.Lock()
	defer cn.wmu.Unlock()
	_, err := cn.nc.Write(b)
	return err
}

// run serves the connection until the server closes it; ready is called
// once the server has ACKed our SETTINGS.
func (cn *conn) run(ready func()) {
	defer cn.nc.Close()
	signalled := false
	defer func() {
		if !signalled {
			ready() // never leave the main loop waiting
		}
	}()
	if err := cn.write(cn.c.hello); err != nil {
		cn.err = err
		return
	}
	fr := http2.NewFramer(nil, bufio.NewReaderSize(cn.nc, 1024))
	streamOpen := cn.c.inflight > 0
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			switch {
			case cn.closed.Load():
			case errors.Is(err, io.EOF):
				cn.eofAt = time.Now().UnixNano()
			default:
				cn.err = err
			}
			return
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				if err := cn.write(cn.c.settingsAck); err != nil {
					cn.err = err
					return
				}
			} else if !signalled {
				signalled = true
				ready()
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				var b bytes.Buffer
				http2.NewFramer(&b, nil).WritePing(true, f.Data)
				if err := cn.write(b.Bytes()); err != nil {
					cn.err = err
					return
				}
			}
		case *http2.DataFrame:
			if f.StreamID == 1 && f.StreamEnded() {
				streamOpen, cn.inflightOK = false, true
			}
		case *http2.HeadersFrame:
			if f.StreamID == 1 && f.StreamEnded() {
				streamOpen, cn.inflightOK = false, true
			}
		case *http2.RSTStreamFrame:
			if f.StreamID == 1 {
				streamOpen = false
			}
		case *http2.GoAwayFrame:
			cn.goAways++
			if f.ErrCode != http2.ErrCodeNo {
				cn.err = fmt.Errorf("GOAWAY %v", f.ErrCode)
			}
		}
		if cn.c.closeOnGoAway && cn.goAways > 0 && !streamOpen {
			cn.eofAt = time.Now().UnixNano()
			return
		}
	}
}

func closeAll(conns []*conn) {
	for _, cn := range conns {
		if cn != nil {
			cn.closed.Store(true)
			cn.nc.Close()
		}
	}
}
