package main

import (
	"github.com/spf13/cobra"
)

func newRootCommand() *cobra.Command {
	var o options
	cmd := &cobra.Command{
		Use:           "pierd",
		Short:         "Docker Engine API daemon that runs every container in its own microVM",
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(o.hosts) == 0 {
				o.hosts = []string{defaultHost()}
			}
			return runDaemon(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.hosts, "host", "H", nil, "address to serve the API on: unix:///path or tcp://host:port (repeatable; default "+defaultHost()+")")
	f.StringVar(&o.dataRoot, "data-root", defaultDataRoot(), "directory for images, containers and caches")
	f.StringArrayVar(&o.insecureRegistries, "insecure-registry", nil, "registry reached over plain HTTP (repeatable; 127.0.0.0/8 and localhost always are)")
	f.StringVar(&o.accel, "accel", "auto", "VM acceleration: auto (KVM when a probe boot works, else TCG), kvm or tcg")
	f.StringVar(&o.guestDir, "guest-dir", defaultGuestDir(), "directory with the guest kernel, modules and init (made by make build)")
	f.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	return cmd
}
