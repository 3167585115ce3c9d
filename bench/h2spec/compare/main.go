// Command compare runs h2spec against the stock server and against
// h2lifecycle (examples/server), over one transport, and fails if
// h2lifecycle misses a case the stock server passes.
//
//	compare -h2spec BIN -stock BIN -h2lifecycle BIN [-tls -cert F -key F] [-serveconn]
//
// Both servers take the examples/server contract: "-addr 127.0.0.1:0
// [-tls-cert F -tls-key F]", and print "listening on HOST:PORT". Every
// process compare starts is killed by its PID before it returns, and every
// h2spec run has a deadline.
//
// A few h2spec cases race the server's own response against the frames
// under test (6.9.1#3: a GET's response and its RST_STREAM(NO_ERROR) can
// beat the WINDOW_UPDATE overflow), so a single run is not a verdict. A
// case that stock passed and h2lifecycle failed in the full runs is re-run
// alone -reruns times against both; it counts as missed only if h2lifecycle
// never passes it while stock passes it at least once.
//
// -serveconn also runs the stock binary with -mode serveconn (a bare
// http2.Server.ServeConn accept loop, DESIGN.md, rule 11), for information only.
//
// The output is Markdown for bench/h2spec/RESULTS.md. Exit status: 0 when
// h2lifecycle passes every case stock passes, 1 when it misses one, 2 on a
// setup error.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"
)

type options struct {
	h2spec, stock, h2l   string
	tls                  bool
	cert, key            string
	reruns               int
	runTimeout           time.Duration
	caseTimeout          int // h2spec -o, seconds
	serveconn            bool
	logDir               string
	startTimeout, grace  time.Duration
	toolchain, transport string
}

func main() {
	var o options
	flag.StringVar(&o.h2spec, "h2spec", "h2spec", "h2spec binary")
	flag.StringVar(&o.stock, "stock", "", "stock server binary (bench/h2spec/stock)")
	flag.StringVar(&o.h2l, "h2lifecycle", "", "h2lifecycle server binary (examples/server)")
	flag.BoolVar(&o.tls, "tls", false, "serve and test over TLS (else h2c with prior knowledge)")
	flag.StringVar(&o.cert, "cert", "", "TLS certificate (PEM), with -tls")
	flag.StringVar(&o.key, "key", "", "TLS key (PEM), with -tls")
	flag.IntVar(&o.reruns, "reruns", 10, "re-runs of a case stock passed and h2lifecycle failed")
	flag.DurationVar(&o.runTimeout, "run-timeout", 3*time.Minute, "deadline of one h2spec run")
	flag.IntVar(&o.caseTimeout, "case-timeout", 2, "h2spec's per-case timeout, seconds")
	flag.BoolVar(&o.serveconn, "serveconn", false, "also run the stock binary with -mode serveconn (information only)")
	flag.StringVar(&o.logDir, "logs", "", "directory for server logs and h2spec reports (default: a temporary one, removed)")
	flag.Parse()
	o.startTimeout, o.grace = 10*time.Second, 10*time.Second
	o.transport = "h2c"
	if o.tls {
		o.transport = "TLS"
	}
	if o.stock == "" || o.h2l == "" || (o.tls && (o.cert == "" || o.key == "")) {
		fmt.Fprintln(os.Stderr, "compare: -stock and -h2lifecycle are required; -tls needs -cert and -key")
		os.Exit(2)
	}
	if o.logDir != "" {
		if err := os.MkdirAll(o.logDir, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "compare:", err)
			os.Exit(2)
		}
	} else {
		dir, err := os.MkdirTemp("", "h2spec-compare")
		if err != nil {
			fmt.Fprintln(os.Stderr, "compare:", err)
			os.Exit(2)
		}
		defer os.RemoveAll(dir)
		o.logDir = dir
	}
	code, err := run(o, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		code = 2
	}
	os.Exit(code)
}

// server is how to start one server under test.
type server struct {
	name string
	bin  string
	args []string
}

func run(o options, out io.Writer) (int, error) {
	out.Write([]byte(fmt.Sprintf("### %s\n\n", o.transport)))
	servers := []server{{"stock", o.stock, nil}, {"h2lifecycle", o.h2l, nil}}
	if o.serveconn {
		servers = append(servers, server{"bare ServeConn", o.stock, []string{"-mode", "serveconn"}})
	}
	results := make(map[string]map[string]result)
	var order []string // case ids in h2spec's order
	for i, s := range servers {
		res, ids, err := runH2spec(o, s, nil, fmt.Sprintf("%s-%d", o.transport, i))
		if err != nil {
			return 2, fmt.Errorf("%s: %w", s.name, err)
		}
		results[s.name] = res
		if order == nil {
			order = ids
		}
	}
	fmt.Fprintln(out, "| server | cases | passed | skipped | failed | failed cases |")
	fmt.Fprintln(out, "|---|---|---|---|---|---|")
	for _, s := range servers {
		var p, sk, f int
		var failed []string
		for _, id := range order {
			switch results[s.name][id].status {
			case passed:
				p++
			case skipped:
				sk++
			default:
				f++
				failed = append(failed, id)
			}
		}
		fmt.Fprintf(out, "| %s | %d | %d | %d | %d | %s |\n", s.name, len(results[s.name]), p, sk, f, strings.Join(failed, ", "))
	}
	fmt.Fprintln(out)

	// Cases stock passed that h2lifecycle failed: re-run each alone.
	var suspects []string
	for _, id := range order {
		if results["stock"][id].status == passed && results["h2lifecycle"][id].status != passed {
			suspects = append(suspects, id)
		}
	}
	missed := 0
	for _, id := range suspects {
		var n [2]int
		for k, s := range servers[:2] {
			for r := range o.reruns {
				res, _, err := runH2spec(o, s, []string{id}, fmt.Sprintf("%s-rerun-%d-%d", o.transport, k, r))
				if err != nil {
					return 2, fmt.Errorf("%s, re-running %s: %w", s.name, id, err)
				}
				if res[id].status == passed {
					n[k]++
				}
			}
		}
		verdict := "h2lifecycle can pass it: a timing race, not counted"
		if n[1] == 0 && n[0] > 0 {
			verdict = "**missed by h2lifecycle**"
			missed++
		}
		fmt.Fprintf(out, "- %s (%s): failed by h2lifecycle in the full run; re-run %d times alone: stock passed %d, h2lifecycle %d — %s\n",
			id, results["stock"][id].title, o.reruns, n[0], n[1], verdict)
	}
	for _, id := range order {
		if results["stock"][id].status != passed && results["h2lifecycle"][id].status == passed {
			fmt.Fprintf(out, "- %s (%s): passed by h2lifecycle, failed by stock in the full run\n", id, results["stock"][id].title)
		}
	}
	if missed > 0 {
		fmt.Fprintf(out, "\nh2lifecycle misses %d case(s) that stock passes.\n\n", missed)
		return 1, nil
	}
	fmt.Fprintf(out, "\nh2lifecycle passes every case stock passes.\n\n")
	return 0, nil
}

type status int

const (
	passed status = iota
	skipped
	failed
)

type result struct {
	status status
	title  string
}

var listening = regexp.MustCompile(`^listening on (\S+:\d+)$`)

// runH2spec starts s, runs h2spec (all cases, or ids) against it, stops s,
// and returns the results by case id ("http2/6.9.1/3") and the ids in order.
func runH2spec(o options, s server, ids []string, tag string) (map[string]result, []string, error) {
	args := append(slices.Clone(s.args), "-addr", "127.0.0.1:0")
	if o.tls {
		args = append(args, "-tls-cert", o.cert, "-tls-key", o.key)
	}
	logf, err := os.Create(fmt.Sprintf("%s/%s.server.log", o.logDir, tag))
	if err != nil {
		return nil, nil, err
	}
	defer logf.Close()
	cmd := exec.Command(s.bin, args...)
	cmd.Stderr = logf
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer stop(cmd, exited, o.grace)

	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
				break
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	var hostport string
	select {
	case hostport = <-addr:
	case err := <-exited:
		exited <- err
		return nil, nil, fmt.Errorf("%s exited before listening: %v", s.bin, err)
	case <-time.After(o.startTimeout):
		return nil, nil, fmt.Errorf("%s did not print \"listening on\" within %v", s.bin, o.startTimeout)
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil, nil, err
	}
	report := fmt.Sprintf("%s/%s.junit.xml", o.logDir, tag)
	hargs := []string{"-h", host, "-p", port, "-o", fmt.Sprint(o.caseTimeout), "-j", report}
	if o.tls {
		hargs = append(hargs, "-t", "-k")
	}
	hargs = append(hargs, ids...)
	ctx, cancel := context.WithTimeout(context.Background(), o.runTimeout)
	defer cancel()
	h := exec.CommandContext(ctx, o.h2spec, hargs...)
	var hout bytes.Buffer
	h.Stdout, h.Stderr = &hout, &hout
	h.WaitDelay = 5 * time.Second
	err = h.Run() // h2spec exits 1 when a case fails
	os.WriteFile(fmt.Sprintf("%s/%s.h2spec.txt", o.logDir, tag), hout.Bytes(), 0o644)
	if ctx.Err() != nil {
		return nil, nil, fmt.Errorf("h2spec did not finish within %v", o.runTimeout)
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return nil, nil, err
	}
	res, order, err := parseJUnit(report)
	if err != nil || len(ids) != 1 {
		return res, order, err
	}
	// One case run alone is the only one of its group in the report.
	if len(order) != 1 {
		return nil, nil, fmt.Errorf("h2spec %s ran %d cases, want 1", ids[0], len(order))
	}
	return map[string]result{ids[0]: res[order[0]]}, ids, nil
}

// stop ends a server it started: SIGTERM (both servers shut down on it),
// then SIGKILL after grace. Only that PID is signalled.
func stop(cmd *exec.Cmd, exited chan error, grace time.Duration) {
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(grace):
		cmd.Process.Kill()
		<-exited
	}
}

type junit struct {
	Suites []struct {
		Package string `xml:"package,attr"`
		Cases   []struct {
			Title   string    `xml:"classname,attr"`
			Error   *struct{} `xml:"error"`
			Failure *struct{} `xml:"failure"`
			Skipped *struct{} `xml:"skipped"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

// parseJUnit reads h2spec's JUnit report. A case's id is its group and its
// position in the group, as h2spec numbers them ("http2/4.2/3").
func parseJUnit(path string) (map[string]result, []string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	var j junit
	if err := xml.Unmarshal(b, &j); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	res := make(map[string]result)
	var ids []string
	for _, s := range j.Suites {
		for i, c := range s.Cases {
			id := fmt.Sprintf("%s/%d", s.Package, i+1)
			r := result{status: passed, title: c.Title}
			switch {
			case c.Error != nil || c.Failure != nil:
				r.status = failed
			case c.Skipped != nil:
				r.status = skipped
			}
			res[id] = r
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil, nil, fmt.Errorf("%s: no test cases", path)
	}
	return res, ids, nil
}
