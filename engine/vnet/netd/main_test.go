package netd

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// helperEnv makes the test binary a helper: Start re-executes it with
// --dir DIR, as pierd runs `pierd net-helper --dir DIR`.
const helperEnv = "PIER_NETD_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" && len(os.Args) == 3 && os.Args[1] == "--hang" {
		// A helper that holds its directory and never answers.
		if _, err := lockDir(os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, "hang:", err)
			os.Exit(1)
		}
		os.WriteFile(filepath.Join(os.Args[2], pidFile), []byte(strconv.Itoa(os.Getpid())), 0o600)
		time.Sleep(time.Hour)
		os.Exit(1)
	}
	// (Other runs of this binary, such as fuzzing workers, inherit the
	// variable too: only --dir DIR makes a helper.)
	if os.Getenv(helperEnv) == "1" && len(os.Args) == 3 && os.Args[1] == "--dir" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
		err := Serve(ctx, os.Args[2])
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
