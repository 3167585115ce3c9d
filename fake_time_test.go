package h2lifecycle_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// TestSleepsOnlyInFakeTime: no test calls time.Sleep. A test steps time
// with h2test.Advance, which moves a synctest bubble's fake clock to an exact
// instant and panics outside a bubble, or waits for an event (synctest.Wait,
// a channel, a frame); a real sleep would hope that something happened
// meanwhile. Every module of the repository is walked (examples/ too).
func TestSleepsOnlyInFakeTime(t *testing.T) {
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if call, ok := n.(*ast.CallExpr); ok && callee(call) == "time.Sleep" {
				t.Errorf("%s: time.Sleep in a test: use h2test.Advance in a synctest bubble, or wait for an event", fset.Position(call.Pos()))
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// callee is "pkg.Func" for a call of a package-level function.
func callee(call *ast.CallExpr) string {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return ""
	}
	if x, ok := sel.X.(*ast.Ident); ok {
		return x.Name + "." + sel.Sel.Name
	}
	return ""
}
