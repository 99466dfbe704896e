package network

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"github.com/pier-vm/pier/engine/vnet/netd"
)

// helperEnv makes the test binary a network helper: WithHelpers runs it
// with --dir DIR, as pierd runs `pierd net-helper --dir DIR`.
const helperEnv = "PIER_NETWORK_TEST_HELPER"

func TestMain(m *testing.M) {
	// (Other runs of this binary inherit the variable too: only --dir
	// DIR makes a helper.)
	if os.Getenv(helperEnv) == "1" && len(os.Args) == 3 && os.Args[1] == "--dir" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
		err := netd.Serve(ctx, os.Args[2])
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Setenv(helperEnv, "1") // for the helpers the tests start
	os.Exit(m.Run())
}
