package lifecycle

import (
	"bytes"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/h2lifecycle/h2lifecycle/drain"
	"github.com/h2lifecycle/h2lifecycle/internal/frame"
	"github.com/h2lifecycle/h2lifecycle/internal/h2test"
)

// recConn is a net.Conn that records what is written to it and reads from a
// fixed input.
type recConn struct {
	mu     sync.Mutex
	out    bytes.Buffer
	in     *bytes.Reader
	closed bool
	shut   bool
}

func newRecConn(in []byte) *recConn { return &recConn{in: bytes.NewReader(in)} }

func (c *recConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.in.Read(p)
}

func (c *recConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.shut {
		return 0, net.ErrClosed
	}
	return c.out.Write(p)
}

func (c *recConn) CloseWrite() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.shut = true
	return nil
}

func (c *recConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	return nil
}

func (c *recConn) written() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.out.Bytes())
}

var loopback = net.TCPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:443"))

func (c *recConn) LocalAddr() net.Addr                { return loopback }
func (c *recConn) RemoteAddr() net.Addr               { return loopback }
func (c *recConn) SetDeadline(t time.Time) error      { return nil }
func (c *recConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *recConn) SetWriteDeadline(t time.Time) error { return nil }

// serverStream returns what an HTTP/2 server writes: its SETTINGS, then
// responses, some with header blocks split over CONTINUATION frames, and the
// offsets where each frame starts.
func serverStream(t testing.TB, rng *rand.Rand) []byte {
	var buf bytes.Buffer
	fr := http2.NewFramer(&buf, nil)
	fr.WriteSettings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 250})
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for id := uint32(1); id < 40; id += 2 {
		hb.Reset()
		enc.WriteField(hpack.HeaderField{Name: ":status", Value: "200"})
		enc.WriteField(hpack.HeaderField{Name: "x-pad", Value: string(bytes.Repeat([]byte{'p'}, rng.IntN(3000)))})
		block := hb.Bytes()
		if cut := rng.IntN(len(block)); rng.IntN(2) == 0 && cut > 0 {
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block[:cut]})
			fr.WriteContinuation(id, true, block[cut:])
		} else {
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block, EndHeaders: true})
		}
		fr.WriteData(id, true, bytes.Repeat([]byte{'d'}, rng.IntN(100)))
	}
	return buf.Bytes()
}

// splitNotice finds our GOAWAY(2^31-1)+PING in what was written, checks it
// sits at a legal place, and returns the server's bytes without it.
func splitNotice(t *testing.T, wire []byte) (server []byte, found bool) {
	t.Helper()
	var tr frame.Tracker
	sawSettings := false
	for off := 0; off < len(wire); {
		start := off
		atBoundary := tr.Boundary()
		n, done := tr.Next(wire[off:])
		off += n
		if !done {
			t.Fatalf("wire ends inside a frame at %d", off)
		}
		f := tr.Last()
		if f.Type == frame.TypeSettings {
			sawSettings = true
		}
		if f.Type != frame.TypeGoAway {
			continue
		}
		if last, _ := f.GoAway(); last != frame.MaxStreamID {
			continue
		}
		if !atBoundary || !sawSettings {
			t.Fatalf("notice at offset %d: boundary=%v after SETTINGS=%v", start, atBoundary, sawSettings)
		}
		n, done = tr.Next(wire[off:])
		if !done || tr.Last().Type != frame.TypePing || tr.Last().Flags.Has(frame.FlagAck) {
			t.Fatalf("GOAWAY(2^31-1) not followed by our PING")
		}
		off += n
		return append(wire[:start:start], wire[off:]...), true
	}
	return wire, false
}

// TestNoticeInjectionPoints writes a server's stream through the tap in
// random chunks while a drain's notice is posted at a random moment, and
// checks that the notice lands whole, after the server's SETTINGS, at a frame
// boundary outside any header block, and that the server's bytes pass
// through unchanged.
func TestNoticeInjectionPoints(t *testing.T) {
	for seed := range uint64(300) {
		synctest.Test(t, func(t *testing.T) { checkInjection(t, seed) })
	}
}

func checkInjection(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 7))
	stream := serverStream(t, rng)
	rc := newRecConn(nil)
	s, err := New(rc, Config{GoAway: func() {}, Drain: drain.Config{FirstStreamWait: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	c := s.Conn()
	h2test.Advance(time.Millisecond) // past FirstStreamWait (fake time)
	drainAt := rng.IntN(len(stream))
	for off := 0; off < len(stream); {
		n := 1 + rng.IntN(min(len(stream)-off, 5000))
		if off <= drainAt && drainAt < off+n {
			s.Drain("test", time.Hour)
		}
		if _, err := c.Write(stream[off : off+n]); err != nil {
			t.Fatal(err)
		}
		off += n
	}
	synctest.Wait() // the posting goroutine, if it found the stream at a safe point
	got, found := splitNotice(t, rc.written())
	if !found {
		t.Fatalf("seed %d: no notice written", seed)
	}
	if !bytes.Equal(got, stream) {
		t.Fatalf("seed %d: the server's bytes changed", seed)
	}
	c.Close()
	synctest.Wait()
}

func equalIDs(a, b []uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestNewConfig(t *testing.T) {
	if _, err := New(newRecConn(nil), Config{}); err != nil {
		t.Fatalf("New without GoAway (the splice): %v", err)
	}
	if _, err := New(newRecConn(nil), Config{GoAway: func() {}, Drain: drain.Config{Grace: -1}}); err == nil {
		t.Fatal("New with a negative grace: no error")
	}
}
