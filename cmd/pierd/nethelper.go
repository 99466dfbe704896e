package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/pier-vm/pier/engine/vnet/netd"
)

// netHelperCommand is the subcommand that runs a network's datapath.
const netHelperCommand = "net-helper"

// newNetHelperCommand is `pierd net-helper --dir DIR`: the process that
// serves one network's switch, NAT, DNS and published ports
// (engine/vnet/netd), so that they outlive the daemon. pierd starts it,
// in a session of its own, from its own binary; people do not. SIGTERM
// or SIGINT stop it, as the control socket's stop does.
func newNetHelperCommand() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:    netHelperCommand + " --dir DIR",
		Short:  "Serve one network's datapath (started by pierd itself)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return errors.New(netHelperCommand + ": --dir is required")
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			return netd.Serve(ctx, dir)
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "the network's helper directory (holds config.json)")
	return cmd
}

// netHelper is the command the engine runs a network's helper with: this
// very binary, so that a helper and the daemon that started it speak the
// same protocol.
func netHelper() ([]string, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return []string{exe, netHelperCommand}, nil
}
