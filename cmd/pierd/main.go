// Command pierd is pier's daemon: a Docker Engine API server in which every
// container is its own Linux microVM.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := newRootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "pierd:", err)
		os.Exit(1)
	}
}
