package main

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/pier-vm/pier/engine/vm/vz"
)

// newShimCommand is `pierd vz-shim --state-dir DIR`: the process that owns
// one Virtualization.framework VM. The vz driver starts it, in a session
// of its own, from this same (signed) binary; people do not.
func newShimCommand() *cobra.Command {
	var stateDir string
	cmd := &cobra.Command{
		Use:    "vz-shim --state-dir DIR",
		Short:  "Run one VM for the vz driver (started by pierd itself)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if stateDir == "" {
				return errors.New("vz-shim: --state-dir is required")
			}
			return vz.RunShim(cmd.Context(), stateDir)
		},
	}
	cmd.Flags().StringVar(&stateDir, "state-dir", "", "the VM's state directory (holds spec.json)")
	return cmd
}
