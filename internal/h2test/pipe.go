package h2test

import (
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Fake addresses: loopback only, like every network test in this project.
var (
	serverAddr = net.TCPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:8443"))
	nextPort   atomic.Uint32
)

func clientAddr() net.Addr {
	port := 40000 + nextPort.Add(1)%20000
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)))
}

// Pipe returns the two ends of an in-memory, full-duplex connection.
//
// Writes are buffered and return at once (see [PipeConn.SetWriteLimit] to
// make them block), reads return what is buffered, deadlines follow the
// (fake, inside synctest) clock, Close lets the peer read the buffered data
// and then io.EOF, and the addresses are 127.0.0.1. Both ends are *PipeConn.
func Pipe() (client, server net.Conn) {
	c, s := newPipe(clientAddr(), serverAddr)
	return c, s
}

func newPipe(caddr, saddr net.Addr) (client, server *PipeConn) {
	c2s, s2c := newPipeBuf(), newPipeBuf()
	client = newPipeConn(s2c, c2s, caddr, saddr)
	server = newPipeConn(c2s, s2c, saddr, caddr)
	return client, server
}

// PipeConn is one end of a connection made by [Pipe] or [Listener.Dial].
// It is safe for concurrent use.
type PipeConn struct {
	in, out       *pipeBuf // in: the peer writes, we read; out: the reverse
	local, remote net.Addr
	rdl, wdl      *deadline
	wlock         chan struct{} // serializes Writes; a channel so waiting on it is durably blocking
	closed        chan struct{} // closed by Close
	closeOnce     sync.Once
}

func newPipeConn(in, out *pipeBuf, local, remote net.Addr) *PipeConn {
	return &PipeConn{
		in: in, out: out,
		local: local, remote: remote,
		rdl:    newDeadline(),
		wdl:    newDeadline(),
		wlock:  make(chan struct{}, 1),
		closed: make(chan struct{}),
	}
}

// pipeBuf is one direction of a pipe.
type pipeBuf struct {
	mu       sync.Mutex
	buf      []byte // written, not yet read
	limit    int    // unread bytes above which writes block; negative: no limit
	eof      bool   // the writer is done: reads drain buf, then io.EOF
	rclosed  bool   // the reader closed: writes fail
	readable chan struct{}
	writable chan struct{}
}

func newPipeBuf() *pipeBuf {
	return &pipeBuf{
		limit:    -1,
		readable: make(chan struct{}, 1),
		writable: make(chan struct{}, 1),
	}
}

// wake leaves a token in a 1-buffered channel; waiters re-check state after
// taking it, so lost or extra tokens only cost a loop iteration.
func wake(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (c *PipeConn) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

func (c *PipeConn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "pipe", Source: c.local, Addr: c.remote, Err: err}
}

// Read reads buffered data, waiting for some if there is none. After the
// peer's Close or CloseWrite it returns the remaining data and then io.EOF.
func (c *PipeConn) Read(p []byte) (int, error) {
	b := c.in
	for {
		if c.isClosed() {
			return 0, c.opError("read", net.ErrClosed)
		}
		// As with a real socket, an expired deadline wins over buffered data.
		expired, reset := c.rdl.channels()
		if isDone(expired) {
			return 0, c.opError("read", os.ErrDeadlineExceeded)
		}
		b.mu.Lock()
		if len(b.buf) > 0 || len(p) == 0 {
			n := copy(p, b.buf)
			b.buf = b.buf[n:]
			more := len(b.buf) > 0
			if !more {
				b.buf = nil
			}
			b.mu.Unlock()
			wake(b.writable)
			if more {
				wake(b.readable) // for another concurrent reader
			}
			return n, nil
		}
		eof := b.eof
		b.mu.Unlock()
		if eof {
			wake(b.readable)
			return 0, io.EOF
		}
		select {
		case <-b.readable:
		case <-c.closed:
		case <-expired:
		case <-reset:
		}
	}
}

// Write appends p to the peer's read buffer. It blocks only while a write
// limit is in force and the peer has that many bytes unread; then it writes
// what fits and waits for the peer to read, like a socket with a full window.
func (c *PipeConn) Write(p []byte) (int, error) {
	if err := c.lockWrite(); err != nil {
		return 0, err
	}
	defer func() { <-c.wlock }()

	b := c.out
	n := 0
	for {
		if c.isClosed() {
			return n, c.opError("write", net.ErrClosed)
		}
		expired, reset := c.wdl.channels()
		if isDone(expired) {
			return n, c.opError("write", os.ErrDeadlineExceeded)
		}
		b.mu.Lock()
		switch {
		case b.eof:
			b.mu.Unlock()
			return n, c.opError("write", syscall.EPIPE) // after CloseWrite
		case b.rclosed:
			b.mu.Unlock()
			return n, c.opError("write", syscall.ECONNRESET) // the peer closed
		}
		room := len(p) - n
		if b.limit >= 0 {
			room = min(room, b.limit-len(b.buf))
		}
		if room > 0 {
			b.buf = append(b.buf, p[n:n+room]...)
			n += room
		}
		b.mu.Unlock()
		if room > 0 {
			wake(b.readable)
		}
		if n == len(p) {
			return n, nil
		}
		select {
		case <-b.writable:
		case <-c.closed:
		case <-expired:
		case <-reset:
		}
	}
}

func (c *PipeConn) lockWrite() error {
	for {
		expired, reset := c.wdl.channels()
		select {
		case c.wlock <- struct{}{}:
			return nil
		case <-c.closed:
			return c.opError("write", net.ErrClosed)
		case <-expired:
			return c.opError("write", os.ErrDeadlineExceeded)
		case <-reset:
		}
	}
}

// CloseWrite half-closes the connection: the peer reads the buffered data
// and then io.EOF; this end can still read. Later Writes fail.
func (c *PipeConn) CloseWrite() error {
	if c.isClosed() {
		return c.opError("close", net.ErrClosed)
	}
	b := c.out
	b.mu.Lock()
	b.eof = true
	b.mu.Unlock()
	wake(b.readable)
	wake(b.writable)
	return nil
}

// Close closes this end. The peer reads what was already written and then
// io.EOF; the peer's later writes fail. Unread incoming data is discarded.
// Blocked Reads and Writes on this end return net.ErrClosed.
func (c *PipeConn) Close() error {
	first := false
	c.closeOnce.Do(func() {
		first = true
		close(c.closed)
		c.rdl.stop()
		c.wdl.stop()

		out := c.out
		out.mu.Lock()
		out.eof = true
		out.mu.Unlock()
		wake(out.readable)
		wake(out.writable)

		in := c.in
		in.mu.Lock()
		in.rclosed = true
		in.buf = nil
		in.mu.Unlock()
		wake(in.writable)
		wake(in.readable)
	})
	if !first {
		return c.opError("close", net.ErrClosed)
	}
	return nil
}

// SetWriteLimit lets at most n bytes written by this end sit unread at the
// peer: a Write writes what fits and blocks for the rest until the peer
// reads, like a socket with a full TCP window. n == 0 stalls every Write
// until the limit changes; a negative n (the default) removes the limit.
func (c *PipeConn) SetWriteLimit(n int) {
	b := c.out
	b.mu.Lock()
	b.limit = n
	b.mu.Unlock()
	wake(b.writable)
}

// Buffered reports how many bytes the peer has written that this end has
// not read yet.
func (c *PipeConn) Buffered() int {
	b := c.in
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.buf)
}

// LocalAddr returns this end's fake 127.0.0.1 address.
func (c *PipeConn) LocalAddr() net.Addr { return c.local }

// RemoteAddr returns the peer's fake 127.0.0.1 address.
func (c *PipeConn) RemoteAddr() net.Addr { return c.remote }

// SetDeadline sets both the read and the write deadline.
func (c *PipeConn) SetDeadline(t time.Time) error {
	c.rdl.set(t)
	c.wdl.set(t)
	return nil
}

// SetReadDeadline sets the read deadline; it also affects blocked Reads.
func (c *PipeConn) SetReadDeadline(t time.Time) error {
	c.rdl.set(t)
	return nil
}

// SetWriteDeadline sets the write deadline; it also affects blocked Writes.
func (c *PipeConn) SetWriteDeadline(t time.Time) error {
	c.wdl.set(t)
	return nil
}

// deadline turns a settable point in time into channels a select can wait on.
type deadline struct {
	mu      sync.Mutex
	gen     uint64        // bumped by set, so a stale timer cannot fire
	timer   *time.Timer   // nil when no deadline is pending
	expired chan struct{} // closed when the current deadline has passed
	reset   chan struct{} // closed when the deadline changes: waiters re-read it
}

func newDeadline() *deadline {
	return &deadline{expired: make(chan struct{}), reset: make(chan struct{})}
}

func isDone(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func (d *deadline) channels() (expired, reset <-chan struct{}) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.expired, d.reset
}

func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.gen++
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
	close(d.reset)
	d.reset = make(chan struct{})
	if isDone(d.expired) {
		d.expired = make(chan struct{})
	}
	if t.IsZero() {
		return
	}
	wait := time.Until(t)
	if wait <= 0 {
		close(d.expired)
		return
	}
	gen := d.gen
	d.timer = time.AfterFunc(wait, func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.gen == gen && !isDone(d.expired) {
			close(d.expired)
		}
	})
}

func (d *deadline) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.gen++
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
}
