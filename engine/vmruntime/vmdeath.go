package vmruntime

import (
	"context"
	"fmt"
	"time"

	"github.com/pier-vm/pier/engine"
)

// vmDeathExitCode is the exit code of a container whose VM went away under
// its process (QEMU killed, the guest kernel panicked): its processes died
// as by SIGKILL, which Docker reports as 137.
const vmDeathExitCode = 137

// Wait waits for the main process. When the guest connection is lost
// instead (the VM went away), the container ends with vmDeathExitCode and
// an error saying how the VM ended, for State.Error.
func (s *sandbox) Wait(ctx context.Context) (engine.ExitStatus, error) {
	st, err := s.process.Wait(ctx)
	if err == nil || ctx.Err() != nil {
		return st, err
	}
	if s.detached.Load() {
		return engine.ExitStatus{}, engine.ErrDetached
	}
	if s.killed.Load() {
		// The engine destroyed the VM (a stop or kill that the guest
		// did not answer in time): killed, not failed.
		return engine.ExitStatus{Code: vmDeathExitCode, ExitedAt: time.Now()}, nil
	}
	// QEMU is reaped moments after its sockets close.
	select {
	case <-s.machine.Done():
	case <-time.After(2 * time.Second):
		return engine.ExitStatus{Code: vmDeathExitCode, ExitedAt: time.Now()},
			fmt.Errorf("the container's VM stopped answering: %w", err)
	}
	how := "the guest powered off"
	if merr := s.machine.Err(); merr != nil {
		how = merr.Error()
	}
	return engine.ExitStatus{Code: vmDeathExitCode, ExitedAt: time.Now()},
		fmt.Errorf("the container's VM stopped unexpectedly (%s)", how)
}
