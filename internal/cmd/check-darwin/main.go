// Command check-darwin type-checks the project's darwin/arm64 code on any
// host. cgo cannot compile Code-Hex/vz's Objective-C here, so instead of
// building, it selects each package's darwin/arm64 files with go/build and
// checks them with go/types, faking the "C" package (FakeImportC) and
// importing every dependency from source the same way. Only errors in the
// project's own packages are reported; the exit status is 1 if there are
// any.
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	root := flag.String("root", ".", "the module's root directory")
	flag.Parse()
	c, err := newChecker(*root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "check-darwin:", err)
		os.Exit(2)
	}
	dirs := flag.Args()
	if len(dirs) == 0 {
		if dirs, err = c.moduleDirs(); err != nil {
			fmt.Fprintln(os.Stderr, "check-darwin:", err)
			os.Exit(2)
		}
	}
	errs, checked := c.checkDirs(dirs)
	for _, e := range errs {
		fmt.Fprintln(os.Stderr, e)
	}
	if len(errs) > 0 {
		fmt.Fprintf(os.Stderr, "check-darwin: %d type errors in darwin/arm64 code\n", len(errs))
		os.Exit(1)
	}
	fmt.Printf("check-darwin: ok (%d packages type-checked for darwin/arm64)\n", checked)
}
