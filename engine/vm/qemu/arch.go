package qemu

import (
	"fmt"
	"runtime"

	"github.com/pier-vm/pier/engine/vm"
	"github.com/pier-vm/pier/errdefs"
)

// SystemBinary is the QEMU system emulator for guests of arch ("amd64" or
// "arm64"; "" for any other), and SystemPackage the Debian package that
// ships it.
func SystemBinary(arch string) string {
	switch arch {
	case "amd64":
		return "qemu-system-x86_64"
	case "arm64":
		return "qemu-system-aarch64"
	}
	return ""
}

func SystemPackage(arch string) string {
	if arch == "arm64" {
		return "qemu-system-arm"
	}
	return "qemu-system-x86"
}

// settleArch checks the guest architecture against the other options and
// picks the QEMU binary for it (unless WithBinary named one).
func (d *Driver) settleArch() error {
	name := SystemBinary(d.arch)
	if name == "" {
		return errdefs.NotImplemented(fmt.Errorf("qemu: unsupported guest architecture %s (want amd64 or arm64)", d.arch))
	}
	if d.binary == "" {
		d.binary = name
	}
	if d.rosettaStandIn != "" && d.arch != "arm64" {
		return errdefs.InvalidParameterf("qemu: a Rosetta stand-in runs x86-64 binaries in arm64 guests, but the guests are %s", d.arch)
	}
	return nil
}

// foreignArch reports whether guests are of another architecture than the
// host: KVM cannot run them, only TCG.
func (d *Driver) foreignArch() bool { return d.arch != runtime.GOARCH }

// Arch is the guests' architecture ("amd64" or "arm64").
func (d *Driver) Arch() string { return d.arch }

// serveRosetta turns each share that asks for Rosetta into a share of the
// stand-in directory, when the driver has one (WithRosettaStandIn). The
// share keeps its tag, so the guest mounts and registers it exactly as it
// does Apple's Rosetta share under the vz driver. Without a stand-in the
// spec is returned as it is, and normalize refuses the share.
func (d *Driver) serveRosetta(spec vm.Spec) vm.Spec {
	if d.rosettaStandIn == "" {
		return spec
	}
	shares := append([]vm.Share(nil), spec.Shares...)
	for i, s := range shares {
		if s.Rosetta {
			shares[i] = vm.Share{Tag: s.Tag, HostPath: d.rosettaStandIn, ReadOnly: true}
		}
	}
	spec.Shares = shares
	return spec
}
