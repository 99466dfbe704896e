//go:build linux

package agent

import (
	"os/exec"
	"syscall"
	"testing"
	"time"
)

func TestDeliverableToInitFollowsHandlers(t *testing.T) {
	plain := exec.Command("sleep", "30")
	trapped := exec.Command("sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done")
	for _, c := range []*exec.Cmd{plain, trapped} {
		if err := c.Start(); err != nil {
			t.Fatalf("cannot start %s: %v", c.Path, err)
		}
		defer c.Process.Kill()
	}
	// The shell installs its trap right after it starts.
	deadline := time.Now().Add(5 * time.Second)
	for !deliverableToInit(trapped.Process.Pid, syscall.SIGTERM) {
		if time.Now().After(deadline) {
			t.Fatal("a shell with a TERM trap does not get SIGTERM")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if deliverableToInit(plain.Process.Pid, syscall.SIGTERM) {
		t.Fatal("sleep has no TERM handler, yet SIGTERM would be delivered")
	}
	if deliverableToInit(trapped.Process.Pid, syscall.SIGUSR1) {
		t.Fatal("SIGUSR1 without a handler would be delivered")
	}
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGSTOP} {
		if !deliverableToInit(plain.Process.Pid, sig) {
			t.Fatalf("%v must always be delivered", sig)
		}
	}
	if !deliverableToInit(1<<30, syscall.SIGTERM) {
		t.Fatal("an unknown pid must leave the decision to the kernel")
	}
	if _, err := caughtSignals("/nonexistent"); err == nil {
		t.Fatal("caughtSignals of a missing file succeeded")
	}
}
