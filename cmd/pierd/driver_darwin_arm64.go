package main

import (
	"log/slog"

	"github.com/pier-vm/pier/engine/emulation"
	"github.com/pier-vm/pier/engine/vm"
	"github.com/pier-vm/pier/engine/vm/guestassets"
	"github.com/pier-vm/pier/engine/vm/vz"
	"github.com/pier-vm/pier/errdefs"
)

// newDriver is the vz driver (Virtualization.framework, one signed shim
// process per VM) and what it can emulate: amd64 under Rosetta, when
// installed.
func newDriver(o options, _ *guestassets.Assets, log *slog.Logger) (vm.Driver, emulation.Capabilities, error) {
	if o.accel != "auto" {
		return nil, emulation.Capabilities{}, errdefs.InvalidParameterf("--accel %s: on macOS every VM runs under Hypervisor.framework; --accel is for the QEMU driver on Linux", o.accel)
	}
	drv, err := vz.New(vz.WithLogger(log))
	if err != nil {
		return nil, emulation.Capabilities{}, err
	}
	caps := emulation.Capabilities{Driver: drv.Name(), Rosetta: rosettaAvailability(vz.CheckRosetta())}
	return drv, caps, nil
}
