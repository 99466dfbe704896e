package testimages

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// DebDir returns <repo root>/testdata/cache, where `make testdata` puts the
// packages; the repo root is the first directory at or above the working
// directory that holds go.mod.
func DebDir() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(d, "testdata", "cache"), nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod at or above %s", wd)
		}
	}
}

// Require returns the test image Set built from DebDir. When a prerequisite
// is missing it skips the test, or fails it under CI=true.
func Require(t testing.TB) *Set {
	t.Helper()
	dir, err := DebDir()
	if err != nil {
		t.Fatalf("testimages: %v", err)
		return nil
	}
	return requireFrom(t, dir)
}

func requireFrom(t testing.TB, dir string) *Set {
	t.Helper()
	set, err := Build(dir)
	switch {
	case errors.Is(err, ErrMissingPrerequisite) && os.Getenv("CI") == "true":
		t.Fatalf("testimages: %v (CI=true: run make testdata first)", err)
		return nil
	case errors.Is(err, ErrMissingPrerequisite):
		t.Skipf("testimages: %v: run make testdata", err)
		return nil
	case err != nil:
		t.Fatalf("testimages: %v", err)
		return nil
	}
	return set
}
