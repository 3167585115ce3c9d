package lifecycle

import (
	"bytes"
	"net"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/net/http2"

	"github.com/h2lifecycle/h2lifecycle/drain"
	"github.com/h2lifecycle/h2lifecycle/internal/frame"
	"github.com/h2lifecycle/h2lifecycle/internal/h2test"
)

// TestFinalGoAwayWaitsForTheServer: the drain's final GOAWAY is asked of the
// server only once the server has taken in every stream the tap gave it,
// which it has when it comes back to Read for its next frame. The serve
// loop picks between a frame read and the shutdown message at random, so
// asking earlier could put a stream the client sent in time above the
// GOAWAY's last-stream-id.
func TestFinalGoAwayWaitsForTheServer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cli, srv := net.Pipe()
		var asked atomic.Bool
		s, err := New(srv, Config{GoAway: func() { asked.Store(true) },
			Drain: drain.Config{PingTimeout: 100 * time.Millisecond, FirstStreamWait: 1}})
		if err != nil {
			t.Fatal(err)
		}
		tap := s.Conn()
		go func() { // the client: its preface, then a request; it reads all
			var b bytes.Buffer
			b.WriteString(frame.ClientPreface)
			fr := http2.NewFramer(&b, nil)
			fr.WriteSettings()
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: []byte{0x82}, EndStream: true, EndHeaders: true})
			cli.Write(b.Bytes())
			buf := make([]byte, 1024)
			for {
				if _, err := cli.Read(buf); err != nil {
					return
				}
			}
		}()
		go tap.Write(emptySettings)
		buf := make([]byte, len(frame.ClientPreface)+frame.HeaderLen) // the preface and the client's SETTINGS
		readFull(t, tap, buf)
		s.Drain(ReasonShutdown, time.Minute)
		synctest.Wait()
		readFull(t, tap, make([]byte, frame.HeaderLen+1)) // the HEADERS, whole: the server has it now
		h2test.Advance(200 * time.Millisecond)            // fake time: past the ping timeout
		synctest.Wait()
		if asked.Load() {
			t.Fatal("the final GOAWAY was asked for before the server came back for its next frame")
		}
		go tap.Read(make([]byte, frame.HeaderLen)) // the server has taken the stream in
		synctest.Wait()
		if !asked.Load() {
			t.Fatal("the final GOAWAY was not asked for once the server had taken in the stream")
		}
		cli.Close()
		tap.Close()
		synctest.Wait()
	})
}

func readFull(t *testing.T, c net.Conn, p []byte) {
	t.Helper()
	for n := 0; n < len(p); {
		k, err := c.Read(p[n:])
		if err != nil {
			t.Fatal(err)
		}
		n += k
	}
}
