// Command netlog summarizes a Chromium net log (--log-net-log=FILE
// --net-log-capture-mode=Everything) for the browser bench
// (bench/interop/browser.sh): what the page's fetch() cannot show, because
// Chromium's network layer retries some failures on its own (DESIGN.md,
// rule 10).
//
//	go run ./bench/interop/netlog FILE
//
// It prints the HTTP/2 sessions opened, the GOAWAYs received (by
// last-stream-id), the transactions Chromium restarted after an error (by
// error, and by whether the request had reached the wire: a stream with no
// id when it was abandoned never had its HEADERS written — Chromium gives
// the requests it had queued on a session that receives any GOAWAY
// ERR_HTTP2_SERVER_REFUSED_STREAM and retries them, so those are the
// client's own, not requests the server refused), and the events about requests, sockets and
// sessions that carried a network error, by event type and error (name
// lookups of Chromium's own services, QUIC and certificate checks left out). A log cut short (Chromium killed) is read up to its
// last complete event.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
)

type netLog struct {
	Constants struct {
		LogEventTypes map[string]int `json:"logEventTypes"`
		LogSourceType map[string]int `json:"logSourceType"`
		NetError      map[string]int `json:"netError"`
	} `json:"constants"`
	Events []event `json:"events"`
}

type event struct {
	Type   int `json:"type"`
	Phase  int `json:"phase"`
	Source struct {
		ID   int `json:"id"`
		Type int `json:"type"`
	} `json:"source"`
	Params map[string]any `json:"params"`
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: netlog FILE")
		os.Exit(2)
	}
	b, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "netlog:", err)
		os.Exit(1)
	}
	nl, err := parse(b)
	if err != nil {
		fmt.Fprintln(os.Stderr, "netlog:", err)
		os.Exit(1)
	}
	fmt.Print(summarize(nl))
}

// parse reads a net log, completing one that ends mid-way: Chromium writes
// one event per line, each followed by a comma.
func parse(b []byte) (*netLog, error) {
	var nl netLog
	if err := json.Unmarshal(b, &nl); err == nil {
		return &nl, nil
	}
	b = bytes.TrimRight(b, " \n\r\t,")
	for len(b) > 0 {
		try := append(bytes.Clone(b), "]}"...)
		if err := json.Unmarshal(try, &nl); err == nil {
			return &nl, nil
		}
		i := bytes.LastIndexByte(b, '\n')
		if i < 0 {
			break
		}
		b = bytes.TrimRight(b[:i], " \n\r\t,")
	}
	return nil, fmt.Errorf("not a net log")
}

func invert(m map[string]int) map[int]string {
	out := make(map[int]string, len(m))
	for k, v := range m {
		out[v] = k
	}
	return out
}

func summarize(nl *netLog) string {
	types := invert(nl.Constants.LogEventTypes)
	errs := invert(nl.Constants.NetError)
	errName := func(v any) string {
		f, ok := v.(float64)
		if !ok {
			return fmt.Sprint(v)
		}
		if name, ok := errs[int(f)]; ok {
			return "ERR_" + strings.TrimPrefix(name, "ERR_")
		}
		return fmt.Sprintf("net error %d", int(f))
	}
	sessionType, haveSession := nl.Constants.LogSourceType["HTTP2_SESSION"]
	sessions := map[int]bool{}
	goAways := map[string]int{}
	restarts := map[string]int{}
	errors := map[string]int{}
	requests := 0
	// Per request: whether its HTTP/2 stream got an id, i.e. whether its
	// HEADERS can have left, since its last (re)start.
	type reqState struct {
		headers  bool // HTTP_TRANSACTION_HTTP2_SEND_REQUEST_HEADERS
		streamID int  // of its last HTTP2_STREAM_ERROR; 0: it had none
		errored  bool
	}
	reqs := map[int]*reqState{}
	for _, e := range nl.Events {
		name := types[e.Type]
		st := reqs[e.Source.ID]
		if st == nil {
			st = &reqState{}
			reqs[e.Source.ID] = st
		}
		if haveSession && e.Source.Type == sessionType {
			sessions[e.Source.ID] = true
		}
		switch name {
		case "HTTP2_SESSION_RECV_GOAWAY":
			goAways[fmt.Sprintf("last_accepted_stream_id=%v active_streams=%v error=%v",
				num(e.Params["last_accepted_stream_id"]), num(e.Params["active_streams"]), e.Params["error_code"])]++
		case "HTTP_TRANSACTION_HTTP2_SEND_REQUEST_HEADERS":
			st.headers = true
		case "HTTP2_STREAM_ERROR":
			st.errored = true
			if f, ok := e.Params["stream_id"].(float64); ok {
				st.streamID = int(f)
			}
		case "HTTP_TRANSACTION_RESTART_AFTER_ERROR":
			// A stream without an id never had its HEADERS written: the
			// request was still inside Chromium when the session went away.
			sent := "sent on the wire"
			switch {
			case !st.headers:
				sent = "never sent: no HEADERS yet"
			case st.errored && st.streamID == 0:
				sent = "never sent: stream had no id yet"
			}
			restarts[errName(e.Params["net_error"])+" ("+sent+")"]++
			*st = reqState{}
		case "URL_REQUEST_START_JOB":
			if u, _ := e.Params["url"].(string); strings.Contains(u, "/ok") && e.Phase == 1 {
				requests++
			}
		}
		if v, ok := e.Params["net_error"]; ok && !unrelated(name) {
			if f, ok := v.(float64); ok && f != 0 && errName(v) != "ERR_NAME_NOT_RESOLVED" {
				errors[name+" "+errName(v)]++
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "events: %d; /ok request jobs started: %d; HTTP/2 sessions: %d\n", len(nl.Events), requests, len(sessions))
	section := func(title string, m map[string]int) {
		total := 0
		for _, n := range m {
			total += n
		}
		fmt.Fprintf(&b, "%s: %d\n", title, total)
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "  %5d  %s\n", m[k], k)
		}
	}
	section("GOAWAYs received", goAways)
	section("transactions restarted after an error (retried by Chromium)", restarts)
	section("HTTP, HTTP/2, socket and request events with a network error", errors)
	return b.String()
}

// unrelated tells the events that are not about the page's requests: the
// name lookups Chromium makes of its own services (refused on this closed
// network), QUIC (disabled) and the self-signed certificate's check.
func unrelated(name string) bool {
	for _, p := range []string{"DNS_", "HOST_RESOLVER", "QUIC_", "CERT_"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// num prints a JSON number as an integer when it is one.
func num(v any) string {
	if f, ok := v.(float64); ok && f == float64(int64(f)) {
		return fmt.Sprint(int64(f))
	}
	return fmt.Sprint(v)
}
