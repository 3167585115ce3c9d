package main

import (
	"strings"
	"testing"
)

// TestTerminationBudgetWarnedOnce: a plan over its termination budget is
// warned about at start, and not again at SIGTERM (issue 14, item 5: the
// example warned at start and RunShutdown warned again).
func TestTerminationBudgetWarnedOnce(t *testing.T) {
	c := startChild(t, "-addr", "127.0.0.1:0", "-deregistration-delay", "1ms", "-grace", "2s", "-termination-budget", "1s")
	if code := c.terminate(t); code != 0 {
		t.Fatalf("exit code %d, want 0; stderr:\n%s", code, c.stderr)
	}
	logs := c.stderr.String()
	if !strings.Contains(logs, `"msg":"shut down"`) {
		t.Fatalf("the shutdown did not run:\n%s", logs)
	}
	if n := strings.Count(logs, "termination budget"); n != 1 {
		t.Errorf("%d lines about the termination budget, want 1:\n%s", n, logs)
	}
	start := strings.Index(logs, "termination budget")
	if sig := strings.Index(logs, `"msg":"signal received"`); sig < 0 || start > sig {
		t.Errorf("the warning did not come before the signal:\n%s", logs)
	}
}
