package vz

import (
	"context"
	"fmt"
	"syscall"

	"github.com/pier-vm/pier/engine/vm"
	"github.com/pier-vm/pier/errdefs"
)

var _ vm.Driver = (*Driver)(nil)

// Driver boots Virtualization.framework VMs, each owned by its own shim
// process.
type Driver struct {
	l launcher
}

// New returns a Driver. Defaults: the shim is the running executable
// (`<exe> vz-shim --state-dir DIR`), a shim has 60 s to report its VM
// running, and Rosetta shares have no translation cache (WithRosettaCache).
func New(opts ...Option) (*Driver, error) {
	o, err := applyOptions(opts)
	if err != nil {
		return nil, err
	}
	version, err := syscall.Sysctl("kern.osproductversion")
	if err != nil {
		return nil, fmt.Errorf("vz: cannot read the macOS version: %w", err)
	}
	// Named virtio console ports, which the agent channel needs, came with
	// macOS 13.
	if !macOSAtLeast(version, 13) {
		return nil, errdefs.NotImplemented(fmt.Errorf("the vz driver needs macOS 13 or later, this is %s", version))
	}
	o.log.Info("vz driver ready", "macos", version, "shim", o.shimBinary)
	return &Driver{l: launcher{options: o}}, nil
}

// Name is "vz".
func (d *Driver) Name() string { return "vz" }

// Accel is "hvf", Apple's Hypervisor.framework.
func (d *Driver) Accel() string { return "hvf" }

// Start boots spec's VM in a new shim and returns once the VM runs.
func (d *Driver) Start(ctx context.Context, spec vm.Spec) (vm.Machine, error) {
	return d.l.start(ctx, spec)
}

// Attach reconnects to the shim that runs the VM in stateDir, as a
// restarted daemon does; it returns a NotFound error (after cleaning up)
// when no live shim is there.
func (d *Driver) Attach(ctx context.Context, stateDir string) (vm.Machine, error) {
	return d.l.attach(ctx, stateDir)
}
