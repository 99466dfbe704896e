//go:build linux

package init

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

type mountPoint struct {
	source, target, fstype string
	flags                  uintptr
	data                   string
}

// mountKernelFilesystems mounts what a container runtime provides: /proc,
// /sys, /dev (devtmpfs) with /dev/pts and /dev/shm, and /run.
func mountKernelFilesystems() error {
	const nodev = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	mounts := []mountPoint{
		{"proc", "/proc", "proc", nodev, ""},
		{"sysfs", "/sys", "sysfs", nodev, ""},
		{"devtmpfs", "/dev", "devtmpfs", unix.MS_NOSUID, "mode=0755"},
		{"devpts", "/dev/pts", "devpts", unix.MS_NOSUID | unix.MS_NOEXEC, "newinstance,gid=5,mode=0620,ptmxmode=0666"},
		{"shm", "/dev/shm", "tmpfs", nodev, "mode=1777"},
		{"tmpfs", "/run", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=0755"},
	}
	var errs []error
	for _, m := range mounts {
		if err := mountAt(m); err != nil {
			errs = append(errs, err)
		}
	}
	// /dev/ptmx must be the devpts instance's; the /proc/self/fd links.
	os.Remove("/dev/ptmx")
	os.Symlink("pts/ptmx", "/dev/ptmx")
	for link, target := range map[string]string{"/dev/fd": "/proc/self/fd", "/dev/stdin": "/proc/self/fd/0", "/dev/stdout": "/proc/self/fd/1", "/dev/stderr": "/proc/self/fd/2"} {
		os.Symlink(target, link)
	}
	return errors.Join(errs...)
}

func mountAt(m mountPoint) error {
	if err := os.MkdirAll(m.target, 0o755); err != nil {
		return err
	}
	if err := unix.Mount(m.source, m.target, m.fstype, m.flags, m.data); err != nil && !errors.Is(err, unix.EBUSY) {
		return fmt.Errorf("mount %s on %s: %w", m.fstype, m.target, err)
	}
	return nil
}

// moveMount moves the mount at src to the same place below newRoot.
func moveMount(src, newRoot string) error {
	dst := filepath.Join(newRoot, src)
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	if err := unix.Mount(src, dst, "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("move %s to %s: %w", src, dst, err)
	}
	return nil
}
