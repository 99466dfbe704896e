package vz

import (
	"context"
	"fmt"
	"syscall"

	"github.com/pier-vm/pier/engine/vm"
	"github.com/pier-vm/pier/errdefs"
)

var _ vm.Templater = (*Driver)(nil)

// Driver boots Virtualization.framework VMs, each owned by its own shim
// process.
type Driver struct {
	l launcher
	// macOS is the product version, osBuild the build ("23F79").
	macOS, osBuild string
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
	build, _ := syscall.Sysctl("kern.osversion")
	o.log.Info("vz driver ready", "macos", version, "build", build, "shim", o.shimBinary)
	return &Driver{l: launcher{options: o}, macOS: version, osBuild: build}, nil
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

// Adopt takes over the VM a previous daemon left running in stateDir
// (vm.Adopter): its shim kept it running, and answers a new daemon as it
// answered the old one.
func (d *Driver) Adopt(ctx context.Context, id, stateDir string) (vm.Machine, error) {
	m, err := d.l.attach(ctx, stateDir)
	if err != nil {
		return nil, err
	}
	if m.ID() != id {
		return nil, fmt.Errorf("vm in %s is %s, not %s", stateDir, m.ID(), id)
	}
	return m, nil
}

// TemplatesSupported says why this Mac cannot save and restore VMs
// (SaveMachineStateToPath and RestoreMachineStateFromURL came with macOS
// 14), or nil. pierd then makes no template cache: every VM boots cold.
func (d *Driver) TemplatesSupported() error {
	if !macOSAtLeast(d.macOS, 14) {
		return errdefs.NotImplemented(fmt.Errorf("vz: VM templates need macOS 14 or later (save and restore), this is %s", d.macOS))
	}
	return nil
}

// TemplateKey covers the macOS release, pierd's build, the shape and the
// kernel's and initramfs's content (template.go).
func (d *Driver) TemplateKey(shape vm.Shape) (string, error) {
	if err := d.TemplatesSupported(); err != nil {
		return "", err
	}
	return templateKey(shape, d.macOS+" "+d.osBuild)
}

// ShareSlots is 0: a vz VM with shares (virtio-fs, Rosetta) boots cold;
// whether Virtualization.framework restores a saved VM with its shares
// pointed elsewhere has not been tried.
func (d *Driver) ShareSlots() int { return 0 }

// SaveTemplate boots a VM of shape in dir, waits for pier-init's ready
// point and saves it there (state and machine identifier).
func (d *Driver) SaveTemplate(ctx context.Context, shape vm.Shape, dir string) error {
	if err := d.TemplatesSupported(); err != nil {
		return err
	}
	return d.l.saveTemplate(ctx, shape, dir)
}

// StartClone starts spec's VM from the template in dir: its own disks,
// NICs and console, the template's machine identifier and state, resumed.
func (d *Driver) StartClone(ctx context.Context, spec vm.Spec, dir string) (vm.Machine, error) {
	if err := d.TemplatesSupported(); err != nil {
		return nil, err
	}
	return d.l.startClone(ctx, spec, dir)
}
