// Command pier-net-helper serves one network's datapath: its switch, NAT,
// DNS and published ports (engine/vnet/netd), in a process of its own so
// that they outlive pierd. pierd starts it, in a session of its own, from
// the binary beside its own (built with it, so the two speak the same
// protocol); people do not. It is a binary apart from pierd because it
// runs as long as its network has containers: it links only the
// datapath, so its memory is what the datapath needs (about half of what
// `pierd net-helper` costs, which runs every package initialiser of the
// daemon). SIGTERM or SIGINT stop it, as the control socket's stop does.
//
// Usage: pier-net-helper --dir DIR
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/pier-vm/pier/engine/vnet/netd"
)

func main() {
	dir := flag.String("dir", "", "the network's helper directory (holds config.json)")
	flag.Parse()
	if *dir == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: pier-net-helper --dir DIR")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := netd.Serve(ctx, *dir); err != nil {
		fmt.Fprintln(os.Stderr, "pier-net-helper:", err)
		os.Exit(1)
	}
}
