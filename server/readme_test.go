package server_test

import (
	"os"
	"strings"
	"testing"
)

// TestReadmeQuickstart keeps the README's Quickstart and Example_quickstart
// identical: the code users copy is the code that compiles (the example's
// body, one tab less).
func TestReadmeQuickstart(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "\n## Quickstart\n")
	if !ok {
		t.Fatal("README.md has no ## Quickstart section")
	}
	_, block, ok := strings.Cut(after, "```go\n")
	if !ok {
		t.Fatal("README.md's Quickstart has no ```go block")
	}
	block, _, ok = strings.Cut(block, "```\n")
	if !ok {
		t.Fatal("README.md's Quickstart block does not end")
	}

	src, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	_, body, ok := strings.Cut(string(src), "\nfunc Example_quickstart() {\n")
	if !ok {
		t.Fatal("example_test.go has no Example_quickstart")
	}
	body, _, ok = strings.Cut(body, "\n}\n")
	if !ok {
		t.Fatal("Example_quickstart does not end")
	}
	var want strings.Builder
	for _, line := range strings.Split(body, "\n") {
		want.WriteString(strings.TrimPrefix(line, "\t"))
		want.WriteString("\n")
	}
	if block != want.String() {
		t.Errorf("README.md's Quickstart differs from Example_quickstart's body.\nREADME:\n%s\nexample:\n%s", block, want.String())
	}
}
