// Command mksparse encodes a filesystem image as rwlayer's sparse image
// (only its non-zero blocks, gzipped): mksparse IMAGE OUT. mktemplate.sh
// runs it.
package main

import (
	"fmt"
	"os"

	"github.com/pier-vm/pier/engine/rwlayer"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: mksparse IMAGE OUT")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "mksparse:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	o, err := os.Create(out)
	if err != nil {
		return err
	}
	if err := rwlayer.WriteSparseImage(o, f, fi.Size()); err != nil {
		o.Close()
		return err
	}
	return o.Close()
}
