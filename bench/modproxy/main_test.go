package main

import (
	"archive/zip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestWrite builds a proxy from a small tree: a module with a nested module,
// a VCS directory and a vendor directory, and checks the layout the go
// command reads.
func TestWrite(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"go.mod":               "module example.com/Core\n\ngo 1.26.0\n",
		"core.go":              "package core\n",
		"LICENSE":              "license\n",
		"sub/sub.go":           "package sub\n",
		".git/HEAD":            "ref\n",
		"vendor/modules.txt":   "\n",
		"adapter/go.mod":       "module example.com/Core/adapter\n\ngo 1.26.0\n\nrequire example.com/Core v0.1.0\n",
		"adapter/adapter.go":   "package adapter\n",
		"adapter/x/x_test.go":  "package x\n",
		"adapter/testdata/a.b": "data\n",
	}
	for name, data := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := t.TempDir()
	mods, err := Write(root, out, "v0.1.0", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(mods)
	if want := []string{"example.com/Core", "example.com/Core/adapter"}; !slices.Equal(mods, want) {
		t.Fatalf("modules %q, want %q", mods, want)
	}
	// Upper case is escaped in proxy paths.
	core := filepath.Join(out, "example.com", "!core", "@v")
	for name, want := range map[string]string{
		"list":        "v0.1.0\n",
		"v0.1.0.info": `{"Version":"v0.1.0","Time":"2026-12-01T00:00:00Z"}`,
		"v0.1.0.mod":  files["go.mod"],
	} {
		got, err := os.ReadFile(filepath.Join(core, name))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if got, want := zipNames(t, filepath.Join(core, "v0.1.0.zip")), []string{
		"example.com/Core@v0.1.0/LICENSE",
		"example.com/Core@v0.1.0/core.go",
		"example.com/Core@v0.1.0/go.mod",
		"example.com/Core@v0.1.0/sub/sub.go",
	}; !slices.Equal(got, want) {
		t.Errorf("core zip holds %q, want %q (no nested module, VCS or vendor files)", got, want)
	}
	if got, want := zipNames(t, filepath.Join(out, "example.com", "!core", "adapter", "@v", "v0.1.0.zip")), []string{
		"example.com/Core/adapter@v0.1.0/adapter.go",
		"example.com/Core/adapter@v0.1.0/go.mod",
		"example.com/Core/adapter@v0.1.0/testdata/a.b",
		"example.com/Core/adapter@v0.1.0/x/x_test.go",
	}; !slices.Equal(got, want) {
		t.Errorf("adapter zip holds %q, want %q", got, want)
	}
}

func zipNames(t *testing.T, file string) []string {
	t.Helper()
	zr, err := zip.OpenReader(file)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	slices.Sort(names)
	return names
}

// TestWriteRefusesReplace: a published go.mod with a replace directive
// would build here and break for users (the go command ignores replace in
// dependencies, and go install pkg@version refuses it).
func TestWriteRefusesReplace(t *testing.T) {
	root := t.TempDir()
	gomod := "module example.com/a\n\ngo 1.26.0\n\nrequire example.com/b v0.1.0\n\nreplace example.com/b => ../b\n"
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte(gomod), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Write(root, t.TempDir(), "v0.1.0", time.Now())
	if err == nil || !strings.Contains(err.Error(), "replace") {
		t.Fatalf("Write = %v, want an error naming the replace directive", err)
	}
	if _, err := Write(root, t.TempDir(), "0.1", time.Now()); err == nil || !strings.Contains(err.Error(), `"0.1"`) {
		t.Fatalf("Write with version 0.1 = %v, want an error naming it", err)
	}
}
