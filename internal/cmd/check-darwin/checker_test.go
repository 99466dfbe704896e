package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// deps is shared by the tests: the standard library and vz are checked once.
var (
	depsOnce sync.Once
	deps     *depCache
)

func sharedDeps() *depCache {
	depsOnce.Do(func() { deps = newDepCache() })
	return deps
}

const badDarwin = `package bad

import "github.com/Code-Hex/vz/v3"

// Wrong on purpose: the tag must be a string, and vz has no such function.
func share() error {
	_, err := vz.NewVirtioFileSystemDeviceConfiguration(42)
	vz.NoSuchFunction()
	return err
}
`

// badLinux is wrong too, but not built for darwin: it must not be reported.
const badLinux = `package bad

var notChecked int = "linux only"
`

// tempModule writes a module that pins the project's versions (its go.mod
// and go.sum, renamed) holding package bad, and returns its root.
func tempModule(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	mod, err := os.ReadFile("../../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	mod = regexp.MustCompile(`(?m)^module .*$`).ReplaceAll(mod, []byte("module example.com/badmod"))
	sum, err := os.ReadFile("../../../go.sum")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"go.mod":                  string(mod),
		"go.sum":                  string(sum),
		"bad/bad_darwin_arm64.go": badDarwin,
		"bad/bad_linux.go":        badLinux,
	}
	for name, text := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestReportsTypeErrorsInDarwinCode(t *testing.T) {
	root := tempModule(t)
	c, err := newCheckerWith(root, sharedDeps())
	if err != nil {
		t.Fatal(err)
	}
	errs, n := c.checkDirs([]string{filepath.Join(root, "bad")})
	if n != 1 {
		t.Fatalf("checked %d packages, want 1", n)
	}
	var all []string
	for _, e := range errs {
		all = append(all, e.Error())
	}
	joined := strings.Join(all, "\n")
	for _, want := range []string{
		"bad_darwin_arm64.go:7:54: cannot use 42",
		"bad_darwin_arm64.go:8:5: undefined: vz.NoSuchFunction",
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("missing %q in:\n%s", want, joined)
		}
	}
	if strings.Contains(joined, "bad_linux.go") || len(errs) != 2 {
		t.Errorf("want exactly the two darwin errors, got:\n%s", joined)
	}
}

func TestAcceptsTheProject(t *testing.T) {
	if testing.Short() {
		t.Skip("type-checks the whole project")
	}
	c, err := newCheckerWith("../../..", sharedDeps())
	if err != nil {
		t.Fatal(err)
	}
	dirs, err := c.moduleDirs()
	if err != nil {
		t.Fatal(err)
	}
	errs, n := c.checkDirs(dirs)
	for _, e := range errs {
		t.Error(e)
	}
	if n < 5 {
		t.Fatalf("only %d packages checked", n)
	}
	if _, ok := c.pkgs["github.com/pier-vm/pier/engine/vm/vz"]; !ok {
		t.Fatal("the vz driver was not checked")
	}
}
