package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pier-vm/pier/internal/testimages"
)

// TestPinnedPlatformSurvivesRepullAndRestart creates an arm64 container from
// a multi-platform tag, re-pulls the tag for amd64, and starts the container
// before and after a daemon restart: both runs boot the pinned arm64 image.
// It has a daemon of its own, since it restarts it.
func TestPinnedPlatformSurvivesRepullAndRestart(t *testing.T) {
	if reg == nil {
		sharedDaemon(t)
	}
	d := startDaemon(t)
	defer d.stop(t)
	ref := reg.Ref(testimages.Busybox, testimages.Latest)
	// create pulls the arm64 image: nothing of the tag is local yet.
	d.ok(t, "create", "--name", "pinned", "--platform", "linux/arm64", ref, "uname", "-m")
	pinned := d.ok(t, "inspect", "-f", "{{.Image}}", "pinned")
	if got := d.ok(t, "image", "inspect", "-f", "{{.Architecture}}", strings.TrimSpace(pinned)); got != "arm64\n" {
		t.Fatalf("the container's image is %q, want arm64", got)
	}
	d.ok(t, "pull", "-q", "--platform", "linux/amd64", ref)
	if got := d.ok(t, "image", "inspect", "-f", "{{.Architecture}}", ref); got != "amd64\n" {
		t.Fatalf("the tag should now be amd64, is %q", got)
	}
	if out := d.ok(t, "start", "-a", "pinned"); out != "aarch64\n" {
		t.Fatalf("start -a after the re-pull: %q", out)
	}

	d.restart(t)
	if got := d.ok(t, "inspect", "-f", "{{.Image}} {{.State.Status}} {{.State.ExitCode}}", "pinned"); got != strings.TrimSpace(pinned)+" exited 0\n" {
		t.Fatalf("after the restart the container reads %q, want image %s, exited 0", got, strings.TrimSpace(pinned))
	}
	if got := d.ok(t, "image", "inspect", "-f", "{{.Architecture}}", ref); got != "amd64\n" {
		t.Fatalf("after the restart the tag is %q, want amd64", got)
	}
	if out := d.ok(t, "start", "-a", "pinned"); out != "aarch64\n" {
		t.Fatalf("start -a after the daemon restart: %q", out)
	}
}

// TestNativePlatformHasNoEmulator runs a multi-platform image for the host's
// own platform: it stays native, its VM has no virtio-fs device and no
// virtiofsd runs for it, and no binfmt_misc rule exists inside.
func TestNativePlatformHasNoEmulator(t *testing.T) {
	d := sharedDaemon(t)
	ref := reg.Ref(testimages.Busybox, testimages.Latest)
	d.ok(t, "pull", "-q", "--platform", "linux/arm64", ref) // the tag is arm64 locally
	// Virtio device IDs: 0x0002 block, 0x0003 console, 0x001a file system.
	d.ok(t, "run", "-d", "--name", "native", "--platform", "linux/amd64", ref, "sh", "-c",
		"uname -m; ls -A /proc/sys/fs/binfmt_misc; cat /sys/bus/virtio/devices/*/device; echo done; exec sleep 600")
	defer d.docker(t, "", "rm", "-f", "native")
	var out string
	for deadline := time.Now().Add(2 * time.Minute); !strings.Contains(out, "done\n"); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no output from the container: %q", out)
		}
		out = d.ok(t, "logs", "native")
	}
	lines := strings.Split(strings.TrimSuffix(out, "done\n"), "\n")
	if lines[0] != "x86_64" || !strings.Contains(out, "0x0002") || strings.Contains(out, "0x001a") || strings.Contains(out, "qemu") {
		t.Fatalf("inside the native container: %q (want x86_64, a block device, no virtio-fs device, no binfmt rule)", out)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(d.ok(t, "inspect", "-f", "{{.State.Pid}}", "native")))
	if err != nil || pid <= 0 {
		t.Fatalf("VM pid %d: %v", pid, err)
	}
	cmdline, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(cmdline, []byte("qemu-system")) || bytes.Contains(cmdline, []byte("vhost-user-fs")) {
		t.Fatalf("the VM's command line: %q", bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '}))
	}
	for _, p := range vmProcesses(d.dataDir) {
		if b, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(p), "cmdline")); bytes.Contains(b, []byte("virtiofsd")) {
			t.Fatalf("virtiofsd runs for the native container: %q", bytes.ReplaceAll(b, []byte{0}, []byte{' '}))
		}
	}
}

// TestEmulatedRunsAreClones: the qemu-user emulator comes on a read-only
// disk, not a virtio-fs share, so an emulated container without mounts
// has a template shape of its own: after the first emulated run (which
// makes the template) the next one is a clone, and still runs aarch64.
func TestEmulatedRunsAreClones(t *testing.T) {
	d := sharedDaemon(t)
	ref := reg.Ref(testimages.Busybox, testimages.Latest)
	if out := d.ok(t, "run", "--rm", "--platform", "linux/arm64", ref, "uname", "-m"); out != "aarch64\n" {
		t.Fatalf("first emulated run: %q", out)
	}
	before := vmStarts(t, d)
	start := time.Now()
	if out := d.ok(t, "run", "--rm", "--platform", "linux/arm64", ref, "uname", "-m"); out != "aarch64\n" {
		t.Fatalf("second emulated run: %q", out)
	}
	t.Logf("second emulated run took %v", time.Since(start).Round(time.Millisecond))
	after := vmStarts(t, d)
	if after["cloned"] != before["cloned"]+1 || after["cold"] != before["cold"] || after["fallbacks"] != before["fallbacks"] {
		t.Errorf("VM starts before %v, after %v: the second emulated run was not a clone", before, after)
	}
}
