package h2test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

func readN(t *testing.T, c net.Conn, n int) []byte {
	t.Helper()
	buf := make([]byte, n)
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatalf("reading %d bytes: %v", n, err)
	}
	return buf
}

func TestPipeOrderBothDirections(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cli, srv := Pipe()
		defer cli.Close()
		defer srv.Close()
		var want bytes.Buffer
		for i := range 100 {
			chunk := bytes.Repeat([]byte{byte(i)}, i+1)
			want.Write(chunk)
			if n, err := cli.Write(chunk); n != len(chunk) || err != nil {
				t.Fatalf("Write = %d, %v", n, err)
			}
		}
		if got := readN(t, srv, want.Len()); !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("server read bytes out of order")
		}
		srv.Write([]byte("pong"))
		if got := readN(t, cli, 4); string(got) != "pong" {
			t.Fatalf("client read %q, want pong", got)
		}
	})
}

func TestPipeWritesDoNotWaitForReader(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cli, srv := Pipe()
		defer cli.Close()
		defer srv.Close()
		big := make([]byte, 8<<20)
		if n, err := cli.Write(big); n != len(big) || err != nil {
			t.Fatalf("unbuffered-looking Write = %d, %v; want the whole 8 MiB buffered", n, err)
		}
		if got := srv.(*PipeConn).Buffered(); got != len(big) {
			t.Fatalf("Buffered = %d, want %d", got, len(big))
		}
	})
}

func TestPipeAddressesAreLoopback(t *testing.T) {
	cli, srv := Pipe()
	defer cli.Close()
	defer srv.Close()
	for _, a := range []net.Addr{cli.LocalAddr(), cli.RemoteAddr(), srv.LocalAddr(), srv.RemoteAddr()} {
		ta, ok := a.(*net.TCPAddr)
		if !ok || !ta.IP.Equal(net.IPv4(127, 0, 0, 1)) {
			t.Errorf("address %v, want 127.0.0.1", a)
		}
	}
	if cli.LocalAddr().String() != srv.RemoteAddr().String() || cli.RemoteAddr().String() != srv.LocalAddr().String() {
		t.Errorf("ends disagree: client %v->%v, server %v->%v", cli.LocalAddr(), cli.RemoteAddr(), srv.LocalAddr(), srv.RemoteAddr())
	}
}

func TestPipeReadDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cli, srv := Pipe()
		defer cli.Close()
		defer srv.Close()

		start := time.Now()
		srv.SetReadDeadline(start.Add(3 * time.Second))
		_, err := srv.Read(make([]byte, 1))
		if !IsTimeout(err) || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Read after deadline: %v, want a timeout", err)
		}
		if got := time.Since(start); got != 3*time.Second {
			t.Fatalf("Read timed out after %v, want 3s", got)
		}

		// An expired deadline wins over buffered data, as on a socket.
		cli.Write([]byte("x"))
		if _, err := srv.Read(make([]byte, 1)); !IsTimeout(err) {
			t.Fatalf("Read with expired deadline and data: %v, want timeout", err)
		}
		srv.SetReadDeadline(time.Time{})
		if got := readN(t, srv, 1); string(got) != "x" {
			t.Fatalf("read %q after clearing the deadline", got)
		}
	})
}

func TestPipeDeadlineChangeWakesBlockedRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cli, srv := Pipe()
		defer cli.Close()
		defer srv.Close()
		start := time.Now()
		srv.SetReadDeadline(start.Add(time.Hour))
		done := make(chan error)
		go func() {
			_, err := srv.Read(make([]byte, 1))
			done <- err
		}()
		synctest.Wait()
		srv.SetReadDeadline(start.Add(time.Second)) // shorten while blocked
		if err := <-done; !IsTimeout(err) {
			t.Fatalf("blocked Read: %v, want timeout", err)
		}
		if got := time.Since(start); got != time.Second {
			t.Fatalf("shortened deadline fired after %v, want 1s", got)
		}

		srv.SetReadDeadline(time.Now().Add(time.Second))
		go func() {
			_, err := srv.Read(make([]byte, 1))
			done <- err
		}()
		synctest.Wait()
		srv.SetReadDeadline(time.Time{}) // clear while blocked
		Advance(time.Hour)
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("Read returned %v after its deadline was cleared", err)
		default:
		}
		cli.Write([]byte("y"))
		if err := <-done; err != nil {
			t.Fatalf("Read after data: %v", err)
		}
	})
}

func TestPipeWriteLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cli, srv := Pipe()
		defer cli.Close()
		defer srv.Close()
		srv.(*PipeConn).SetWriteLimit(4)

		type result struct {
			n   int
			err error
		}
		done := make(chan result)
		go func() {
			n, err := srv.Write([]byte("0123456789"))
			done <- result{n, err}
		}()
		synctest.Wait()
		select {
		case r := <-done:
			t.Fatalf("Write beyond the limit returned %+v without the peer reading", r)
		default:
		}
		if got := cli.(*PipeConn).Buffered(); got != 4 {
			t.Fatalf("peer has %d bytes buffered, want the 4 that fit", got)
		}
		if got := readN(t, cli, 4); string(got) != "0123" {
			t.Fatalf("read %q", got)
		}
		if got := readN(t, cli, 6); string(got) != "456789" {
			t.Fatalf("read %q", got)
		}
		if r := <-done; r.n != 10 || r.err != nil {
			t.Fatalf("Write = %+v, want 10, nil", r)
		}

		// Zero stalls writes entirely; lifting the limit releases them.
		srv.(*PipeConn).SetWriteLimit(0)
		go func() {
			n, err := srv.Write([]byte("abc"))
			done <- result{n, err}
		}()
		Advance(time.Minute)
		synctest.Wait()
		if got := cli.(*PipeConn).Buffered(); got != 0 {
			t.Fatalf("limit 0: %d bytes got through", got)
		}
		srv.(*PipeConn).SetWriteLimit(-1)
		if r := <-done; r.n != 3 || r.err != nil {
			t.Fatalf("Write after lifting the limit = %+v", r)
		}
	})
}

func TestPipeWriteDeadlineWithFullWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cli, srv := Pipe()
		defer cli.Close()
		defer srv.Close()
		srv.(*PipeConn).SetWriteLimit(2)
		start := time.Now()
		srv.SetWriteDeadline(start.Add(time.Second))
		n, err := srv.Write([]byte("abcdef"))
		if n != 2 || !IsTimeout(err) {
			t.Fatalf("Write = %d, %v; want 2 bytes then a timeout", n, err)
		}
		if got := time.Since(start); got != time.Second {
			t.Fatalf("write deadline fired after %v, want 1s", got)
		}
	})
}

func TestPipeCloseWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cli, srv := Pipe()
		defer cli.Close()
		defer srv.Close()
		cli.Write([]byte("last words"))
		if err := cli.(*PipeConn).CloseWrite(); err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(srv)
		if string(got) != "last words" || err != nil {
			t.Fatalf("peer read %q, %v; want the data then EOF", got, err)
		}
		// Half-closed: the other direction still works.
		srv.Write([]byte("reply"))
		if got := readN(t, cli, 5); string(got) != "reply" {
			t.Fatalf("half-closed end read %q", got)
		}
		if _, err := cli.Write([]byte("more")); !errors.Is(err, syscall.EPIPE) {
			t.Fatalf("Write after CloseWrite: %v, want EPIPE", err)
		}
	})
}

func TestPipeClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cli, srv := Pipe()
		defer srv.Close()

		// A blocked Read on the closing end returns net.ErrClosed.
		done := make(chan error)
		go func() {
			_, err := cli.Read(make([]byte, 1))
			done <- err
		}()
		synctest.Wait()
		cli.Write([]byte("bye"))
		if err := cli.Close(); err != nil {
			t.Fatal(err)
		}
		if err := <-done; !errors.Is(err, net.ErrClosed) {
			t.Fatalf("blocked Read after Close: %v, want net.ErrClosed", err)
		}
		if err := cli.Close(); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("second Close: %v, want net.ErrClosed", err)
		}
		if _, err := cli.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Write after Close: %v", err)
		}
		if _, err := cli.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Read after Close: %v", err)
		}
		// The peer gets the buffered data, then EOF; its writes fail.
		got, err := io.ReadAll(srv)
		if string(got) != "bye" || err != nil {
			t.Fatalf("peer read %q, %v", got, err)
		}
		if _, err := srv.Write([]byte("x")); !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("peer Write after Close: %v, want ECONNRESET", err)
		}
	})
}

func TestPipeCloseUnblocksWriter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cli, srv := Pipe()
		srv.(*PipeConn).SetWriteLimit(0)
		done := make(chan error)
		go func() {
			_, err := srv.Write([]byte("stuck"))
			done <- err
		}()
		synctest.Wait()
		cli.Close() // the reader goes away
		if err := <-done; !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("blocked Write after peer Close: %v, want ECONNRESET", err)
		}
		go func() {
			_, err := srv.Write([]byte("stuck"))
			done <- err
		}()
		synctest.Wait()
		srv.Close()
		if err := <-done; err == nil {
			t.Fatal("Write succeeded after both ends closed")
		}
	})
}

func TestListener(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := NewListener()
		accepted := make(chan net.Conn)
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					close(accepted)
					return
				}
				accepted <- c
			}
		}()
		cli, err := l.Dial()
		if err != nil {
			t.Fatal(err)
		}
		srv := <-accepted
		cli.Write([]byte("hi"))
		if got := readN(t, srv, 2); string(got) != "hi" {
			t.Fatalf("accepted end read %q", got)
		}
		if srv.LocalAddr().String() != l.Addr().String() {
			t.Errorf("accepted conn local addr %v, listener %v", srv.LocalAddr(), l.Addr())
		}
		l.Close()
		if _, ok := <-accepted; ok {
			t.Fatal("Accept returned a conn after Close")
		}
		if _, err := l.Dial(); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Dial after Close: %v", err)
		}
		cli.Close()
		srv.Close()
	})
}

func TestListenerServesHTTPServer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := NewListener()
		hs := &http.Server{
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, r.Proto)
			}),
			Protocols: new(http.Protocols),
		}
		hs.Protocols.SetHTTP1(true)
		hs.Protocols.SetUnencryptedHTTP2(true)
		served := make(chan error, 1)
		go func() { served <- hs.Serve(l) }()

		for _, h2c := range []bool{false, true} {
			tr := &http.Transport{DialContext: l.DialContext, Protocols: new(http.Protocols)}
			if h2c {
				tr.Protocols.SetUnencryptedHTTP2(true)
			} else {
				tr.Protocols.SetHTTP1(true)
			}
			res, err := (&http.Client{Transport: tr}).Get("http://" + l.Addr().String() + "/")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			tr.CloseIdleConnections()
			want := map[bool]string{false: "HTTP/1.1", true: "HTTP/2.0"}[h2c]
			if string(body) != want {
				t.Errorf("served %q, want %q", body, want)
			}
		}
		if err := hs.Shutdown(t.Context()); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Fatalf("Serve: %v", err)
		}
	})
}

// TestAdvance: in a bubble, Advance moves the fake clock by exactly d; outside
// one it panics rather than sleep for real.
func TestAdvance(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		Advance(1500 * time.Millisecond)
		if got := time.Since(start); got != 1500*time.Millisecond {
			t.Errorf("Advance(1.5s) moved the clock by %v", got)
		}
	})
	defer func() {
		if recover() == nil {
			t.Error("Advance outside a bubble did not panic")
		}
	}()
	Advance(time.Hour)
}
