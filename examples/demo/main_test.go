package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The README's main command must keep running and telling its story.
func TestDemo(t *testing.T) {
	for _, args := range [][]string{
		{"-runs", "1", "-workers", "16", "-conns", "2", "-duration", "50ms"},
		{"-runs", "1", "-workers", "16", "-conns", "2", "-duration", "50ms", "-tls"},
	} {
		var out bytes.Buffer
		if err := run(context.Background(), args, &out); err != nil {
			t.Fatalf("run(%q): %v\n%s", args, err, &out)
		}
		s := out.String()
		for _, want := range []string{
			"stock x/net — one connection at shutdown",
			"h2lifecycle — one connection at shutdown",
			"GOAWAY last-stream-id=2147483647",
			"PING ACK",
			"FAILED",
		} {
			if !strings.Contains(s, want) {
				t.Errorf("run(%q) output lacks %q:\n%s", args, want, s)
			}
		}
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
