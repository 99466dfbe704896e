//go:build darwin && !arm64

package main

import (
	"errors"
	"log/slog"

	"github.com/pier-vm/pier/engine/emulation"
	"github.com/pier-vm/pier/engine/vm"
	"github.com/pier-vm/pier/engine/vm/guestassets"
	"github.com/pier-vm/pier/errdefs"
)

// errAppleSilicon is why pierd does not run on an Intel Mac.
var errAppleSilicon = errdefs.NotImplemented(errors.New("Apple silicon required: pier's macOS driver (Virtualization.framework through Code-Hex/vz) and Rosetta run on M1 or later Macs only"))

func newDriver(options, *guestassets.Assets, *slog.Logger) (vm.Driver, emulation.Capabilities, error) {
	return nil, emulation.Capabilities{}, errAppleSilicon
}
