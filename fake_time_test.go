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

// TestSleepsOnlyInFakeTime: a test may call time.Sleep only in a synctest
// bubble, where it advances fake time to an exact instant instead of
// hoping something real happened meanwhile. A Sleep must sit inside the
// function given to synctest.Test, or, in a helper only bubbles call, say
// so with "fake time" in a comment on its line.
func TestSleepsOnlyInFakeTime(t *testing.T) {
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		marked := map[int]bool{} // lines whose comment says "fake time"
		for _, cg := range f.Comments {
			for _, c := range cg.List {
				if strings.Contains(c.Text, "fake time") {
					marked[fset.Position(c.Pos()).Line] = true
				}
			}
		}
		var bubbles []ast.Node // the functions given to synctest.Test
		var sleeps []*ast.CallExpr
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			switch callee(call) {
			case "synctest.Test":
				if len(call.Args) == 2 {
					bubbles = append(bubbles, call.Args[1])
				}
			case "time.Sleep":
				sleeps = append(sleeps, call)
			}
			return true
		})
	next:
		for _, s := range sleeps {
			for _, b := range bubbles {
				if b.Pos() <= s.Pos() && s.End() <= b.End() {
					continue next
				}
			}
			if pos := fset.Position(s.Pos()); !marked[pos.Line] {
				t.Errorf("%s: time.Sleep outside a synctest bubble", pos)
			}
		}
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
