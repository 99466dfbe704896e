// Command pier-dial-stdio joins its stdin and stdout to the builder VM's
// BuildKit socket (package dialstdio); pierd runs it as an exec for every
// connection to BuildKit. It is a binary of its own, without BuildKit's
// packages, so that it starts at once.
//
//	pier-dial-stdio [--socket /run/pier-buildkit/buildkitd.sock]
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/pier-vm/pier/guest/builder/dialstdio"
)

func main() {
	socket := flag.String("socket", dialstdio.DefaultSocket, "the BuildKit daemon's unix socket")
	flag.Parse()
	if err := dialstdio.Run(*socket, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "pier-dial-stdio:", err)
		os.Exit(1)
	}
}
