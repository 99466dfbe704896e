package main

import (
	"fmt"
	"github.com/pier-vm/pier/engine/build"

	"github.com/spf13/cobra"

	"github.com/pier-vm/pier/server"
)

// validate checks the flags before anything is opened or started.
func (o options) validate() error {
	switch o.accel {
	case "auto", "kvm", "tcg":
	default:
		return fmt.Errorf("invalid --accel %q: want auto, kvm or tcg", o.accel)
	}
	switch o.vmTemplates {
	case "", "on", "off": // "": on
	default:
		return fmt.Errorf("invalid --vm-templates %q: want on or off", o.vmTemplates)
	}
	switch o.vmShares {
	case "", "9p", "virtiofs": // "": 9p
	default:
		return fmt.Errorf("invalid --vm-shares %q: want 9p or virtiofs", o.vmShares)
	}
	for _, h := range o.hosts {
		if _, _, err := server.ParseAddr(h); err != nil {
			return err
		}
	}
	if _, err := newLogger(o.logLevel); err != nil {
		return err
	}
	return nil
}

func newRootCommand() *cobra.Command {
	var o options
	cmd := &cobra.Command{
		Use:           "pierd",
		Short:         "Docker Engine API daemon that runs every container in its own microVM",
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.tls.noteChanged(cmd.Flags())
			if len(o.hosts) == 0 {
				o.hosts = []string{defaultHost()}
			}
			if err := o.validate(); err != nil {
				return err
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
	f.BoolVar(&o.liveRestore, "live-restore", true, "keep containers running while pierd is stopped or upgraded; the next pierd adopts them (false: stopping pierd stops them)")
	f.DurationVar(&o.builderIdle, "builder-idle-timeout", build.DefaultIdleTimeout, "stop the image builder's VM (docker build) after this long without a build; its cache stays on disk (0: never)")
	f.StringVar(&o.vmTemplates, "vm-templates", "on", "start VMs as clones of a template VM per guest shape (on) or boot each one (off)")
	f.StringVar(&o.vmShares, "vm-shares", "9p", "how bind mounts and volumes reach a VM (QEMU driver): 9p (QEMU's own server; such containers start as clones too) or virtiofs (a virtiofsd each; FIFOs and sockets can be made in them; such containers boot cold)")
	addTLSFlags(f, &o.tls)
	cmd.CompletionOptions.DisableDefaultCmd = true
	cmd.AddCommand(newDoctorCommand(), newShimCommand(), newNetHelperCommand())
	return cmd
}
