package server_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime/metrics"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/h2lifecycle/h2lifecycle/internal/h2test"
	"github.com/h2lifecycle/h2lifecycle/server"
)

// The benchmarks in this file run the same tiny handler on the stock server
// (net/http + http2.ConfigureServer, as bench/h2spec/stock) and on the same
// http.Server wrapped by h2lifecycle, over real 127.0.0.1 sockets, with the
// client in the same process: allocs/op counts both sides, so the difference
// between the two is what h2lifecycle adds. See BENCHMARKS.md.

var benchKinds = []string{"stock", "h2lifecycle"}

func okBenchHandler(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }

// startBench serves okBenchHandler on 127.0.0.1, stock or wrapped, h2c (prior
// knowledge, and HTTP/1.1) or TLS; it returns the address. The server closes
// when the benchmark ends.
func startBench(b *testing.B, kind string, tlsOn bool) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(okBenchHandler)}
	if tlsOn {
		hs.TLSConfig = h2test.ServerTLSConfig()
	} else {
		hs.Protocols = h2cProtocols()
	}
	var wrapped *server.Server
	switch kind {
	case "stock":
		if err := http2.ConfigureServer(hs, &http2.Server{}); err != nil {
			b.Fatal(err)
		}
	case "h2lifecycle":
		if wrapped, err = server.Wrap(hs, server.Config{}); err != nil {
			b.Fatal(err)
		}
	default:
		b.Fatalf("unknown kind %q", kind)
	}
	if tlsOn {
		ln = tls.NewListener(ln, hs.TLSConfig)
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	b.Cleanup(func() {
		if wrapped != nil {
			wrapped.Close()
		} else {
			hs.Close()
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			b.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// BenchmarkRequest is one GET of the tiny handler over one long-lived h2c
// connection, x/net's client in the same process. The allocs/op of
// h2lifecycle minus those of stock are what the tap and supervisor add per
// request (budget: 0).
func BenchmarkRequest(b *testing.B) {
	for _, kind := range benchKinds {
		b.Run(kind, func(b *testing.B) {
			addr := startBench(b, kind, false)
			tr := &http2.Transport{
				AllowHTTP: true,
				DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
					var d net.Dialer
					return d.DialContext(ctx, network, addr)
				},
			}
			defer tr.CloseIdleConnections()
			req, err := http.NewRequest("GET", "http://"+addr+"/", nil)
			if err != nil {
				b.Fatal(err)
			}
			get := func() {
				resp, err := tr.RoundTrip(req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
			for range 100 { // the connection, and every pool, warmed up
				get()
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				get()
			}
		})
	}
}

// BenchmarkConnSetup is one whole connection: dial, (TLS handshake,) the
// client preface and SETTINGS, one GET, its response, and the close; the
// server's teardown of the previous connections overlaps. A raw-frame client
// keeps the client's share small. h2lifecycle minus stock is what the
// supervisor and its tap cost.
func BenchmarkConnSetup(b *testing.B) {
	for _, tr := range []string{"h2c", "tls"} {
		for _, kind := range benchKinds {
			b.Run(tr+"/"+kind, func(b *testing.B) {
				tlsOn := tr == "tls"
				addr := startBench(b, kind, tlsOn)
				c := newSetupClient(addr, tlsOn)
				for range 20 {
					if err := c.once(); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportAllocs()
				created := goroutinesCreated()
				user0, sys0, cpuOK := processCPU()
				b.ResetTimer()
				for b.Loop() {
					if err := c.once(); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				// Client and server both: the client's share is the same for both kinds.
				b.ReportMetric(float64(goroutinesCreated()-created)/float64(b.N), "goroutines/op")
				if user1, sys1, ok := processCPU(); ok && cpuOK {
					// The CPU the process used per connection, against ns/op's
					// wall time: tells a cost in CPU from one in waiting.
					b.ReportMetric(float64((user1-user0).Microseconds())/float64(b.N), "user-µs/op")
					b.ReportMetric(float64((sys1-sys0).Microseconds())/float64(b.N), "sys-µs/op")
				}
			})
		}
	}
}

// goroutinesCreated is the number of goroutines the process has created.
func goroutinesCreated() uint64 {
	s := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0 // a toolchain without the metric
	}
	return s[0].Value.Uint64()
}

// setupClient opens a connection, sends one GET and reads its response.
type setupClient struct {
	addr  string
	tls   *tls.Config
	hello []byte // preface, SETTINGS, HEADERS(1, END_STREAM)
	ack   []byte // SETTINGS ACK
	br    *bufio.Reader
	hdr   [9]byte
}

func newSetupClient(addr string, tlsOn bool) *setupClient {
	var enc bytes.Buffer
	he := hpack.NewEncoder(&enc)
	scheme := "http"
	if tlsOn {
		scheme = "https"
	}
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", scheme}, {":authority", addr}, {":path", "/"}} {
		he.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	var hello, ack bytes.Buffer
	hello.WriteString(http2.ClientPreface)
	fr := http2.NewFramer(&hello, nil)
	fr.WriteSettings()
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: enc.Bytes(), EndStream: true, EndHeaders: true})
	http2.NewFramer(&ack, nil).WriteSettingsAck()
	c := &setupClient{addr: addr, hello: hello.Bytes(), ack: ack.Bytes(), br: bufio.NewReaderSize(nil, 4096)}
	if tlsOn {
		c.tls = &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}}
	}
	return c
}

func (c *setupClient) once() error {
	nc, err := net.Dial("tcp", c.addr)
	if err != nil {
		return err
	}
	defer nc.Close()
	if c.tls != nil {
		tc := tls.Client(nc, c.tls)
		if err := tc.Handshake(); err != nil {
			return err
		}
		nc = tc
	}
	if _, err := nc.Write(c.hello); err != nil {
		return err
	}
	c.br.Reset(nc)
	for {
		if _, err := io.ReadFull(c.br, c.hdr[:]); err != nil {
			return err
		}
		n := int(c.hdr[0])<<16 | int(c.hdr[1])<<8 | int(c.hdr[2])
		typ, flags := c.hdr[3], c.hdr[4]
		stream := uint32(c.hdr[5]&0x7f)<<24 | uint32(c.hdr[6])<<16 | uint32(c.hdr[7])<<8 | uint32(c.hdr[8])
		if _, err := c.br.Discard(n); err != nil {
			return err
		}
		switch {
		case typ == 0x4 && flags&0x1 == 0: // the server's SETTINGS
			if _, err := nc.Write(c.ack); err != nil {
				return err
			}
		case typ == 0x7: // GOAWAY
			return errors.New("GOAWAY before the response")
		case (typ == 0x0 || typ == 0x1) && stream == 1 && flags&0x1 != 0: // END_STREAM
			return nil
		}
	}
}
