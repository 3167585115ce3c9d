package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.yaml.in/yaml/v3"
	"golang.org/x/net/http2"

	"github.com/h2lifecycle/h2lifecycle/server"
)

// TestMain checks for leaked goroutines and removes the built binary.
func TestMain(m *testing.M) { goleak.VerifyTestMain(cleanupM{m}) }

type cleanupM struct{ m *testing.M }

func (c cleanupM) Run() int {
	defer func() {
		if binDir != "" {
			os.RemoveAll(binDir)
		}
	}()
	return c.m.Run()
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	binDir    string
)

// buildServer builds the command once per test binary, with the toolchain
// running the tests.
func buildServer(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "h2lifecycle-server-test")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "server")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = errors.New(string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("building the server: %v", buildErr)
	}
	return binPath
}

// child is a server process started by the test.
type child struct {
	cmd       *exec.Cmd
	addr      string
	adminAddr string // with -admin-addr
	stderr    *syncBuffer
	done      chan struct{} // closed when the process has exited
	waitErr   error
}

// startChild starts the server binary and reads the address it announces.
func startChild(t *testing.T, args ...string) *child {
	t.Helper()
	cmd := exec.Command(buildServer(t), args...)
	stdout := &lineWriter{lines: make(chan string, 8)}
	c := &child{cmd: cmd, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = stdout, c.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		c.waitErr = cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		// Only our own child, by its PID, and only if the test left it running.
		select {
		case <-c.done:
		default:
			cmd.Process.Kill()
			<-c.done
		}
	})
	timer := time.NewTimer(30 * time.Second)
	defer timer.Stop()
	line := func() string {
		select {
		case l := <-stdout.lines:
			return l
		case <-c.done:
			t.Fatalf("the server exited before announcing its address: %v; stderr:\n%s", c.waitErr, c.stderr)
		case <-timer.C:
			t.Fatalf("no address announced within 30s; stderr:\n%s", c.stderr)
		}
		return ""
	}
	c.addr = announced(t, line(), "listening on ")
	if slices.Contains(args, "-admin-addr") {
		c.adminAddr = announced(t, line(), "admin listening on ")
	}
	return c
}

// announced checks a line "PREFIX HOST:PORT" and returns the address.
func announced(t *testing.T, line, prefix string) string {
	t.Helper()
	addr, ok := strings.CutPrefix(line, prefix)
	if !ok {
		t.Fatalf("line %q is not \"%sADDR\"", line, prefix)
	}
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "0" {
		t.Fatalf("announced address %q is not a real address", addr)
	}
	return addr
}

// lineWriter hands over the first lines written to it and discards the
// rest.
type lineWriter struct {
	mu    sync.Mutex
	buf   []byte
	lines chan string
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		select {
		case w.lines <- string(w.buf[:i]):
		default: // nobody reads that far
		}
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}

// terminate sends SIGTERM to the child and returns its exit code.
func (c *child) terminate(t *testing.T) int {
	t.Helper()
	c.signal(t)
	return c.wait(t)
}

// signal sends SIGTERM to the child.
func (c *child) signal(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
}

// wait waits for the child to exit and returns its exit code.
func (c *child) wait(t *testing.T) int {
	t.Helper()
	timer := time.NewTimer(30 * time.Second)
	defer timer.Stop()
	select {
	case <-c.done:
		var ee *exec.ExitError
		if errors.As(c.waitErr, &ee) {
			return ee.ExitCode()
		}
		if c.waitErr != nil {
			t.Fatal(c.waitErr)
		}
		return 0
	case <-timer.C:
		t.Fatalf("the server did not exit within 30s of SIGTERM; stderr:\n%s", c.stderr)
		return -1
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// h2Transport returns an HTTP/2 client: h2c with prior knowledge, or TLS
// trusting anything (the test's own certificate).
func h2Transport(useTLS bool) *http2.Transport {
	if useTLS {
		return &http2.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	}
	return &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
}

func do(t *testing.T, rt http.RoundTripper, method, url string, body io.Reader) (proto string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || string(b) != "ok" {
		t.Fatalf("%s %s: %s %q, want 200 \"ok\"", method, url, resp.Status, b)
	}
	return resp.Proto
}

func TestServeAndDrainOnSIGTERM(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeCert(t, dir)
	for _, tc := range []struct {
		name string
		tls  bool
		args []string
	}{
		{"h2c", false, nil},
		{"tls", true, []string{"-tls-cert", cert, "-tls-key", key}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svg := filepath.Join(t.TempDir(), "drain.svg")
			prof := filepath.Join(t.TempDir(), "cpu.pprof")
			args := append([]string{"-addr", "127.0.0.1:0", "-grace", "10s", "-handler-delay", "1ms", "-idle-timeout", "1m",
				"-timeline", svg, "-cpuprofile", prof}, tc.args...)
			c := startChild(t, args...)
			scheme := "http"
			if tc.tls {
				scheme = "https"
			}
			url := scheme + "://" + c.addr + "/"

			tr := h2Transport(tc.tls)
			defer tr.CloseIdleConnections()
			if p := do(t, tr, http.MethodGet, url, nil); p != "HTTP/2.0" {
				t.Errorf("GET over %s: %s", tc.name, p)
			}
			// A body of a type net/http cannot rewind: the request must not
			// depend on a retry.
			body := io.MultiReader(strings.NewReader(strings.Repeat("x", 100000)))
			if p := do(t, tr, http.MethodPost, url, body); p != "HTTP/2.0" {
				t.Errorf("POST over %s: %s", tc.name, p)
			}
			// HTTP/1.1 is served too.
			h1 := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
			defer h1.CloseIdleConnections()
			if p := do(t, h1, http.MethodGet, url, nil); p != "HTTP/1.1" {
				t.Errorf("HTTP/1.1 GET over %s: %s", tc.name, p)
			}

			// The HTTP/2 connection is still open: SIGTERM must drain it
			// two-phase and exit 0.
			if code := c.terminate(t); code != 0 {
				t.Fatalf("exit code %d, want 0; stderr:\n%s", code, c.stderr)
			}
			logs := c.stderr.String()
			for _, want := range []string{`"msg":"listening"`, `"msg":"http2 connection drained"`, `"reason":"shutdown"`,
				`"msg":"shut down"`, `"msg":"timeline written"`} {
				if !strings.Contains(logs, want) {
					t.Errorf("stderr lacks %s:\n%s", want, logs)
				}
			}
			// One row: the HTTP/2 connection (HTTP/1.1 is not supervised),
			// drained for the shutdown.
			if rows := timelineRows(t, svg); len(rows) != 1 || rows[0] != "shutdown" {
				t.Errorf("timeline rows (reasons) %q, want one, shutdown", rows)
			}
			// -cpuprofile: the profile is written when the process ends
			// (a gzipped protobuf).
			if b, err := os.ReadFile(prof); err != nil || !bytes.HasPrefix(b, []byte{0x1f, 0x8b}) {
				t.Errorf("-cpuprofile: %d bytes, %v; want a gzipped profile", len(b), err)
			}
		})
	}
}

// TestResponseBytes: -response-bytes across its range: 0 answers "ok" (the
// default, as the stock server of bench/h2spec/stock, whose responseBody
// takes the same values), 1 and the maximum answer that many bytes; -1,
// one past the maximum and math.MaxInt64 are refused, naming the flag.
func TestResponseBytes(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want int // body length; -1: refused
	}{{0, 2}, {1, 1}, {65536, 65536}, {maxResponseBytes, maxResponseBytes}, {-1, -1}, {maxResponseBytes + 1, -1}, {math.MaxInt64, -1}} {
		c, err := parseFlags([]string{"-response-bytes", strconv.Itoa(tc.n)}, io.Discard)
		if tc.want < 0 {
			if err == nil || !strings.Contains(err.Error(), "-response-bytes") || !strings.Contains(err.Error(), strconv.Itoa(tc.n)) {
				t.Errorf("-response-bytes %d: %v, want an error naming the flag and the value", tc.n, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("-response-bytes %d: %v", tc.n, err)
		}
		rec := httptest.NewRecorder()
		handler(0, c.respBytes).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		if got := rec.Body.Len(); got != tc.want || (tc.n == 0 && rec.Body.String() != "ok") {
			t.Errorf("-response-bytes %d: a %d-byte body, want %d", tc.n, got, tc.want)
		}
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-tls-cert", "c.pem"},
		{"-grace", "0s"},
		{"-idle-timeout", "-1s"},
		{"-log-level", "loud"},
		{"extra"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) accepted it", args)
		}
	}
	c, err := parseFlags([]string{"-addr", "127.0.0.1:0", "-log-level", "debug", "-grace", "2s"}, io.Discard)
	if err != nil || c.addr != "127.0.0.1:0" || c.plan.Grace != 2*time.Second || c.logLevel.String() != "debug" {
		t.Errorf("parseFlags: %+v, %v", c, err)
	}
}

// writeCert writes a self-signed certificate for 127.0.0.1 and its key as
// PEM files in dir.
func writeCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "examples/server test"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestPolicyFlagsAndFile: every policy field has a flag; -policy FILE sets
// them too, and a flag given explicitly wins over the file.
func TestPolicyFlagsAndFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "policy.yaml")
	os.WriteFile(file, []byte("idle_timeout: 30s\nmax_connection_age: 10m\nmax_streams_per_connection: 100\n"), 0o600)
	c, err := parseFlags([]string{"-policy", file, "-max-connection-age", "5m", "-header-timeout", "2s",
		"-keepalive-interval", "1m", "-ping-permit-without-stream"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	p := c.policy
	if p.IdleTimeout != 30*time.Second || p.MaxConnectionAge != 5*time.Minute || p.MaxStreamsPerConnection != 100 ||
		p.HeaderTimeout != 2*time.Second || p.KeepaliveInterval != time.Minute || !p.PingPermitWithoutStream {
		t.Errorf("policy %+v", p)
	}
	os.WriteFile(file, []byte("idle_timeot: 30s\n"), 0o600)
	if _, err := parseFlags([]string{"-policy", file}, io.Discard); err == nil || !strings.Contains(err.Error(), `unknown setting "idle_timeot"`) {
		t.Errorf("bad policy file: %v", err)
	}
	if _, err := parseFlags([]string{"-max-connection-age-grace", "-5s"}, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "max_connection_age_grace must be >= 0, got -5s") {
		t.Errorf("bad flag: %v", err)
	}
}

// timelineRows parses the SVG file as XML and returns the reason of each
// connection row.
func timelineRows(t *testing.T, file string) []string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatalf("the timeline was not written: %v", err)
	}
	defer f.Close()
	dec := xml.NewDecoder(f)
	var reasons []string
	root := true
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the timeline is not well-formed XML: %v", err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if root {
			if se.Name.Local != "svg" {
				t.Fatalf("the timeline's root is <%s>, want <svg>", se.Name.Local)
			}
			root = false
		}
		attr := func(name string) string {
			for _, a := range se.Attr {
				if a.Name.Local == name {
					return a.Value
				}
			}
			return ""
		}
		if se.Name.Local == "g" && attr("class") == "row" {
			reasons = append(reasons, attr("data-reason"))
		}
	}
	return reasons
}

// get fetches url over a fresh HTTP/1.1 connection and returns the status
// and body; err is the transport's error (a refused connection, say).
func get(url string) (int, string, error) {
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// waitNotReady polls url until it answers 503, for at most 10s. Answers of
// 200 before it are fine (the signal is on its way); anything else fails.
func waitNotReady(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		code, body, err := get(url)
		switch {
		case err != nil:
			t.Fatalf("GET %s: %v, before it answered 503", url, err)
		case code == http.StatusServiceUnavailable:
			if body != "shutting down\n" {
				t.Errorf("GET %s: 503 %q", url, body)
			}
			return
		case code != http.StatusOK:
			t.Fatalf("GET %s: %d %q", url, code, body)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s still 200 10s after SIGTERM", url)
		}
		<-tick.C
	}
}

// TestReadinessAndDeregistrationDelay: /ready answers 200 until SIGTERM and
// 503 from then on, while the deregistration delay keeps the listener open
// and the connections serving; then the drain runs and the process exits 0.
func TestReadinessAndDeregistrationDelay(t *testing.T) {
	c := startChild(t, "-addr", "127.0.0.1:0", "-deregistration-delay", "2s", "-grace", "5s", "-termination-budget", "10s")
	base := "http://" + c.addr
	tr := h2Transport(false)
	defer tr.CloseIdleConnections()
	do(t, tr, http.MethodGet, base+"/", nil)

	if code, body, err := get(base + "/ready"); err != nil || code != http.StatusOK || body != "ready\n" {
		t.Fatalf("GET /ready before SIGTERM: %d %q %v", code, body, err)
	}
	// The debug page lists the live HTTP/2 connection.
	code, body, err := get(base + "/debug/h2")
	if err != nil || code != http.StatusOK {
		t.Fatalf("GET /debug/h2: %d %v", code, err)
	}
	var doc struct {
		Ready bool `json:"ready"`
		Count int  `json:"connections_count"`
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil || !doc.Ready || doc.Count != 1 {
		t.Errorf("GET /debug/h2: %+v, %v:\n%s", doc, err, body)
	}

	c.signal(t)
	waitNotReady(t, base+"/ready")
	// Still in the deregistration delay: the open connection serves, and
	// the listener still accepts.
	do(t, tr, http.MethodGet, base+"/", nil)
	if code, _, err := get(base + "/"); err != nil || code != http.StatusOK {
		t.Errorf("a new connection during the deregistration delay: %d %v", code, err)
	}
	if code := c.wait(t); code != 0 {
		t.Fatalf("exit code %d, want 0; stderr:\n%s", code, c.stderr)
	}
	logs := c.stderr.String()
	for _, want := range []string{`"msg":"shutting down: readiness off"`, `"deregistration_delay":2`, `"reason":"shutdown"`, `"msg":"shut down"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("stderr lacks %s:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "exceeds") {
		t.Errorf("a plan within its budget was warned about:\n%s", logs)
	}
}

// TestAdminAddr: with -admin-addr, /ready and /debug/h2 move there, and the
// admin listener answers 503 through the whole shutdown.
func TestAdminAddr(t *testing.T) {
	c := startChild(t, "-addr", "127.0.0.1:0", "-admin-addr", "127.0.0.1:0", "-deregistration-delay", "300ms", "-grace", "5s")
	admin := "http://" + c.adminAddr
	if code, _, err := get("http://" + c.addr + "/ready"); err != nil || code != http.StatusNotFound {
		t.Errorf("GET /ready on the main address: %d %v, want 404", code, err)
	}
	if code, body, err := get(admin + "/ready"); err != nil || code != http.StatusOK {
		t.Fatalf("GET admin /ready: %d %q %v", code, body, err)
	}
	if code, body, err := get(admin + "/debug/h2"); err != nil || code != http.StatusOK || !strings.Contains(body, `"connections_count": 0`) {
		t.Errorf("GET admin /debug/h2: %d %v\n%s", code, err, body)
	}
	c.signal(t)
	waitNotReady(t, admin+"/ready")
	if code := c.wait(t); code != 0 {
		t.Fatalf("exit code %d, want 0; stderr:\n%s", code, c.stderr)
	}
}

// TestSecondSignal: a second SIGTERM during the shutdown closes everything
// at once; the process exits 1.
func TestSecondSignal(t *testing.T) {
	c := startChild(t, "-addr", "127.0.0.1:0", "-deregistration-delay", "1m", "-grace", "1m")
	tr := h2Transport(false)
	defer tr.CloseIdleConnections()
	do(t, tr, http.MethodGet, "http://"+c.addr+"/", nil)
	c.signal(t)
	waitNotReady(t, "http://"+c.addr+"/ready") // the first signal is in
	c.signal(t)
	if code := c.wait(t); code != 1 {
		t.Fatalf("exit code %d, want 1; stderr:\n%s", code, c.stderr)
	}
	if logs := c.stderr.String(); !strings.Contains(logs, `"msg":"second signal: closing everything"`) ||
		!strings.Contains(logs, "server: shutdown forced") {
		t.Errorf("stderr:\n%s", logs)
	}
}

func TestShutdownPlanFlags(t *testing.T) {
	c, err := parseFlags([]string{"-deregistration-delay", "5s", "-spread", "10s", "-grace", "20s",
		"-termination-budget", "30s", "-admin-addr", "127.0.0.1:9090", "-timeline", "x.svg"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := server.ShutdownPlan{DeregistrationDelay: 5 * time.Second, Spread: 10 * time.Second, Grace: 20 * time.Second, TerminationBudget: 30 * time.Second}
	if c.plan != want || c.adminAddr != "127.0.0.1:9090" || c.timeline != "x.svg" {
		t.Errorf("parseFlags: %+v", c)
	}
	for _, args := range [][]string{
		{"-spread", "30s", "-grace", "30s"},
		{"-deregistration-delay", "-1s"},
		{"-termination-budget", "-1s"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) accepted it", args)
		}
	}
}

// TestKubernetesManifestArgs: the arguments examples/kubernetes gives the
// server are ones it accepts, with the plan they mean.
func TestKubernetesManifestArgs(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "kubernetes", "deployment.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var dep struct {
		Kind string `yaml:"kind"`
		Spec struct {
			Template struct {
				Spec struct {
					Containers []struct {
						Args []string `yaml:"args"`
					} `yaml:"containers"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	// The Deployment is the first document.
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&dep); err != nil {
		t.Fatal(err)
	}
	if dep.Kind != "Deployment" || len(dep.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("the first document is not the Deployment of one container: %+v", dep)
	}
	var stderr bytes.Buffer
	c, err := parseFlags(dep.Spec.Template.Spec.Containers[0].Args, &stderr)
	if err != nil {
		t.Fatalf("the manifest's arguments: %v\n%s", err, &stderr)
	}
	want := server.ShutdownPlan{DeregistrationDelay: 10 * time.Second, Spread: 10 * time.Second,
		Grace: 30 * time.Second, TerminationBudget: 45 * time.Second}
	if c.plan != want || c.addr != ":8080" || c.adminAddr != ":9090" {
		t.Errorf("the manifest's plan %+v on %s, admin %s", c.plan, c.addr, c.adminAddr)
	}
}
