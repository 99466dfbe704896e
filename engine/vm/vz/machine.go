package vz

import (
	"context"
	"errors"
	"fmt"
	"github.com/pier-vm/pier/internal/sockpath"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/pier-vm/pier/engine/vm"
	"github.com/pier-vm/pier/errdefs"
)

var (
	_ vm.Machine = (*machine)(nil)
	_ vm.Pauser  = (*machine)(nil)
)

// errKilled is Err after Kill.
var errKilled = errors.New("vm killed")

// machine is the daemon's handle on one shim and its VM.
type machine struct {
	id        string
	stateDir  string
	pid       int
	ctlPath   string
	agentPath string
	reaped    <-chan struct{} // closed once the shim is reaped; nil if attached

	killOnce sync.Once
	killed   chan struct{} // closed by Kill
	done     chan struct{} // closed once the shim has exited
	err      error         // set before done closes
}

func newMachine(id, stateDir string, info shimInfo, reaped <-chan struct{}) (*machine, error) {
	ctl, err := sockpath.For(stateDir, info.Control)
	if err != nil {
		return nil, err
	}
	agent, err := sockpath.For(stateDir, info.Agent)
	if err != nil {
		return nil, err
	}
	m := &machine{id: id, stateDir: stateDir, pid: info.Pid, ctlPath: ctl, agentPath: agent,
		reaped: reaped, killed: make(chan struct{}), done: make(chan struct{})}
	go m.watch()
	return m, nil
}

func (m *machine) ID() string            { return m.id }
func (m *machine) Pid() int              { return m.pid }
func (m *machine) Done() <-chan struct{} { return m.done }

func (m *machine) Err() error {
	select {
	case <-m.done:
		return m.err
	default:
		return nil
	}
}

// watch holds a "wait" request open on the control socket; its answer (or
// the shim's death) ends the machine.
func (m *machine) watch() {
	var err error
	for attempt := 0; ; attempt++ {
		var resp controlResponse
		resp, err = callControl(context.Background(), m.ctlPath, opWait)
		if err == nil {
			if resp.Exit != "" {
				err = errors.New(resp.Exit)
			}
			break
		}
		if exit, ok := readExitRecord(m.stateDir); ok {
			err = nil
			if exit != "" {
				err = errors.New(exit)
			}
			break
		}
		err = fmt.Errorf("vz shim %d ended without reporting: %w", m.pid, err)
		if !m.shimAlive() || attempt >= 50 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	m.awaitShimExit()
	removeRuntimeFiles(m.stateDir)
	if isClosed(m.killed) {
		err = errKilled
	}
	m.err = err
	close(m.done)
}

// shimAlive says whether the shim process still exists.
func (m *machine) shimAlive() bool {
	if m.reaped != nil {
		return !isClosed(m.reaped)
	}
	err := syscall.Kill(m.pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// awaitShimExit gives the shim a moment to exit after its VM ended, then
// kills it and waits a bounded while more: a shim the kernel cannot reap
// must not hold the machine's end forever.
func (m *machine) awaitShimExit() {
	deadline := time.Now().Add(5 * time.Second)
	signalled := false
	for m.shimAlive() {
		if time.Now().After(deadline) {
			if signalled {
				return
			}
			m.signalShim()
			signalled = true
			deadline = time.Now().Add(5 * time.Second)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (m *machine) signalShim() {
	_ = syscall.Kill(-m.pid, syscall.SIGKILL)
	_ = syscall.Kill(m.pid, syscall.SIGKILL)
}

// Kill stops the VM at once through the shim (or, if the shim does not
// answer, kills the shim) and waits until the shim has exited.
func (m *machine) Kill() error {
	m.killOnce.Do(func() {
		if isClosed(m.done) {
			return
		}
		close(m.killed)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := callControl(ctx, m.ctlPath, opKill); err != nil && !isClosed(m.done) {
			m.signalShim()
		}
	})
	select {
	case <-m.done:
		return nil
	case <-time.After(30 * time.Second):
		return fmt.Errorf("vm %s: shim %d not gone 30 s after kill", m.id, m.pid)
	}
}

// Pause stops the VM's vCPUs through the shim.
func (m *machine) Pause(ctx context.Context) error {
	if _, err := callControl(ctx, m.ctlPath, opPause); err != nil {
		return fmt.Errorf("vm %s: %w", m.id, err)
	}
	return nil
}

// Resume lets the VM's vCPUs run again through the shim.
func (m *machine) Resume(ctx context.Context) error {
	if _, err := callControl(ctx, m.ctlPath, opResume); err != nil {
		return fmt.Errorf("vm %s: %w", m.id, err)
	}
	return nil
}

// DialAgent connects to the shim's agent socket, retrying briefly while it
// is busy or not there yet, until ctx ends or the VM exits.
func (m *machine) DialAgent(ctx context.Context) (net.Conn, error) {
	for {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "unix", m.agentPath)
		if err == nil {
			return conn, nil
		}
		if !errors.Is(err, syscall.ENOENT) && !errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("vm %s: dial agent: %w", m.id, err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("vm %s: dial agent: %w", m.id, ctx.Err())
		case <-m.done:
			return nil, errdefs.Unavailable(fmt.Errorf("vm %s: dial agent: vm exited", m.id))
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
