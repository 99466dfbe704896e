package qemu

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/pier-vm/pier/engine/vm"
	"github.com/pier-vm/pier/errdefs"
)

var _ vm.Adopter = (*Driver)(nil)

// Adopt takes over the VM a previous daemon started in stateDir and left
// running (QEMU and virtiofsd run in sessions of their own and outlive
// it): QEMU is found by its pid file and checked to run in stateDir, so a
// reused pid is never taken; its virtiofsd helpers likewise. The adopted
// machine is not this process's child: its end is learnt through a pidfd
// (or /proc), and how it ended is unknown (Err is nil). When no QEMU runs
// there, it returns a NotFound error and ends any virtiofsd left behind.
func (d *Driver) Adopt(ctx context.Context, id, stateDir string) (vm.Machine, error) {
	q, ok := adoptHelper(filepath.Join(stateDir, qemuPidName), stateDir, filepath.Join(stateDir, qemuLogName))
	if !ok {
		if _, err := d.KillLeftovers(ctx, stateDir); err != nil {
			return nil, err
		}
		return nil, errdefs.NotFound(fmt.Errorf("vm %s: no VM runs in %s", id, stateDir))
	}
	m := &machine{id: id, stateDir: stateDir, qemu: q, killed: make(chan struct{}), done: make(chan struct{})}
	for i := 0; ; i++ {
		pidFile := filepath.Join(stateDir, virtiofsdPidName(i))
		if _, err := os.Stat(pidFile); err != nil {
			break
		}
		f, ok := adoptHelper(pidFile, stateDir, filepath.Join(stateDir, virtiofsdLogName(i)))
		if !ok {
			// Gone already: stand in with an ended helper so the share
			// numbering (and the files removed at the end) stays right.
			f = &helper{adoptedPid: -1, pidFile: pidFile, exited: make(chan struct{})}
			close(f.exited)
		}
		m.fsds = append(m.fsds, f)
	}
	go m.supervise()
	d.log.Debug("vm adopted", "id", id, "pid", q.pid())
	return m, nil
}

// adoptHelper takes over the process whose pid pidFile holds, when it
// still runs with dir as its working directory.
func adoptHelper(pidFile, dir, logPath string) (*helper, bool) {
	pid, ok := leftoverPid(pidFile, dir)
	if !ok {
		return nil, false
	}
	h := &helper{adoptedPid: pid, pidFile: pidFile, logPath: logPath, exited: make(chan struct{})}
	go func() {
		waitExit(pid)
		close(h.exited)
	}()
	return h, true
}
