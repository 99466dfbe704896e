package guestassets

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// copyTestBinary puts this test's own executable (an ELF of the host's
// architecture) at dst.
func copyTestBinary(t *testing.T, dst string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

func fakeArm64Image(t *testing.T, dst string) {
	t.Helper()
	head := make([]byte, 4096)
	copy(head[56:], arm64ImageMagic)
	if err := os.WriteFile(dst, head, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCheckHostArchGuestDir(t *testing.T) {
	dir := fakeGuestDir(t, fakeDep)
	copyTestBinary(t, filepath.Join(dir, InitName))
	switch runtime.GOARCH {
	case "amd64":
		copyTestBinary(t, filepath.Join(dir, KernelName)) // an x86-64 ELF, as vmlinux is
	case "arm64":
		fakeArm64Image(t, filepath.Join(dir, KernelName))
	default:
		t.Skipf("no guests for %s", runtime.GOARCH)
	}
	inv, err := Check(dir, runtime.GOARCH)
	if err != nil {
		t.Fatal(err)
	}
	if inv.KernelRelease != "6.1.0-test" || inv.Modules != 7 || inv.Busybox {
		t.Errorf("inventory %+v", inv)
	}
}

func TestCheckRefusesWrongArchitecture(t *testing.T) {
	other := map[string]string{"amd64": "arm64", "arm64": "amd64"}[runtime.GOARCH]
	if other == "" {
		t.Skipf("no guests for %s", runtime.GOARCH)
	}
	dir := fakeGuestDir(t, fakeDep)
	copyTestBinary(t, filepath.Join(dir, InitName))
	if other == "arm64" {
		fakeArm64Image(t, filepath.Join(dir, KernelName))
	} else {
		copyTestBinary(t, filepath.Join(dir, KernelName)) // an arm64 ELF: wrong machine for amd64
	}
	_, err := Check(dir, other)
	if err == nil || !strings.Contains(err.Error(), "not "+other) {
		t.Errorf("%s guest dir with a %s init: %v", other, runtime.GOARCH, err)
	}
}

func TestCheckRefusesCompressedOrMissingKernel(t *testing.T) {
	dir := fakeGuestDir(t, fakeDep) // its kernel is the text "kernel"
	if _, err := Check(dir, "arm64"); err == nil || !strings.Contains(err.Error(), "not an uncompressed arm64 kernel Image") {
		t.Errorf("arm64: %v", err)
	}
	if _, err := Check(dir, "amd64"); err == nil || !strings.Contains(err.Error(), "make guest-assets") {
		t.Errorf("amd64: %v", err)
	}
	if _, err := Check(t.TempDir(), "amd64"); err == nil || !strings.Contains(err.Error(), "make guest-assets") {
		t.Errorf("empty dir: %v", err)
	}
}

// TestCheckRealGuestDirs checks what make guest guest-assets wrote, for
// each architecture fetched.
func TestCheckRealGuestDirs(t *testing.T) {
	root, _ := filepath.Abs("../../..")
	for _, arch := range []string{"amd64", "arm64"} {
		dir := filepath.Join(root, "bin", "guest", arch)
		if _, err := os.Stat(filepath.Join(dir, InitName)); err != nil {
			t.Logf("%s: no guest assets", arch)
			continue
		}
		if inv, err := Check(dir, arch); err != nil {
			t.Errorf("%s: %v", arch, err)
		} else {
			t.Logf("%s: %+v", arch, inv)
		}
	}
}
