//go:build linux

// pier-buildkitd is the BuildKit daemon of pier's builder VM (package
// guest/builder):
//
//	pier-buildkitd serve [--socket S] [--root R] [--snapshotter auto|native|overlayfs] [--no-pivot=true] [--debug]
//	pier-buildkitd dial-stdio [--socket S]
//
// serve runs the daemon, pierd's builder protocol on its stdin and stdout
// (logs go to stderr); dial-stdio connects its stdin and stdout to the
// daemon's gRPC socket, one exec per docker client connection.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/pier-vm/pier/guest/builder"
	"github.com/pier-vm/pier/guest/builder/dialstdio"
	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

func main() {
	root := &cobra.Command{
		Use:           "pier-buildkitd",
		Short:         "pier's BuildKit daemon for the builder VM",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(serveCmd(), dialStdioCmd())
	if err := root.Execute(); err != nil {
		fmt.Fprintf(os.Stderr, "pier-buildkitd: %v\n", err)
		os.Exit(1)
	}
}

func serveCmd() *cobra.Command {
	cfg := builder.Config{}
	var debug bool
	c := &cobra.Command{
		Use:   "serve",
		Short: "run the daemon (the builder protocol on stdin and stdout)",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			logrus.SetOutput(os.Stderr)
			logrus.SetFormatter(&logrus.TextFormatter{FullTimestamp: true})
			if debug {
				logrus.SetLevel(logrus.DebugLevel)
			}
			out, err := builder.ProtocolStdout()
			if err != nil {
				return err
			}
			cfg.In, cfg.Out = os.Stdin, out
			ctx, stop := signal.NotifyContext(context.Background(), unix.SIGTERM, unix.SIGINT)
			defer stop()
			return builder.Serve(ctx, cfg)
		},
	}
	f := c.Flags()
	f.StringVar(&cfg.Socket, "socket", builder.DefaultSocket, "unix socket of the gRPC API")
	f.StringVar(&cfg.Root, "root", builder.DefaultRoot, "state directory")
	f.StringVar(&cfg.Snapshotter, "snapshotter", "auto", "auto, native or overlayfs")
	f.BoolVar(&cfg.NoPivot, "no-pivot", true, "run RUN steps with runc run --no-pivot (the builder VM's root cannot pivot_root)")
	f.StringVar(&cfg.Runc, "runc", "", "runc binary (default: runc on PATH, else /usr/sbin/runc)")
	f.BoolVar(&debug, "debug", false, "debug logs")
	return c
}

func dialStdioCmd() *cobra.Command {
	var socket string
	c := &cobra.Command{
		Use:   "dial-stdio",
		Short: "connect stdin and stdout to the daemon's gRPC socket",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return dialstdio.Run(socket, os.Stdin, os.Stdout)
		},
	}
	c.Flags().StringVar(&socket, "socket", builder.DefaultSocket, "unix socket of the gRPC API")
	return c
}
