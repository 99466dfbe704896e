// Command pier-testregistry serves an in-memory registry holding every pier
// test image, for manual runs such as
//
//	go run ./internal/cmd/pier-testregistry -addr 127.0.0.1:5000
//	docker pull 127.0.0.1:5000/pier-test/busybox
//
// -user and -password put it behind basic authentication (docker login,
// docker push); -search serves the v1 search (docker search). It needs the packages fetched by `make testdata`.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/pier-vm/pier/internal/testimages"
	"github.com/pier-vm/pier/internal/testregistry"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "pier-testregistry:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:5000", "address to listen on")
	debs := flag.String("debs", "", "directory with the busybox-static .debs (default <repo root>/testdata/cache)")
	user := flag.String("user", "", "with -password: the only credentials accepted (basic authentication)")
	password := flag.String("password", "", "the password of -user")
	search := flag.Bool("search", false, "serve the v1 search (docker search HOST/TERM)")
	flag.Parse()

	var opts []testregistry.Option
	if (*user == "") != (*password == "") {
		return fmt.Errorf("-user and -password go together")
	}
	if *user != "" {
		opts = append(opts, testregistry.WithBasicAuth(*user, *password))
	}
	if *search {
		opts = append(opts, testregistry.WithSearch())
	}

	if *debs == "" {
		dir, err := testimages.DebDir()
		if err != nil {
			return err
		}
		*debs = dir
	}
	set, err := testimages.Build(*debs)
	if err != nil {
		return fmt.Errorf("%w (run make testdata)", err)
	}
	reg, err := testregistry.Serve(*addr, opts...)
	if err != nil {
		return err
	}
	defer reg.Close()
	if err := reg.Push(set); err != nil {
		return err
	}
	for _, e := range set.Entries {
		d, err := e.Digest()
		if err != nil {
			return err
		}
		fmt.Printf("%s\t%s\n", reg.Ref(e.Name, e.Tag), d)
	}
	fmt.Fprintf(os.Stderr, "serving on %s; Ctrl-C to stop\n", reg.Host)

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	<-stop
	return nil
}
