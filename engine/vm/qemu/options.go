package qemu

import (
	"fmt"
	"log/slog"
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
// qemu-system-x86_64 on amd64 hosts, qemu-system-aarch64 on arm64 hosts,
// looked up in PATH.
func WithBinary(path string) Option {
	return func(d *Driver) error {
		if path == "" {
			return errdefs.InvalidParameterf("qemu: empty binary path")
		}
		d.binary = path
		return nil
	}
}

// WithVirtiofsd sets the virtiofsd binary. Default: /usr/lib/qemu/virtiofsd.
func WithVirtiofsd(path string) Option {
	return func(d *Driver) error {
		if path == "" {
			return errdefs.InvalidParameterf("qemu: empty virtiofsd path")
		}
		d.virtiofsd = path
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
