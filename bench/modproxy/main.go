// Command modproxy writes a module proxy directory (GOPROXY=file://DIR) that
// serves this checkout's modules — the core and every adapter module below
// it — at one version, so that `go get` can be tried the way a user runs it,
// from a throwaway module outside the repository, before anything is tagged
// (.ci/modcheck does).
//
//	go run ./bench/modproxy -out /tmp/proxy -version v0.1.0
//
// The layout is the module proxy protocol's (go help goproxy): for each
// module, $out/<path>/@v/list, <version>.info, <version>.mod and
// <version>.zip. The zip holds the files `go mod download` would: every
// regular file of the module's directory tree under "<path>@<version>/",
// except nested modules (directories with their own go.mod), version
// control directories and vendor directories. It is written with the
// standard library only; paths are checked as the go command checks them
// when it extracts the zip, which is where a mistake would show.
package main

import (
	"archive/zip"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"time"
	"unicode"
)

func main() {
	out := flag.String("out", "", "the proxy directory to write (required)")
	version := flag.String("version", "v0.1.0", "the version every module is served at")
	root := flag.String("root", ".", "the repository's root (the core module's directory)")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "modproxy: -out DIR is required")
		os.Exit(2)
	}
	mods, err := Write(*root, *out, *version, time.Now())
	if err != nil {
		fmt.Fprintln(os.Stderr, "modproxy:", err)
		os.Exit(1)
	}
	for _, m := range mods {
		fmt.Printf("%s@%s\n", m, *version)
	}
}

var semver = regexp.MustCompile(`^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$`)

// Write serves every module under root at version in the proxy directory
// out, and returns their paths.
func Write(root, out, version string, t time.Time) ([]string, error) {
	if !semver.MatchString(version) {
		return nil, fmt.Errorf("version %q is not a semantic version like v0.1.0", version)
	}
	var dirs []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != root && skipDir(d.Name()) {
			return filepath.SkipDir
		}
		if !d.IsDir() && d.Name() == "go.mod" {
			dirs = append(dirs, filepath.Dir(p))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var paths []string
	for _, dir := range dirs {
		p, err := writeModule(dir, out, version, t)
		if err != nil {
			return nil, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// skipDir reports directories that are never part of a module zip.
func skipDir(name string) bool {
	switch name {
	case ".git", ".hg", ".svn", ".bzr", "vendor":
		return true
	}
	return false
}

func writeModule(dir, out, version string, t time.Time) (string, error) {
	gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return "", err
	}
	modPath := modulePath(gomod)
	if modPath == "" {
		return "", fmt.Errorf("%s: no module line", filepath.Join(dir, "go.mod"))
	}
	if strings.Contains(string(gomod), "\nreplace ") || strings.Contains(string(gomod), "\nreplace(") {
		return "", fmt.Errorf("%s: a published go.mod must not have replace directives (the go command ignores them in dependencies)", filepath.Join(dir, "go.mod"))
	}
	esc, err := escapePath(modPath)
	if err != nil {
		return "", err
	}
	vdir := filepath.Join(out, filepath.FromSlash(esc), "@v")
	if err := os.MkdirAll(vdir, 0o755); err != nil {
		return "", err
	}
	info, _ := json.Marshal(struct {
		Version string
		Time    time.Time
	}{version, t.UTC().Truncate(time.Second)})
	for name, data := range map[string][]byte{
		"list":            []byte(version + "\n"),
		version + ".info": info,
		version + ".mod":  gomod,
	} {
		if err := os.WriteFile(filepath.Join(vdir, name), data, 0o644); err != nil {
			return "", err
		}
	}
	return modPath, writeZip(dir, filepath.Join(vdir, version+".zip"), modPath+"@"+version)
}

// writeZip writes the module zip of dir, its files under prefix/.
func writeZip(dir, file, prefix string) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	zw := zip.NewWriter(f)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if p == dir {
				return nil
			}
			if skipDir(d.Name()) {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
				return filepath.SkipDir // a nested module is its own zip
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil // symlinks and the like: the go command skips them too
		}
		if err := checkFilePath(rel); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		src, err := os.Open(p)
		if err != nil {
			return err
		}
		defer src.Close()
		w, err := zw.Create(prefix + "/" + rel)
		if err != nil {
			return err
		}
		_, err = io.Copy(w, src)
		return err
	})
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// modulePath is the path of go.mod's module line.
func modulePath(gomod []byte) string {
	for _, line := range strings.Split(string(gomod), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "module"); ok && rest != "" && (rest[0] == ' ' || rest[0] == '\t') {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}

// escapePath is the proxy protocol's case encoding: every upper-case letter
// becomes '!' and its lower case.
func escapePath(p string) (string, error) {
	var b strings.Builder
	for _, r := range p {
		if r == '!' || r >= unicode.MaxASCII {
			return "", fmt.Errorf("module path %q: character %q", p, r)
		}
		if 'A' <= r && r <= 'Z' {
			b.WriteByte('!')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String(), nil
}

// checkFilePath rejects the file paths the go command refuses in a module
// zip, a subset of its rules that a checkout can break: empty or dot
// elements, and characters outside its set.
func checkFilePath(rel string) error {
	for _, elem := range strings.Split(rel, "/") {
		if elem == "" || elem == "." || elem == ".." {
			return errors.New("bad path element")
		}
		for _, r := range elem {
			if !(unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("!#$%&()+,-.=@[]^_{}~ ", r)) {
				return fmt.Errorf("character %q not allowed in a module file path", r)
			}
		}
	}
	if path.Clean(rel) != rel {
		return errors.New("path not clean")
	}
	return nil
}
