//go:build linux

package init

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"

	"github.com/pier-vm/pier/guest/proto"
)

// mountStage is where shares are mounted before a file of theirs, or the
// whole share after a copy-up, is bound into the container's root.
const mountStage = "/pier/mnt"

// mountVolumes mounts the container's bind mounts, volumes and tmpfs mounts
// into the new root (before the switch: they move with it). Targets are
// resolved inside the root, so an image's symlinks cannot point a mount
// outside it.
func mountVolumes(spec *proto.ContainerSpec) error {
	for i, m := range spec.Mounts {
		target, err := securejoin.SecureJoin(newRoot, m.Target)
		if err != nil {
			return fmt.Errorf("%s: %w", m.Target, err)
		}
		switch m.Type {
		case proto.MountTmpfs:
			err = mountTmpfs(target, m.Options)
		case proto.MountVirtiofs:
			err = mountShare(i, target, m)
		default:
			err = fmt.Errorf("unknown mount type %q", m.Type)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", m.Target, err)
		}
	}
	return nil
}

func mountTmpfs(target, options string) error {
	if err := os.MkdirAll(target, 0o755); err != nil {
		return err
	}
	return unix.Mount("tmpfs", target, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, options)
}

// mountShare mounts a host share (virtio-fs or 9p) at target: directly for a plain
// directory mount, through a staging mount for one file of the share or
// for a volume that is first filled with the image's content (copy-up).
func mountShare(i int, target string, m proto.MountSpec) error {
	var flags uintptr
	if m.ReadOnly {
		flags = unix.MS_RDONLY
	}
	if m.SubPath == "" && !m.CopyUp {
		if err := os.MkdirAll(target, 0o755); err != nil {
			return err
		}
		return mountShareFS(m.Tag, target, flags)
	}
	stage := filepath.Join(mountStage, strconv.Itoa(i))
	if err := os.MkdirAll(stage, 0o755); err != nil {
		return err
	}
	if err := mountShareFS(m.Tag, stage, flags); err != nil {
		return err
	}
	src := stage
	if m.SubPath != "" {
		src = filepath.Join(stage, m.SubPath)
		if err := ensureFile(target); err != nil {
			return err
		}
	} else {
		if err := copyUp(target, stage); err != nil {
			return fmt.Errorf("copying the image's content into the volume: %w", err)
		}
		if err := os.MkdirAll(target, 0o755); err != nil {
			return err
		}
	}
	if err := unix.Mount(src, target, "", unix.MS_BIND, ""); err != nil {
		return err
	}
	if m.ReadOnly {
		return unix.Mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, "")
	}
	return nil
}

// ensureFile makes target an (empty) file to bind a file onto.
func ensureFile(target string) error {
	if fi, err := os.Stat(target); err == nil {
		if fi.IsDir() {
			return errors.New("a file cannot be mounted on a directory")
		}
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}

// copyUp copies what the image has at target into an empty volume, keeping
// owners and modes, as Docker does the first time a volume is mounted.
func copyUp(target, volume string) error {
	if !isEmptyDir(volume) {
		return nil
	}
	fi, err := os.Stat(target)
	if err != nil || !fi.IsDir() || isEmptyDir(target) {
		return nil
	}
	out, err := exec.Command(Busybox, "cp", "-a", target+"/.", volume+"/").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	// The volume's root takes the directory's owner and mode too.
	if st, ok := fi.Sys().(*unix.Stat_t); ok {
		os.Lchown(volume, int(st.Uid), int(st.Gid))
	}
	return os.Chmod(volume, fi.Mode()&(os.ModePerm|os.ModeSetuid|os.ModeSetgid|os.ModeSticky))
}

func isEmptyDir(dir string) bool {
	f, err := os.Open(dir)
	if err != nil {
		return false
	}
	defer f.Close()
	_, err = f.Readdirnames(1)
	return errors.Is(err, io.EOF)
}
