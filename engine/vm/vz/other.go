//go:build !(darwin && arm64)

package vz

import (
	"context"
	"errors"

	"github.com/pier-vm/pier/engine/vm"
	"github.com/pier-vm/pier/errdefs"
)

// errUnsupported is what the driver says on any other platform.
var errUnsupported = errdefs.NotImplemented(errors.New("the vz driver needs macOS on Apple silicon"))

var _ vm.Driver = (*Driver)(nil)

// Driver is the vz driver. On this platform it cannot boot anything: New,
// Start and Attach return errUnsupported.
type Driver struct{}

// New returns errUnsupported.
func New(...Option) (*Driver, error) { return nil, errUnsupported }

// Name is "vz".
func (d *Driver) Name() string { return "vz" }

// Accel is "hvf", Apple's Hypervisor.framework.
func (d *Driver) Accel() string { return "hvf" }

// Start returns errUnsupported.
func (d *Driver) Start(context.Context, vm.Spec) (vm.Machine, error) { return nil, errUnsupported }

// Adopt returns errUnsupported.
func (d *Driver) Adopt(context.Context, string, string) (vm.Machine, error) {
	return nil, errUnsupported
}

// Attach returns errUnsupported.
func (d *Driver) Attach(context.Context, string) (vm.Machine, error) { return nil, errUnsupported }

func hostRosettaStatus() rosettaAvailability { return rosettaNotSupported }

func bootVM(context.Context, shimConfig) (controller, error) { return nil, errUnsupported }
