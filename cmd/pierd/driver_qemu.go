//go:build !darwin

package main

import (
	"log/slog"
	"os/exec"

	"github.com/pier-vm/pier/engine/emulation"
	"github.com/pier-vm/pier/engine/platform"
	"github.com/pier-vm/pier/engine/vm"
	"github.com/pier-vm/pier/engine/vm/guestassets"
	"github.com/pier-vm/pier/engine/vm/qemu"
)

// newDriver is the QEMU driver (KVM when a probe boot works, else TCG) and
// what it can emulate: the static qemu-user emulators on the PATH.
func newDriver(o options, assets *guestassets.Assets, log *slog.Logger) (vm.Driver, emulation.Capabilities, error) {
	nineP := o.vmShares != "virtiofs" && assets.NinePShares
	if o.vmShares != "virtiofs" && !assets.NinePShares {
		log.Info("the guest kernel has no 9p modules: shares use virtio-fs, and containers with shares boot cold", "guest", o.guestDir)
	}
	drv, err := qemu.New(
		qemu.WithAccel(o.accel),
		qemu.WithProbe(assets.Kernel, assets.Initramfs),
		qemu.WithDataRoot(o.dataRoot),
		qemu.WithLogger(log),
		qemu.WithNinePShares(nineP),
	)
	if err != nil {
		return nil, emulation.Capabilities{}, err
	}
	caps := emulation.Capabilities{Driver: drv.Name(), QEMUUser: emulation.FindQEMUUser(platform.Host(), exec.LookPath)}
	return drv, caps, nil
}
