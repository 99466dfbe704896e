//go:build !(darwin && arm64)

package main

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/pier-vm/pier/errdefs"
)

// newShimCommand stands in for the vz driver's per-VM shim, which only a
// darwin/arm64 build has: it refuses to run, saying why.
func newShimCommand() *cobra.Command {
	return &cobra.Command{
		Use:                "vz-shim --state-dir DIR",
		Short:              "Run one VM for the vz driver (macOS on Apple silicon only)",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(*cobra.Command, []string) error {
			return errdefs.NotImplemented(fmt.Errorf("vz-shim runs VMs of the vz driver, which needs macOS on Apple silicon; this pierd is built for %s/%s", runtime.GOOS, runtime.GOARCH))
		},
	}
}
