package main

import (
	"bytes"
	"context"
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

func TestBadFlags(t *testing.T) {
	if err := run(context.Background(), []string{"-runs", "0"}, &bytes.Buffer{}); err == nil {
		t.Error("-runs 0 accepted")
	}
}
