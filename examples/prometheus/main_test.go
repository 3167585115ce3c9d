package main

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The command serves, exports the metrics of its connections, drains on
// the first signal and returns nil.
func TestRun(t *testing.T) {
	pr, pw := io.Pipe()
	sigs := make(chan os.Signal, 2)
	done := make(chan error, 1)
	go func() {
		err := run(sigs, []string{"-addr", "127.0.0.1:0", "-metrics-addr", "127.0.0.1:0", "-grace", "5s"}, pw, io.Discard)
		pw.Close()
		done <- err
	}()
	lines := bufio.NewScanner(pr)
	var addr, metricsAddr string
	for lines.Scan() {
		if a, ok := strings.CutPrefix(lines.Text(), "listening on "); ok {
			addr = a
		}
		if a, ok := strings.CutPrefix(lines.Text(), "metrics on "); ok {
			metricsAddr = a
			break
		}
	}
	go io.Copy(io.Discard, pr)
	if addr == "" || metricsAddr == "" {
		t.Fatalf("addresses not announced: %q %q (%v)", addr, metricsAddr, <-done)
	}

	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: &p}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	resp, err := c.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ProtoMajor != 2 || string(b) != "ok" {
		t.Fatalf("GET /: %s %s %q", resp.Proto, resp.Status, b)
	}

	scrape := func() string {
		t.Helper()
		resp, err := http.Get("http://" + metricsAddr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	m := scrape()
	for _, want := range []string{"h2lifecycle_downstream_cx_total 1\n", "h2lifecycle_downstream_cx_active 1\n",
		`h2lifecycle_downstream_cx_drained_total{reason="shutdown"} 0`, "go_goroutines "} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, m)
		}
	}

	sigs <- syscall.SIGTERM
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return within 30s of the signal")
	}
}
