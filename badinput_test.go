package h2lifecycle_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// rawFrame is a frame header and payload, written as is.
func rawFrame(length int, typ http2.FrameType, flags http2.Flags, stream uint32, payload []byte) []byte {
	b := []byte{byte(length >> 16), byte(length >> 8), byte(length), byte(typ), byte(flags),
		byte(stream >> 24), byte(stream >> 16), byte(stream >> 8), byte(stream)}
	return append(b, payload...)
}

func headerBlock(fields ...string) []byte {
	var buf strings.Builder
	enc := hpack.NewEncoder(&buf)
	for i := 0; i < len(fields); i += 2 {
		enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	return []byte(buf.String())
}

var request = headerBlock(":method", "GET", ":scheme", "http", ":authority", "x", ":path", "/")

// badInputs are malformed or hostile inputs, sent after a valid preface and
// SETTINGS unless raw says otherwise.
var badInputs = []struct {
	name string
	raw  bool // replaces the preface
	in   []byte
}{
	{"bogus preface", true, []byte("PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n")},
	{"first frame not SETTINGS", true, append([]byte(http2.ClientPreface), rawFrame(8, http2.FramePing, 0, 0, make([]byte, 8))...)},
	{"PING length 7", false, rawFrame(7, http2.FramePing, 0, 0, make([]byte, 7))},
	{"PING on a stream", false, rawFrame(8, http2.FramePing, 0, 1, make([]byte, 8))},
	{"SETTINGS length 5", false, rawFrame(5, http2.FrameSettings, 0, 0, make([]byte, 5))},
	{"SETTINGS ACK with payload", false, rawFrame(6, http2.FrameSettings, http2.FlagSettingsAck, 0, make([]byte, 6))},
	{"SETTINGS initial window too big", false, rawFrame(6, http2.FrameSettings, 0, 0, []byte{0, 4, 0x80, 0, 0, 0})},
	{"WINDOW_UPDATE increment 0", false, rawFrame(4, http2.FrameWindowUpdate, 0, 0, make([]byte, 4))},
	{"WINDOW_UPDATE on an idle stream", false, rawFrame(4, http2.FrameWindowUpdate, 0, 7, []byte{0, 0, 1, 0})},
	{"RST_STREAM on an idle stream", false, rawFrame(4, http2.FrameRSTStream, 0, 7, []byte{0, 0, 0, 8})},
	{"DATA on stream 0", false, rawFrame(2, http2.FrameData, 0, 0, []byte("hi"))},
	{"DATA on an idle stream", false, rawFrame(2, http2.FrameData, 0, 5, []byte("hi"))},
	{"HEADERS on an even stream", false, rawFrame(len(request), http2.FrameHeaders, http2.FlagHeadersEndHeaders|http2.FlagHeadersEndStream, 2, request)},
	{"HEADERS with a bad HPACK block", false, rawFrame(3, http2.FrameHeaders, http2.FlagHeadersEndHeaders|http2.FlagHeadersEndStream, 1, []byte{0xff, 0xff, 0xff})},
	{"HEADERS going down", false, append(
		rawFrame(len(request), http2.FrameHeaders, http2.FlagHeadersEndHeaders|http2.FlagHeadersEndStream, 5, request),
		rawFrame(len(request), http2.FrameHeaders, http2.FlagHeadersEndHeaders|http2.FlagHeadersEndStream, 3, request)...)},
	{"CONTINUATION without HEADERS", false, rawFrame(len(request), http2.FrameContinuation, http2.FlagContinuationEndHeaders, 1, request)},
	{"frame inside a header block", false, append(
		rawFrame(len(request), http2.FrameHeaders, http2.FlagHeadersEndStream, 1, request),
		rawFrame(8, http2.FramePing, 0, 0, make([]byte, 8))...)},
	{"frame over the max frame size", false, rawFrame(20000, http2.FrameData, 0, 1, make([]byte, 20000))},
	{"PUSH_PROMISE from the client", false, rawFrame(4+len(request), http2.FramePushPromise, http2.FlagPushPromiseEndHeaders, 1, append([]byte{0, 0, 0, 2}, request...))},
	{"GOAWAY on a stream", false, rawFrame(8, http2.FrameGoAway, 0, 1, make([]byte, 8))},
	{"forged ACK of our PING", false, rawFrame(8, http2.FramePing, http2.FlagPingAck, 0, []byte("h2\x00\x01\x02\x03\x04\x05"))},
	{"PING ACK length 3", false, rawFrame(3, http2.FramePing, http2.FlagPingAck, 0, []byte("h2x"))},
	{"unknown frame type", false, rawFrame(4, 0x42, 0xff, 3, []byte("what"))},
	{"truncated frame, then EOF", false, rawFrame(100, http2.FrameData, 0, 1, []byte("short"))},
}

// outcome is what a server did about an input: its error frames and how the
// connection ended. Frames of the normal course (SETTINGS, WINDOW_UPDATE,
// PING ACKs, responses, whose order against an error GOAWAY is a race in
// both servers) and timing are left out. A PING written after the input probes
// whether the connection lives on: the server handles frames in order.
func outcome(addr string, raw, halfClose bool, in []byte) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	fr := http2.NewFramer(c, c)
	if !raw {
		io.WriteString(c, http2.ClientPreface)
		fr.WriteSettings()
	}
	c.Write(in)
	probe := [8]byte{'p', 'r', 'o', 'b', 'e'}
	if halfClose {
		c.(*net.TCPConn).CloseWrite()
	} else {
		fr.WritePing(false, probe)
	}
	var out []string
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			var ne net.Error
			switch {
			case errors.Is(err, io.EOF):
				out = append(out, "EOF")
			case errors.As(err, &ne) && ne.Timeout():
				out = append(out, "no answer")
			default:
				out = append(out, "read error")
			}
			return strings.Join(out, ", "), nil
		}
		switch f := f.(type) {
		case *http2.GoAwayFrame:
			out = append(out, fmt.Sprintf("GOAWAY(%d, %v)", f.LastStreamID, f.ErrCode))
		case *http2.RSTStreamFrame:
			out = append(out, fmt.Sprintf("RST_STREAM(%d, %v)", f.StreamID, f.ErrCode))
		case *http2.SettingsFrame:
			if !f.IsAck() {
				fr.WriteSettingsAck()
			}
		case *http2.PingFrame:
			if f.IsAck() && f.Data == probe {
				return strings.Join(append(out, "alive"), ", "), nil
			}
		}
	}
}

// TestBadInputLikeStock: malformed and hostile input gets exactly the
// answer of the stock x/net server (RFC 9113 §5.4), never a panic. How the
// connection ends may differ in one way only: after an error GOAWAY the stock
// server stops reading and closes a second later with the client's data
// unread, so the kernel resets the connection ("read error"); the supervisor
// sends its FIN right behind the GOAWAY, and the client reads a clean EOF.
func TestBadInputLikeStock(t *testing.T) {
	stock := startSubject(t, &http.Server{Handler: http.HandlerFunc(okHandler)}, setup{stock: true}).addr
	ours := startSubject(t, &http.Server{Handler: http.HandlerFunc(okHandler)}, setup{}).addr
	type result struct {
		got, want string
		err       error
	}
	results := make([]result, len(badInputs))
	var wg sync.WaitGroup
	for i, tc := range badInputs {
		wg.Add(1)
		go func() { // the stock server lingers a second after each error
			defer wg.Done()
			halfClose := strings.HasPrefix(tc.name, "truncated")
			r := &results[i]
			if r.want, r.err = outcome(stock, tc.raw, halfClose, tc.in); r.err == nil {
				r.got, r.err = outcome(ours, tc.raw, halfClose, tc.in)
			}
		}()
	}
	wg.Wait()
	for i, tc := range badInputs {
		r := results[i]
		cleaner := strings.TrimSuffix(r.want, "read error") + "EOF"
		switch {
		case r.err != nil:
			t.Errorf("%s: %v", tc.name, r.err)
		case r.got != r.want && r.got != cleaner:
			t.Errorf("%s:\nh2lifecycle: %s\nstock:       %s", tc.name, r.got, r.want)
		default:
			t.Logf("%s: stock %s; h2lifecycle %s", tc.name, r.want, r.got)
		}
	}
}
