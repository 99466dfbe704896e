// Package vmtest holds helpers for tests that boot real VMs: it finds the
// guest assets of the host architecture, builds the small test init
// (./testinit) and packs them with guestassets.
package vmtest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"

	"github.com/pier-vm/pier/engine/vm/guestassets"
)

// ErrNoKernel means the guest kernel has not been fetched; tests skip on it.
var ErrNoKernel = errors.New("no guest kernel: run `make guest-assets`")

// RepoRoot returns the module root, found by walking up from the working
// directory to go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// GuestDir returns bin/guest/<host arch>, or ErrNoKernel when its kernel
// is missing.
func GuestDir() (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(root, "bin", "guest", runtime.GOARCH)
	if _, err := os.Stat(filepath.Join(dir, guestassets.KernelName)); err != nil {
		return "", fmt.Errorf("%w (%s)", ErrNoKernel, dir)
	}
	return dir, nil
}

// BuildTestInit builds ./testinit as a static binary at out.
func BuildTestInit(out string) error {
	root, err := RepoRoot()
	if err != nil {
		return err
	}
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./engine/vm/vmtest/testinit")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build test init: %v\n%s", err, b)
	}
	return nil
}

// Assets builds the test init into workDir and returns the kernel and an
// initramfs (cached in workDir) whose /init is the test init.
func Assets(workDir string) (*guestassets.Assets, error) {
	guestDir, err := GuestDir()
	if err != nil {
		return nil, err
	}
	initPath := filepath.Join(workDir, "testinit")
	if err := BuildTestInit(initPath); err != nil {
		return nil, err
	}
	return guestassets.PrepareWithInit(guestDir, initPath, filepath.Join(workDir, "cache"))
}
