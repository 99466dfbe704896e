//go:build linux

package agent

import (
	"os"
	"os/exec"
	"os/signal"
	"sync"

	"golang.org/x/sys/unix"
)

// Reaper is the one place that collects exit statuses. As PID 1 the guest
// inherits every orphan, so a single wait4(-1) loop reaps them all and hands
// each status to whoever started that pid; os/exec's Wait is never used, so
// nothing races the loop.
type Reaper struct {
	mu      sync.Mutex
	waiters map[int]chan unix.WaitStatus
}

// NewReaper starts the reaping loop.
func NewReaper() *Reaper {
	r := &Reaper{waiters: map[int]chan unix.WaitStatus{}}
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, unix.SIGCHLD)
	go func() {
		for range sigs {
			r.reapAll()
		}
	}()
	return r
}

func (r *Reaper) reapAll() {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if pid <= 0 || err != nil {
			return
		}
		r.mu.Lock()
		if ch, ok := r.waiters[pid]; ok {
			delete(r.waiters, pid)
			ch <- ws
		}
		r.mu.Unlock()
	}
}

// Start starts cmd and returns a channel that receives its wait status.
// The lock is held across Start so a child that exits at once is still
// delivered to its waiter.
func (r *Reaper) Start(cmd *exec.Cmd) (<-chan unix.WaitStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	ch := make(chan unix.WaitStatus, 1)
	r.waiters[cmd.Process.Pid] = ch
	// A SIGCHLD may have been coalesced with an earlier one: look again
	// once the waiter is registered.
	go r.reapAll()
	return ch, nil
}
