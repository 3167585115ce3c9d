package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The README's main command must keep running and telling its story: first,
// in plain words, what each server lost at a shutdown, an idle timeout and a
// maximum age; then the wire detail.
func TestDemo(t *testing.T) {
	small := []string{"-runs", "1", "-workers", "16", "-conns", "2", "-duration", "50ms",
		"-idle-requests", "4", "-idle-timeout", "20ms", "-max-age", "50ms", "-age-duration", "300ms"}
	for _, args := range [][]string{small, append(small, "-tls")} {
		var out bytes.Buffer
		if err := run(context.Background(), args, &out); err != nil {
			t.Fatalf("run(%q): %v\n%s", args, err, &out)
		}
		s := out.String()
		summary, detail, ok := strings.Cut(s, "The detail, for experts.")
		if !ok {
			t.Fatalf("run(%q): no detail section:\n%s", args, s)
		}
		for _, want := range []*regexp.Regexp{
			regexp.MustCompile(`\nWhat happened:\n- Shutdown, 1 times under load: the stock server lost \d+ of \d+ requests; h2lifecycle lost 0 of \d+ requests\.\n`),
			regexp.MustCompile(`\n- Idle timeout \(20ms, [^)]*\): the stock server lost \d+ of \d+ requests; h2lifecycle lost 0 of \d+ requests\.\n`),
			regexp.MustCompile(`\n- Max connection age \(50ms, h2lifecycle only[^\n]*\n  h2lifecycle rotated [1-9]\d* connections at their age limit under load and lost 0 of \d+ requests\.\n`),
		} {
			if !want.MatchString(summary) {
				t.Errorf("run(%q): the summary does not match %s:\n%s", args, want, summary)
			}
		}
		// A "Why" follows every loss of the stock server.
		if losses := regexp.MustCompile(`the stock server lost [1-9]`).FindAllStringIndex(summary, -1); len(losses) != strings.Count(summary, "  Why: the stock server closed") {
			t.Errorf("run(%q): %d losses, %d explanations:\n%s", args, len(losses), strings.Count(summary, "  Why:"), summary)
		}
		for _, want := range []string{
			"stock x/net — one connection at shutdown",
			"h2lifecycle — one connection at shutdown",
			"GOAWAY last-stream-id=2147483647",
			"PING ACK",
			"FAILED",
		} {
			if !strings.Contains(detail, want) {
				t.Errorf("run(%q) detail lacks %q:\n%s", args, want, s)
			}
		}
	}
}

// TestHelp: -h prints the usage and exits 0; a bad flag exits 2.
func TestHelp(t *testing.T) {
	for _, h := range []string{"-h", "-help", "--help"} {
		var out, errOut bytes.Buffer
		if code := runMain(context.Background(), []string{h}, &out, &errOut); code != 0 {
			t.Errorf("%s: exit %d, want 0; stderr %q", h, code, &errOut)
		}
		if !strings.Contains(out.String(), "Usage: go run ./examples/demo") || !strings.Contains(out.String(), "-max-age") {
			t.Errorf("%s: no usage on stdout:\n%s", h, &out)
		}
	}
	var out, errOut bytes.Buffer
	if code := runMain(context.Background(), []string{"-runs", "0"}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "must be positive") {
		t.Errorf("-runs 0: exit %d, stderr %q; want 2 and the reason", code, &errOut)
	}
}

// TestWrapNotMidWord: a long sample error is shortened after a whole word.
func TestWrapNotMidWord(t *testing.T) {
	long := "http2: Transport: cannot retry err [http2: Transport received Server's graceful shutdown GOAWAY] after Request.Body was written; define Request.GetBody to avoid this error"
	got := wrap(long)
	kept, ok := strings.CutSuffix(got, " ...")
	if !ok || len(got) > 160 {
		t.Fatalf("wrap = %q (%d bytes), want at most 160 ending in \" ...\"", got, len(got))
	}
	if !strings.HasPrefix(long, kept) || long[len(kept)] != ' ' {
		t.Errorf("wrap cut mid-word: %q", got)
	}
	if short := "connection reset by peer"; wrap(" "+short+"\n") != short {
		t.Errorf("wrap(short) = %q", wrap(short))
	}
}

// -timeline draws one more h2lifecycle shutdown as an SVG: one row per
// connection, each drained for the shutdown.
func TestDemoTimeline(t *testing.T) {
	file := filepath.Join(t.TempDir(), "drain.svg")
	var out bytes.Buffer
	args := []string{"-runs", "1", "-workers", "8", "-conns", "2", "-duration", "50ms", "-timeline", file}
	if err := run(context.Background(), args, &out); err != nil {
		t.Fatalf("run(%q): %v\n%s", args, err, &out)
	}
	if !strings.Contains(out.String(), "Timeline: one more h2lifecycle shutdown") {
		t.Errorf("the output does not mention the timeline:\n%s", &out)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(b))
	var reasons []string
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "g" {
			var class, reason string
			for _, a := range se.Attr {
				switch a.Name.Local {
				case "class":
					class = a.Value
				case "data-reason":
					reason = a.Value
				}
			}
			if class == "row" {
				reasons = append(reasons, reason)
			}
		}
	}
	// The load's two connections, and no more: the listener closes first.
	if len(reasons) != 2 || reasons[0] != "shutdown" || reasons[1] != "shutdown" {
		t.Errorf("rows (reasons) %q, want the load's 2 connections drained for the shutdown", reasons)
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-runs", "0"}, {"-spread", "-1s"}, {"-spread", "15s"}} {
		if err := run(context.Background(), args, &bytes.Buffer{}); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
}
