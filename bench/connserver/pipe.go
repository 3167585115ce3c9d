package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"golang.org/x/net/http2"
)

// pipeListener hands the server in-memory connections (net.Pipe): no
// descriptor per connection, so one process can hold more idle connections
// than its open-file limit allows (bench/memory's PIPE=1, 50,000 here where
// the limit is 20,000). Both ends live in this process: the client ends and
// the pipes cost the same for both kinds of server, so h2lifecycle's added
// memory is still the difference of the two.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once

	// The client ends, held as a client process would hold them (so that
	// both kinds' figures include them alike). Only open, on the command
	// loop, touches them.
	clients []net.Conn
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// open makes n idle h2c connections, parallel at a time: each sends the
// preface and SETTINGS, ACKs the server's SETTINGS, reads the ACK of its own
// and the server's connection WINDOW_UPDATE (both servers send one, after
// the ACK), then is left alone, its goroutine gone. An idle server writes
// nothing more; a write it did make would block (net.Pipe has no buffer) and
// show as a goroutine per connection in stats.
func (l *pipeListener) open(n, parallel int) error {
	errs := make(chan error, n)
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for range n {
		cli, srv := net.Pipe()
		select {
		case l.conns <- srv:
		case <-time.After(10 * time.Second):
			return errors.New("the server did not accept a connection in 10s")
		}
		l.clients = append(l.clients, cli)
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := handshake(cli); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return fmt.Errorf("%d of %d handshakes failed; the first: %w", len(errs)+1, n, err)
	}
	return nil
}

var clientPreface = func() []byte {
	var b bytes.Buffer
	b.WriteString(http2.ClientPreface)
	http2.NewFramer(&b, nil).WriteSettings()
	return b.Bytes()
}()

func handshake(c net.Conn) error {
	c.SetDeadline(time.Now().Add(30 * time.Second))
	defer c.SetDeadline(time.Time{})
	wrote := make(chan error, 1)
	go func() { _, err := c.Write(clientPreface); wrote <- err }()
	written := false
	waitWrite := func() error {
		if written {
			return nil
		}
		written = true
		return <-wrote
	}
	fr := http2.NewFramer(c, c)
	var settings, acked, window bool
	for !settings || !acked || !window {
		f, err := fr.ReadFrame()
		if err != nil {
			return err
		}
		if wf, ok := f.(*http2.WindowUpdateFrame); ok && wf.StreamID == 0 {
			window = true
		}
		sf, ok := f.(*http2.SettingsFrame)
		switch {
		case !ok:
		case sf.IsAck():
			acked = true
		default:
			settings = true
			if err := waitWrite(); err != nil { // the ACK goes after the preface
				return err
			}
			if err := fr.WriteSettingsAck(); err != nil {
				return err
			}
		}
	}
	return waitWrite()
}
