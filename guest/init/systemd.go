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
// registers the binfmt.d files. So the emulator's disk or share is
// mounted again, read-only, at binfmt.SystemdEmulatorDir inside the root
// (the mount made before the switch is out of reach), and a drop-in
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
	if err := mountEmulator(e, dir, unix.MS_NOSUID|unix.MS_NODEV); err != nil {
		return err
	}
	interpreter := filepath.Join(dir, e.Interpreter)
	if _, err := os.Stat(interpreter); err != nil {
		return fmt.Errorf("emulator missing from its %s: %w", emulatorSource(e), err)
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
