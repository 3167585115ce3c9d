package experiment

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/net/http2"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestClassify(t *testing.T) {
	tests := []struct {
		err  error
		want Cause
	}{
		{errors.New("http2: Transport: cannot retry err [http2: Transport received Server's graceful shutdown GOAWAY] after Request.Body was written; define Request.GetBody to avoid this error"), CauseCannotRetry},
		{errors.New("net/http: cannot rewind body after connection loss"), CauseCannotRetry},
		{errors.New(`http2: server sent GOAWAY and closed the connection; LastStreamID=7, ErrCode=NO_ERROR, debug=""`), CauseGoAwayClosed},
		{&net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, CauseReset},
		{errors.New("write tcp 127.0.0.1:1->127.0.0.1:2: write: broken pipe"), CauseBrokenPipe},
		{fmt.Errorf("reading: %w", io.ErrUnexpectedEOF), CauseEOF},
		{io.EOF, CauseEOF},
		{&dialError{&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}}, CauseRefused},
		{context.DeadlineExceeded, CauseTimeout},
		{fmt.Errorf("%w: 503 Service Unavailable", errBadAnswer), CauseStatus},
		{errors.New("something else"), CauseOther},
	}
	for _, tt := range tests {
		if got := Classify(tt.err); got != tt.want {
			t.Errorf("Classify(%q) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

// The POST bodies must be impossible to replay, or the client would hide
// the race by retrying them.
func TestBodyNotReplayable(t *testing.T) {
	req, err := http.NewRequest(http.MethodPost, "http://127.0.0.1/", &onceBody{left: 10})
	if err != nil {
		t.Fatal(err)
	}
	if req.GetBody != nil || req.Body == http.NoBody {
		t.Fatalf("GetBody = %v, Body = %v: the body is replayable", req.GetBody != nil, req.Body)
	}
	b, _ := io.ReadAll(req.Body)
	if string(b) != "xxxxxxxxxx" {
		t.Fatalf("body = %q", b)
	}
}

// The parser must find every frame whatever the chunking.
func TestParserChunking(t *testing.T) {
	var wire bytes.Buffer
	wire.WriteString(http2.ClientPreface)
	fr := http2.NewFramer(&wire, nil)
	fr.WriteSettings()
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: []byte{0x82}, EndHeaders: true})
	fr.WriteData(1, false, bytes.Repeat([]byte("d"), 3000))
	fr.WriteGoAway(1<<31-1, http2.ErrCodeNo, []byte("idle"))
	fr.WritePing(false, [8]byte{1, 2, 3, 4, 5, 6, 7, 8})
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: []byte{0x82}, EndHeaders: true, EndStream: true})
	fr.WriteGoAway(3, http2.ErrCodeNo, nil)
	fr.WriteRSTStream(3, http2.ErrCodeCancel)
	b := wire.Bytes()

	for _, chunk := range []int{1, 2, 7, 9, 10, 100, len(b)} {
		var got []string
		var p parser
		p.preface = len(http2.ClientPreface)
		for off := 0; off < len(b); off += chunk {
			p.feed(b[off:min(off+chunk, len(b))], func(h http2.FrameHeader, payload []byte) {
				ev := Event{Type: h.Type, Flags: h.Flags, StreamID: h.StreamID}
				if payload != nil {
					decodeControl(&ev, h, payload)
				}
				got = append(got, ev.String())
			})
		}
		want := []string{
			"→ SETTINGS stream 0 flags=0x0",
			"→ HEADERS stream 1",
			"→ DATA stream 1",
			`→ GOAWAY last-stream-id=2147483647 NO_ERROR debug="idle"`,
			"→ PING 0102030405060708",
			"→ HEADERS stream 3 END_STREAM",
			"→ GOAWAY last-stream-id=3 NO_ERROR",
			"→ RST_STREAM stream 3 CANCEL",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("chunk %d:\n%s\nwant\n%s", chunk, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

func TestStreamsAboveGoAway(t *testing.T) {
	c := ConnRecord{GoAwaysRecv: 1, MinLastStreamIDRecv: 5, MaxStreamSent: 11}
	if n := c.StreamsAboveGoAway(); n != 3 { // 7, 9, 11
		t.Errorf("StreamsAboveGoAway = %d, want 3", n)
	}
	c = ConnRecord{GoAwaysRecv: 1, MinLastStreamIDRecv: 0, MaxStreamSent: 3}
	if n := c.StreamsAboveGoAway(); n != 2 { // 1, 3
		t.Errorf("StreamsAboveGoAway = %d, want 2", n)
	}
}

// Both kinds of server answer GET and POST over h2c and TLS, and the load
// really opens the connections it was asked for.
func TestServersAnswer(t *testing.T) {
	for _, kind := range []Kind{KindStock, KindSupervised} {
		for _, useTLS := range []bool{false, true} {
			t.Run(fmt.Sprintf("%v/tls=%v", kind, useTLS), func(t *testing.T) {
				srv, err := StartServer(ServerConfig{Kind: kind, TLS: useTLS})
				if err != nil {
					t.Fatal(err)
				}
				defer srv.Close()
				load, err := StartLoad(LoadConfig{URL: srv.URL, Workers: 8, Conns: 3, PostFraction: 0.5, RequestsPerWorker: 10})
				if err != nil {
					t.Fatal(err)
				}
				c := load.Wait()
				if c.Requests != 80 || c.OK != 80 || c.Posts == 0 || c.Gets == 0 {
					t.Fatalf("counts: %v", c)
				}
				if n := len(load.Recorder().Conns()); n != 3 {
					t.Errorf("%d connections, want 3", n)
				}
				if err := srv.Shutdown(context.Background()); err != nil {
					t.Errorf("Shutdown: %v", err)
				}
			})
		}
	}
}

// A short drain race: the supervised server loses nothing, and every
// connection's first GOAWAY is the notice, GOAWAY(2^31-1) with a PING. The
// client may close the connection before the final GOAWAY arrives: x/net's
// client closes a connection that got any GOAWAY as soon as its last stream
// ends.
func TestDrainOnceSupervised(t *testing.T) {
	run, err := DrainOnce(context.Background(), DrainConfig{
		Server:       ServerConfig{Kind: KindSupervised},
		Load:         LoadConfig{Workers: 16, Conns: 2, PostFraction: 0.5},
		Warmup:       50 * time.Millisecond,
		RecordServer: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%v", run.Counts)
	if run.Counts.Failed != 0 {
		t.Errorf("%d failed: %v", run.Counts.Failed, run.Counts.Examples)
	}
	for _, c := range run.Client.Conns() {
		if c.BytesReceived == 0 {
			continue
		}
		// The log interleaves both directions; the server's frames alone
		// must show GOAWAY(2^31-1) right before the PING.
		var fromServer []Event
		for _, e := range c.Events {
			if e.Dir == Received {
				fromServer = append(fromServer, e)
			}
		}
		i := slices.IndexFunc(fromServer, func(e Event) bool { return e.Type == http2.FrameGoAway })
		if i < 0 || i+1 >= len(fromServer) || fromServer[i].LastStreamID != 1<<31-1 || fromServer[i+1].Type != http2.FramePing {
			t.Errorf("conn %d: the drain does not start with GOAWAY(2^31-1)+PING: %v", c.ID, c.Events)
		}
		if n := c.StreamsAboveGoAway(); n != 0 {
			t.Errorf("conn %d: %d streams above the last GOAWAY", c.ID, n)
		}
	}
}

// TestPingAckedAfterGoAway: the recorder notes a client's PING ACK written
// after it received a GOAWAY (what Counts.OpenedAfterGoAway rests on), and
// neither a PING ACK written before the GOAWAY arrived nor a PING that is
// not an ACK.
func TestPingAckedAfterGoAway(t *testing.T) {
	var goAway, ack, ping bytes.Buffer
	http2.NewFramer(&goAway, nil).WriteGoAway(1<<31-1, http2.ErrCodeNo, nil)
	ack.WriteString(http2.ClientPreface)
	http2.NewFramer(&ack, nil).WritePing(true, [8]byte{1})
	ping.WriteString(http2.ClientPreface)
	http2.NewFramer(&ping, nil).WritePing(false, [8]byte{2})
	for _, tc := range []struct {
		name      string
		first     string // "read": the client reads the GOAWAY first; "write": it writes first
		write     []byte
		wantAcked bool
	}{
		{"ACK after GOAWAY", "read", ack.Bytes(), true},
		{"ACK before GOAWAY", "write", ack.Bytes(), false},
		{"PING after GOAWAY", "read", ping.Bytes(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cli, srv := net.Pipe()
			defer srv.Close()
			rec := NewRecorder()
			c := rec.Wrap(cli, ClientSide)
			defer c.Close()
			go io.Copy(io.Discard, srv) // ends when srv closes
			read := func() {
				go srv.Write(goAway.Bytes())
				if _, err := io.ReadFull(c, make([]byte, goAway.Len())); err != nil {
					t.Fatal(err)
				}
			}
			if tc.first == "read" {
				read()
			}
			if _, err := c.Write(tc.write); err != nil {
				t.Fatal(err)
			}
			if tc.first == "write" {
				read()
			}
			if got := asRecConn(c).ackedAfterGoAway(); got != tc.wantAcked {
				t.Errorf("ackedAfterGoAway = %v, want %v", got, tc.wantAcked)
			}
			if r := asRecConn(c).record(); r.GoAwaysRecv != 1 {
				t.Errorf("the recorder saw %d GOAWAYs received, want 1", r.GoAwaysRecv)
			}
		})
	}
}
