//go:build linux

package init

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pier-vm/pier/guest/binfmt"
	"github.com/pier-vm/pier/guest/proto"
)

// Where the container's disks and root are assembled before the switch.
const (
	lowerDir = "/pier/lower"
	emulDir  = "/pier/emul"
	rwDir    = "/pier/rw"
	newRoot  = "/pier/root"
)

// setupContainer assembles the container root and switches into it.
func setupContainer(spec *proto.ContainerSpec) error {
	steps := []struct {
		name string
		run  func(*proto.ContainerSpec) error
	}{
		{"take the host's clock and seed", becomeThisMachine},
		{"mount the image's root disk", mountImageDisk},
		{"mount the writable disk", mountWritableDisk},
		{"mount the overlay root", mountOverlay},
		{"keep the layers reachable", openLayers},
		{"mount volumes", mountVolumes},
		{"register the emulator", registerEmulator},
		{"switch root", switchRoot},
		{"expose the emulator to systemd", exposeEmulatorToSystemd},
		{"configure the network", configureNetwork},
		{"set the hostname", setHostname},
	}
	skipExitSync.Store(spec.Ephemeral && !hasShares(spec))
	for _, s := range steps {
		start := time.Now()
		if err := s.run(spec); err != nil {
			logf("%s: %v", s.name, err)
			return fmt.Errorf("%s: %w", s.name, err)
		}
		// Slow steps show in the console log (docs/performance.md).
		if d := time.Since(start); d > 50*time.Millisecond {
			logf("%s took %v", s.name, d.Round(time.Millisecond))
		}
	}
	return nil
}

func mountImageDisk(spec *proto.ContainerSpec) error {
	dev, err := resolveDevice(spec.RootDevice)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(lowerDir, 0o755); err != nil {
		return err
	}
	return unix.Mount(dev, lowerDir, "ext4", unix.MS_RDONLY, "noload")
}

// resolveDevice turns "serial:NAME" into the /dev node of the virtio disk
// with that serial number; a /dev path is taken as it is.
func resolveDevice(name string) (string, error) {
	serial, ok := strings.CutPrefix(name, "serial:")
	if !ok {
		return name, nil
	}
	files, _ := filepath.Glob("/sys/block/*/serial")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err == nil && strings.TrimSpace(string(b)) == serial {
			return "/dev/" + filepath.Base(filepath.Dir(f)), nil
		}
	}
	return "", fmt.Errorf("no disk with serial %q", serial)
}

// ext2Magic sits at byte 1080 of an ext2/3/4 filesystem.
var ext2Magic = []byte{0x53, 0xef}

func hasFilesystem(dev string) (bool, error) {
	f, err := os.Open(dev)
	if err != nil {
		return false, err
	}
	defer f.Close()
	b := make([]byte, 2)
	if _, err := f.ReadAt(b, 1080); err != nil {
		return false, err
	}
	return bytes.Equal(b, ext2Magic), nil
}

// mountWritableDisk mounts the container's own disk, formatting it on
// first use: the host only creates an empty sparse file, so no mkfs is
// needed on the host.
func mountWritableDisk(spec *proto.ContainerSpec) error {
	dev, err := resolveDevice(spec.WritableDevice)
	if err != nil {
		return err
	}
	formatted, err := hasFilesystem(dev)
	if err != nil {
		return err
	}
	if !formatted {
		logf("formatting %s", dev)
		out, err := exec.Command(Busybox, "mke2fs", "-F", "-m", "0", "-i", "16384", "-L", "pier-rw", dev).CombinedOutput()
		if err != nil {
			return fmt.Errorf("mke2fs: %v: %s", err, out)
		}
	}
	if err := os.MkdirAll(rwDir, 0o755); err != nil {
		return err
	}
	// noinit_itable: no ext4lazyinit thread zeroing the inode tables in
	// the background (128 MiB of them on an 8 GiB disk, competing with
	// the container for the VM's CPU from its first moment): the disk
	// starts as a sparse file whose unwritten blocks read as zeros
	// (engine/rwlayer), and the kernel writes an inode whole when it
	// allocates it.
	if err := unix.Mount(dev, rwDir, "ext4", 0, "noinit_itable,no_prefetch_block_bitmaps"); err != nil {
		if err2 := unix.Mount(dev, rwDir, "ext2", 0, ""); err2 != nil {
			return errors.Join(err, err2)
		}
	}
	if err := growFilesystem(dev, rwDir); err != nil {
		logf("%v", err) // the disk stays usable at its old size
	}
	for _, d := range []string{"upper", "work"} {
		if err := os.MkdirAll(filepath.Join(rwDir, d), 0o755); err != nil {
			return err
		}
	}
	return nil
}

func mountOverlay(*proto.ContainerSpec) error {
	if err := os.MkdirAll(newRoot, 0o755); err != nil {
		return err
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s/upper,workdir=%s/work", lowerDir, rwDir, rwDir)
	return unix.Mount("overlay", newRoot, "overlay", 0, opts)
}

// switchRoot moves the kernel filesystems into the new root, then moves the
// new root onto / and chroots into it, the way switch_root does.
func switchRoot(*proto.ContainerSpec) error {
	for _, m := range []string{"/dev", "/proc", "/sys"} {
		if err := moveMount(m, newRoot); err != nil {
			return err
		}
	}
	if err := unix.Chdir(newRoot); err != nil {
		return err
	}
	if err := unix.Mount(".", "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("move root: %w", err)
	}
	if err := unix.Chroot("."); err != nil {
		return err
	}
	return unix.Chdir("/")
}

// setHostname sets the hostname and writes the files Docker provides.
func setHostname(spec *proto.ContainerSpec) error {
	name := spec.Hostname
	if name == "" {
		name = "localhost"
	}
	if err := unix.Sethostname([]byte(name)); err != nil {
		return err
	}
	return writeNameFiles(name, spec.Network)
}

// registerEmulator mounts the emulator's disk (qemu-user) or share
// (Rosetta) and registers it with binfmt_misc before the switch into the
// container's root: with the F flag the kernel holds the interpreter
// open, so it keeps working although the disk or share stays outside the
// container's view.
func registerEmulator(spec *proto.ContainerSpec) error {
	e := spec.Emulation
	if e == nil {
		return nil
	}
	if err := os.MkdirAll(emulDir, 0o755); err != nil {
		return err
	}
	if err := mountEmulator(e, emulDir, 0); err != nil {
		return err
	}
	interpreter := filepath.Join(emulDir, e.Interpreter)
	if _, err := os.Stat(interpreter); err != nil {
		return fmt.Errorf("emulator missing from its %s: %w", emulatorSource(e), err)
	}
	if err := binfmt.EnsureMounted(binfmt.Dir); err != nil {
		return err
	}
	rule, err := binfmt.ForArch(ruleName(e.Interpreter), e.Arch, interpreter, e.Flags)
	if err != nil {
		return err
	}
	if err := binfmt.Register(binfmt.Dir, rule); err != nil {
		return err
	}
	logf("registered %s for %s binaries", interpreter, e.Arch)
	return nil
}

// mountEmulator mounts the emulator's read-only ext4 disk (found by its
// serial, as the root disk is) or its virtio-fs share on dir. A second
// mount of either (exposeEmulatorToSystemd) shares the first one's
// superblock.
func mountEmulator(e *proto.EmulationSpec, dir string, flags uintptr) error {
	flags |= unix.MS_RDONLY
	switch {
	case e.Device != "":
		dev, err := resolveDevice(e.Device)
		if err != nil {
			return fmt.Errorf("the emulator disk: %w", err)
		}
		if err := unix.Mount(dev, dir, "ext4", flags, "noload"); err != nil {
			return fmt.Errorf("mount the emulator disk %s on %s: %w", dev, dir, err)
		}
	case e.ShareTag != "":
		if err := mountShareFS(e.ShareTag, dir, flags); err != nil {
			return fmt.Errorf("mount the emulator share %q on %s: %w", e.ShareTag, dir, err)
		}
	default:
		return errors.New("the emulation names neither a disk nor a share")
	}
	return nil
}

// emulatorSource says where the emulator comes from, for errors.
func emulatorSource(e *proto.EmulationSpec) string {
	if e.Device != "" {
		return "disk"
	}
	return "share"
}

// ruleName names the binfmt rule after the interpreter
// ("qemu-aarch64-static" -> "qemu-aarch64", "rosetta" -> "rosetta").
func ruleName(interpreter string) string {
	return strings.TrimSuffix(filepath.Base(interpreter), "-static")
}

// hasShares says whether the container mounts host directories (virtio-fs),
// whose writes must reach the host before the exit is reported.
func hasShares(spec *proto.ContainerSpec) bool {
	for _, m := range spec.Mounts {
		if m.Type == proto.MountVirtiofs {
			return true
		}
	}
	return false
}
