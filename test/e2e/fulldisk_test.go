//go:build linux

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// A full data root fails a pull and a start with the system's clear
// message, leaves no temporary file and no half image, and everything
// works again once there is room.
func TestFullDataRootFailsCleanly(t *testing.T) {
	sharedDaemon(t) // the registry
	mnt := t.TempDir()
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=256m"); err != nil {
		t.Fatalf("a small tmpfs for the data root (the suite runs as root): %v", err)
	}
	defer syscall.Unmount(mnt, syscall.MNT_DETACH)
	dataRoot := filepath.Join(mnt, "data")
	// Cold boots: a template being made in the background would keep
	// taking room while the test fills it.
	d := startDaemon(t, "--data-root", dataRoot, "--vm-templates", "off")
	d.dataDir = dataRoot
	defer d.stop(t)
	bb := busybox(t, d)

	filler := filepath.Join(mnt, "filler")
	fill := func() {
		// Leave 256 KiB; whatever else writes meanwhile, try a little less.
		for leave := int64(256 << 10); ; leave += 1 << 20 {
			var st syscall.Statfs_t
			if err := syscall.Statfs(mnt, &st); err != nil {
				t.Fatal(err)
			}
			free := int64(st.Bavail) * st.Bsize
			out, err := exec.Command("fallocate", "-l", strconv.FormatInt(free-leave, 10), filler).CombinedOutput()
			if err == nil {
				return
			}
			if leave > 16<<20 {
				t.Fatalf("fallocate: %v %s", err, out)
			}
		}
	}
	fill()
	_, errOut, code := d.docker(t, "", "pull", "--platform", "linux/arm64", bb)
	if code == 0 || !strings.Contains(errOut, "no space left on device") {
		t.Errorf("pull into a full data root: exit %d, %q", code, errOut)
	}
	_, errOut, code = d.docker(t, "", "run", "--rm", bb, "true")
	if code == 0 || !strings.Contains(errOut, "no space left on device") {
		t.Errorf("run with a full data root: exit %d, %q", code, errOut)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	var temps []string
	filepath.Walk(dataRoot, func(p string, fi os.FileInfo, err error) error {
		if err == nil && strings.Contains(fi.Name(), ".tmp-") {
			temps = append(temps, p)
		}
		return nil
	})
	if len(temps) > 0 {
		t.Errorf("temporary files left after the failures: %v", temps)
	}
	if got := d.ok(t, "run", "--rm", bb, "echo", "room again"); got != "room again\n" {
		t.Fatalf("run once there is room: %q", got)
	}
	d.ok(t, "pull", "-q", "--platform", "linux/arm64", bb)
	if got := d.ok(t, "run", "--rm", "--platform", "linux/arm64", bb, "uname", "-m"); got != "aarch64\n" {
		t.Fatalf("the image pulled after the failure: %q", got)
	}
}
