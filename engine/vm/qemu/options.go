package qemu

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/pier-vm/pier/errdefs"
)

// Acceleration modes accepted by WithAccel.
const (
	AccelAuto = "auto"
	AccelKVM  = "kvm"
	AccelTCG  = "tcg"
)

// Option configures a Driver.
type Option func(*Driver) error

// WithAccel chooses how guests run: "auto" (default: KVM if a real probe
// boot works, else TCG), "kvm" (fail if /dev/kvm is missing) or "tcg".
func WithAccel(mode string) Option {
	return func(d *Driver) error {
		switch mode {
		case AccelAuto, AccelKVM, AccelTCG:
			d.accelMode = mode
			return nil
		}
		return errdefs.InvalidParameterf("qemu: unknown acceleration %q (want auto, kvm or tcg)", mode)
	}
}

// WithBinary sets the QEMU system emulator to run. Default:
// qemu-system-x86_64 for amd64 guests, qemu-system-aarch64 for arm64
// guests (see WithArch), looked up in PATH.
func WithBinary(path string) Option {
	return func(d *Driver) error {
		if path == "" {
			return errdefs.InvalidParameterf("qemu: empty binary path")
		}
		d.binary = path
		return nil
	}
}

// DefaultVirtiofsd is where Debian's qemu-system-common puts virtiofsd.
const DefaultVirtiofsd = "/usr/lib/qemu/virtiofsd"

// WithVirtiofsd sets the virtiofsd binary. Default: DefaultVirtiofsd.
func WithVirtiofsd(path string) Option {
	return func(d *Driver) error {
		if path == "" {
			return errdefs.InvalidParameterf("qemu: empty virtiofsd path")
		}
		d.virtiofsd = path
		return nil
	}
}

// WithNinePShares serves every share through QEMU's own 9p server
// (virtio-9p) instead of a virtiofsd per share, for guests whose kernel
// has the 9p modules (guestassets.Assets.NinePShares). A template can
// carry 9p devices (virtio-fs blocks QEMU 7.2's migration), so VMs with
// shares start as clones too (ShareSlots). Default: virtio-fs.
func WithNinePShares(on bool) Option {
	return func(d *Driver) error {
		d.ninePShares = on
		return nil
	}
}

// WithLogger sets the logger. Default: slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(d *Driver) error {
		if l == nil {
			return errdefs.InvalidParameterf("qemu: nil logger")
		}
		d.log = l
		return nil
	}
}

// WithProbe gives the kernel and initramfs the "auto" mode boots with
// kernel argument pier.probe=1 to find out whether KVM really works. The
// guest init must print "pier: probe ok" on its console and power off.
// Required for "auto" when /dev/kvm exists.
func WithProbe(kernel, initramfs string) Option {
	return func(d *Driver) error {
		if kernel == "" || initramfs == "" {
			return errdefs.InvalidParameterf("qemu: probe needs a kernel and an initramfs")
		}
		d.probeKernel, d.probeInitramfs = kernel, initramfs
		return nil
	}
}

// WithProbeTimeout bounds the KVM probe boot. Default: 10 s.
func WithProbeTimeout(t time.Duration) Option {
	return func(d *Driver) error {
		if t <= 0 {
			return errdefs.InvalidParameter(fmt.Errorf("qemu: probe timeout %v must be positive", t))
		}
		d.probeTimeout = t
		return nil
	}
}

// WithDataRoot sets the directory where the driver keeps its own state: the
// cached KVM probe verdict. Without it, "auto" probes on every New.
func WithDataRoot(dir string) Option {
	return func(d *Driver) error {
		d.dataRoot = dir
		return nil
	}
}

// WithArch sets the guests' architecture, "amd64" or "arm64" (default: the
// host's). Guests of another architecture than the host's run under TCG
// only: "auto" then settles on TCG without a probe, and "kvm" is refused.
// Pier itself boots guests of the host's architecture; another one is how
// the arm64 guest of a Mac is tested on an x86-64 machine.
func WithArch(arch string) Option {
	return func(d *Driver) error {
		if SystemBinary(arch) == "" {
			return errdefs.InvalidParameterf("qemu: unknown guest architecture %q (want amd64 or arm64)", arch)
		}
		d.arch = arch
		return nil
	}
}

// WithRosettaStandIn serves dir, read-only, for every share that asks for
// Rosetta (vm.Share.Rosetta), in place of Apple's Rosetta directory share
// under the vz driver. dir must hold an arm64 program named rosetta that
// runs x86-64 Linux binaries, such as Debian's arm64 qemu-x86_64-static;
// the guests must be arm64 (WithArch). Default: none, and a Rosetta share
// is refused. It lets a Linux machine run the Mac's emulation path (arm64
// guest, amd64 image, the same share and guest registration) end to end.
func WithRosettaStandIn(dir string) Option {
	return func(d *Driver) error {
		if dir == "" {
			return errdefs.InvalidParameterf("qemu: empty Rosetta stand-in directory")
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			return err
		}
		if fi, err := os.Stat(filepath.Join(abs, "rosetta")); err != nil || !fi.Mode().IsRegular() {
			return errdefs.InvalidParameterf("qemu: Rosetta stand-in %s holds no program named rosetta", abs)
		}
		d.rosettaStandIn = abs
		return nil
	}
}
