//go:build linux

package init

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/pier-vm/pier/guest/binfmt"
	"github.com/pier-vm/pier/guest/proto"
)

// exposeEmulatorToSystemd runs after the switch into the container's root,
// only for an emulated container that boots systemd (the host decides:
// proto.EmulationSpec.Systemd). systemd-binfmt flushes every binfmt_misc
// rule at boot, the one registered before the switch included, and then
// registers the binfmt.d files. So the emulator's share is mounted again,
// read-only, at binfmt.SystemdEmulatorDir inside the root, and a drop-in
// registers the same rule pointing there. Working inside the new root
// keeps the image's symlinks (/opt, /usr/lib) resolving within it.
func exposeEmulatorToSystemd(spec *proto.ContainerSpec) error {
	e := spec.Emulation
	if e == nil || !e.Systemd {
		return nil
	}
	dir := binfmt.SystemdEmulatorDir
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// A second mount of a virtio-fs tag shares the first one's superblock.
	if err := unix.Mount(e.ShareTag, dir, "virtiofs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
		return fmt.Errorf("mount the emulator share %q on %s: %w", e.ShareTag, dir, err)
	}
	interpreter := filepath.Join(dir, e.Interpreter)
	if _, err := os.Stat(interpreter); err != nil {
		return fmt.Errorf("emulator missing from its share: %w", err)
	}
	rule, err := binfmt.ForArch(ruleName(e.Interpreter), e.Arch, interpreter, e.Flags)
	if err != nil {
		return err
	}
	path, content := binfmt.SystemdDropIn(rule, interpreter)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		return err
	}
	logf("systemd: %s names %s", path, interpreter)
	return nil
}
