package qemu

import (
	"context"
	"fmt"

	"github.com/pier-vm/pier/engine/vm"
)

var _ vm.Pauser = (*machine)(nil)

// Pause stops the VM's vCPUs (QMP stop) and waits until QEMU reports the
// run state "paused".
func (m *machine) Pause(ctx context.Context) error {
	return m.setRunState(ctx, "stop", "paused")
}

// Resume lets the vCPUs run again (QMP cont).
func (m *machine) Resume(ctx context.Context) error {
	return m.setRunState(ctx, "cont", "running")
}

// setRunState runs command over a QMP connection of its own (QEMU serves
// one client at a time; templates' clones are done with theirs once they
// run) and waits for the run state want.
func (m *machine) setRunState(ctx context.Context, command, want string) error {
	m.qmpMu.Lock()
	defer m.qmpMu.Unlock()
	mon, err := dialMonitor(ctx, m.stateDir, m.qemu.exited)
	if err != nil {
		return fmt.Errorf("vm %s: %w", m.id, err)
	}
	defer mon.close()
	if err := mon.run(command, nil, nil); err != nil {
		return fmt.Errorf("vm %s: %w", m.id, err)
	}
	if err := mon.waitStatus(ctx, m.qemu.exited, want); err != nil {
		return fmt.Errorf("vm %s: %w", m.id, err)
	}
	return nil
}
