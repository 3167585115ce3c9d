package h2lifecycle_test

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// layers ranks every package of the module: a package imports only packages
// of a lower rank (DESIGN.md, "Packages"). internal/ holds leaves only;
// harnesses (bench/) and programs (examples/) sit on top.
var layers = map[string]int{
	"internal/frame":       0,
	"internal/h2hook":      0,
	"internal/h2test":      0,
	"internal/conformance": 0,
	"ping":                 1,
	"idle":                 2,
	"drain":                3,
	"lifecycle":            4,
	"server":               5,
	"lifecycle/timeline":   5,
	"":                     6, // the root package: documentation and the end-to-end tests
}

// top is the rank of everything under bench/ and examples/.
const top = 7

const module = "github.com/h2lifecycle/h2lifecycle"

func rank(pkg string) (int, bool) {
	rel := strings.TrimPrefix(strings.TrimPrefix(pkg, module), "/")
	if r, ok := layers[rel]; ok {
		return r, true
	}
	if strings.HasPrefix(rel, "bench/") || strings.HasPrefix(rel, "examples/") {
		return top, true
	}
	return 0, false
}

// TestLayers checks the package graph with go list: no package imports a
// package at or above its own rank, and every package has a rank (a new one
// must be placed in the table above).
func TestLayers(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list over the module")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	out, err := exec.Command(gobin, "list", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	seen := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		pkg := fields[0]
		r, ok := rank(pkg)
		if !ok {
			t.Errorf("%s has no rank in the layers table", pkg)
			continue
		}
		seen++
		for _, imp := range fields[1:] {
			if imp != module && !strings.HasPrefix(imp, module+"/") {
				continue
			}
			ir, ok := rank(imp)
			if !ok {
				continue // reported as its own line
			}
			if ir >= r && !(r == top && ir == top) {
				t.Errorf("%s (rank %d) imports %s (rank %d): a package imports only packages below it", pkg, r, imp, ir)
			}
		}
	}
	if seen < len(layers) {
		t.Errorf("go list named %d packages, fewer than the %d in the layers table", seen, len(layers))
	}
}
