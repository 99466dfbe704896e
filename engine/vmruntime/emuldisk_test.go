package vmruntime

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pier-vm/pier/engine/emulation"
)

// debugfs runs a debugfs request against an ext4 image (e2fsprogs).
func debugfs(t *testing.T, disk, request string) string {
	t.Helper()
	out, err := exec.Command("debugfs", "-R", request, disk).Output()
	if err != nil {
		t.Fatalf("debugfs %q: %v\n%s", request, err, out)
	}
	return string(out)
}

// TestEmulatorDiskIsBuiltOncePerEmulator builds the emulator's disk: an
// ext4 image holding the emulator alone at its root, mode 0755, its bytes
// unchanged; a second call reuses the image; a changed emulator gets a new
// image and the old one is removed.
func TestEmulatorDiskIsBuiltOncePerEmulator(t *testing.T) {
	if _, err := exec.LookPath("debugfs"); err != nil {
		t.Skip("e2fsprogs not installed")
	}
	emulator := filepath.Join(t.TempDir(), "qemu-aarch64-static")
	content := strings.Repeat("a static emulator\n", 20000) // several blocks
	if err := os.WriteFile(emulator, []byte(content), 0o700); err != nil {
		t.Fatal(err)
	}
	e := &emulators{dir: filepath.Join(t.TempDir(), "emul")}
	p := emulation.Plan{Kind: emulation.QEMUUser, Arch: "arm64", EmulatorPath: emulator, Interpreter: "qemu-aarch64-static"}
	disk, err := e.disk(p)
	if err != nil {
		t.Fatal(err)
	}
	if ls := debugfs(t, disk, "ls -p /"); !strings.Contains(ls, "/100755/0/0/qemu-aarch64-static/"+strconv.Itoa(len(content))+"/") {
		t.Fatalf("the disk's root:\n%s", ls)
	}
	if got := debugfs(t, disk, "cat /qemu-aarch64-static"); got != content {
		t.Fatalf("the emulator on the disk differs (%d bytes, want %d)", len(got), len(content))
	}
	if entries, _ := os.ReadDir(e.dir); len(entries) != 1 {
		t.Fatalf("the emulation directory holds %v, want the disk alone", entries)
	}

	// Built once: the second call returns the same file untouched.
	before, _ := os.Stat(disk)
	again, err := e.disk(p)
	if err != nil || again != disk {
		t.Fatalf("second call: %q %v, want %q", again, err, disk)
	}
	if after, _ := os.Stat(again); !os.SameFile(before, after) || !after.ModTime().Equal(before.ModTime()) {
		t.Fatalf("the disk was built again")
	}

	// A new emulator (other content, later mtime) gets a new disk.
	content2 := content + "version 2\n"
	if err := os.WriteFile(emulator, []byte(content2), 0o700); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(emulator, later, later); err != nil {
		t.Fatal(err)
	}
	rebuilt, err := e.disk(p)
	if err != nil {
		t.Fatal(err)
	}
	if rebuilt == disk {
		t.Fatalf("a changed emulator kept its old disk %s", disk)
	}
	if got := debugfs(t, rebuilt, "cat /qemu-aarch64-static"); got != content2 {
		t.Fatalf("the rebuilt disk holds %d bytes, want the new emulator's %d", len(got), len(content2))
	}
	if _, err := os.Stat(disk); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the old emulator's disk is still there: %v", err)
	}
}

// TestEmulatorDiskErrors: a missing emulator and a bad interpreter name
// fail with errors that say so, and leave nothing behind.
func TestEmulatorDiskErrors(t *testing.T) {
	e := &emulators{dir: t.TempDir()}
	missing := emulation.Plan{Kind: emulation.QEMUUser, Arch: "arm64", EmulatorPath: filepath.Join(t.TempDir(), "nope"), Interpreter: "qemu-aarch64-static"}
	if _, err := e.disk(missing); err == nil || !strings.Contains(err.Error(), "arm64 emulator") {
		t.Errorf("missing emulator: %v", err)
	}
	emulator := filepath.Join(t.TempDir(), "qemu-aarch64-static")
	if err := os.WriteFile(emulator, []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	bad := emulation.Plan{Kind: emulation.QEMUUser, Arch: "arm64", EmulatorPath: emulator, Interpreter: "../escape"}
	if _, err := e.disk(bad); err == nil || !strings.Contains(err.Error(), "bad interpreter name") {
		t.Errorf("bad interpreter name: %v", err)
	}
	if entries, _ := os.ReadDir(e.dir); len(entries) != 0 {
		t.Errorf("left behind: %v", entries)
	}
}
