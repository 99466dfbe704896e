package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"path/filepath"
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

// netHelperBinary is the helper's own binary (cmd/pier-net-helper), which
// the build puts beside pierd.
const netHelperBinary = "pier-net-helper"

// netHelper is the command the engine runs a network's helper with: the
// pier-net-helper beside this binary (built with it, so that a helper and
// the daemon that started it speak the same protocol; it links only the
// datapath, so it costs about half the memory), else this very binary's
// net-helper subcommand.
func netHelper() ([]string, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	own := filepath.Join(filepath.Dir(exe), netHelperBinary)
	if fi, err := os.Stat(own); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
		return []string{own}, nil
	}
	return []string{exe, netHelperCommand}, nil
}
