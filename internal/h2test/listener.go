package h2test

import (
	"context"
	"net"
	"sync"
)

// Listener is an in-memory net.Listener: [Listener.Dial] creates a [Pipe]
// whose server end the next Accept returns. An http.Server can Serve it,
// inside a synctest bubble too.
type Listener struct {
	mu     sync.Mutex
	queue  []*PipeConn   // dialed, not yet accepted
	ready  chan struct{} // token: the queue may be non-empty
	done   chan struct{} // closed by Close
	closed bool
}

// NewListener returns a listener on the fake address 127.0.0.1:8443.
func NewListener() *Listener {
	return &Listener{
		ready: make(chan struct{}, 1),
		done:  make(chan struct{}),
	}
}

// Accept waits for and returns the server end of the next dialed connection.
// After Close it returns net.ErrClosed.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			return nil, &net.OpError{Op: "accept", Net: "pipe", Addr: serverAddr, Err: net.ErrClosed}
		}
		if len(l.queue) > 0 {
			c := l.queue[0]
			l.queue = l.queue[1:]
			more := len(l.queue) > 0
			l.mu.Unlock()
			if more {
				wake(l.ready)
			}
			return c, nil
		}
		l.mu.Unlock()
		select {
		case <-l.ready:
		case <-l.done:
		}
	}
}

// Close stops Accept and closes the connections dialed but not accepted;
// accepted connections stay open.
func (l *Listener) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return &net.OpError{Op: "close", Net: "pipe", Addr: serverAddr, Err: net.ErrClosed}
	}
	l.closed = true
	pending := l.queue
	l.queue = nil
	l.mu.Unlock()
	close(l.done)
	for _, c := range pending {
		c.Close()
	}
	return nil
}

// Addr returns the fake listening address, 127.0.0.1:8443.
func (l *Listener) Addr() net.Addr { return serverAddr }

// Dial connects to the listener and returns the client end. It does not wait
// for Accept (like a TCP connect completing in the kernel's backlog).
func (l *Listener) Dial() (net.Conn, error) {
	client, server := newPipe(clientAddr(), serverAddr)
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, &net.OpError{Op: "dial", Net: "pipe", Addr: serverAddr, Err: net.ErrClosed}
	}
	l.queue = append(l.queue, server)
	l.mu.Unlock()
	wake(l.ready)
	return client, nil
}

// DialContext is Dial with the signature of net.Dialer.DialContext, for
// http.Transport.DialContext. The network and address are ignored.
func (l *Listener) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return l.Dial()
}
